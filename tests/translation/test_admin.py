import os

import numpy as np
import pytest
from django.core.files.base import ContentFile

from translation.audio.wav import wav_bytes_from_float32
from translation.models import Call, Translation

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows():
    wav = wav_bytes_from_float32(np.zeros(1600, dtype=np.float32), 16_000)
    done = Translation(
        src_lang="en",
        tgt_lang="ru",
        status="done",
        source_text="good morning",
        text="доброе утро",
        timings={"total_ms": 42.0},
    )
    done.input_audio.save("in.wav", ContentFile(wav), save=False)
    done.output_audio.save("out.wav", ContentFile(wav), save=False)
    done.save()
    failed = Translation.objects.create(
        source="upload", src_lang="ru", tgt_lang="en", status="failed", error="model missing"
    )
    return done, failed


def test_history_needs_a_staff_login(client, rows):
    response = client.get("/admin/translation/translation/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    done, _ = rows
    assert client.get(f"/history/{done.id}/input.wav").status_code == 302


def test_list_filters_and_searches_both_texts(admin_client, rows):
    done, failed = rows
    page = admin_client.get("/admin/translation/translation/").content.decode()
    assert "доброе утро" in page and "good morning" in page and "model missing" not in page
    by_direction = admin_client.get("/admin/translation/translation/?direction=ru->en")
    assert list(by_direction.context["cl"].result_list) == [failed]
    by_status = admin_client.get("/admin/translation/translation/?status__exact=done")
    assert list(by_status.context["cl"].result_list) == [done]
    for query in ("утро", "morning"):
        found = admin_client.get(f"/admin/translation/translation/?q={query}")
        assert list(found.context["cl"].result_list) == [done]


def test_detail_is_read_only_with_players(admin_client, rows):
    done, _ = rows
    page = admin_client.get(f"/admin/translation/translation/{done.id}/change/").content.decode()
    assert f'src="/history/{done.id}/input.wav"' in page
    assert f'src="/history/{done.id}/output.wav"' in page
    assert 'name="text"' not in page  # no editable fields
    audio = admin_client.get(f"/history/{done.id}/output.wav")
    assert audio.status_code == 200 and audio["Content-Type"] == "audio/wav"
    assert b"".join(audio.streaming_content)[:4] == b"RIFF"
    assert admin_client.get("/admin/translation/translation/add/").status_code == 403


def test_list_is_headed_by_the_queue(admin_client, monkeypatch):
    from translation.jobs import capacity

    monkeypatch.setattr(capacity, "monitor", capacity.CapacityMonitor())
    Translation.objects.create(status="queued", duration_s=2.0)
    Translation.objects.create(status="queued", duration_s=1.0)
    page = admin_client.get("/admin/translation/translation/").content.decode()
    assert 'id="backlog"' in page and "Queue: 2 waiting" in page
    assert "workers&#x27; rate not measured yet" in page or "workers' rate not measured yet" in page


def test_a_call_lists_both_lanes_and_links_its_transcript(admin_client):
    call = Call.objects.create(id="ab" * 16)
    for speaker, start, text in [("them", 3.0, "Good afternoon."), ("me", 0.5, "Здравствуйте.")]:
        Translation.objects.create(
            call=call, speaker=speaker, status="done", text=text, stream_start_s=start
        )
    listing = admin_client.get("/admin/translation/call/").content.decode()
    assert call.id in listing and "Me, Them" in listing
    page = admin_client.get(f"/admin/translation/call/{call.id}/change/").content.decode()
    assert page.index("Здравствуйте.") < page.index("Good afternoon.")  # the call's clock
    assert f'href="/api/calls/{call.id}/transcript?format=vtt"' in page
    assert admin_client.get("/admin/translation/call/add/").status_code == 403
    by_lane = admin_client.get("/admin/translation/translation/?speaker__exact=them")
    assert [row.text for row in by_lane.context["cl"].result_list] == ["Good afternoon."]


def test_the_admin_shows_what_is_kept_until_when(admin_client, rows, settings):
    settings.HISTORY_RETENTION_DAYS, settings.HISTORY_TEXT_RETENTION_DAYS = 30, 365
    done, _ = rows
    page = admin_client.get("/admin/translation/translation/").content.decode()
    assert "kept until" in page.lower() and "audio until " in page
    detail = admin_client.get(f"/admin/translation/translation/{done.id}/change/").content.decode()
    assert "Retention" in detail and "text until " in detail


def test_deleting_in_the_admin_deletes_the_recordings(admin_client, rows, settings):
    done, failed = rows
    files = [done.input_audio.path, done.output_audio.path]
    response = admin_client.post(
        "/admin/translation/translation/",
        {"action": "delete_selected", "_selected_action": [done.pk, failed.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert Translation.objects.count() == 0
    assert not any(os.path.exists(path) for path in files)
