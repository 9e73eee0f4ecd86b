import numpy as np
import pytest
from django.core.files.base import ContentFile

from translation.audio.wav import wav_bytes_from_float32
from translation.models import Translation

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
