"""The staff-only history page: sessions with their utterances, players and export links."""

from __future__ import annotations

import uuid

from django.core.files.base import ContentFile

from translation.models import Translation


def test_history_page_is_for_staff_only(client, db, django_user_model):
    response = client.get("/history")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(django_user_model.objects.create_user("user", password="pw"))
    assert client.get("/history").status_code == 302


def test_history_lists_sessions_with_players_and_exports(admin_client, db):
    session = uuid.uuid4().hex
    row = Translation.objects.create(
        source="live",
        session_id=session,
        seq=0,
        status="done",
        src_lang="en",
        tgt_lang="ru",
        source_text="Good morning.",
        text="Доброе утро.",
        stream_start_s=1.2,
        stream_end_s=2.6,
    )
    row.input_audio.save("in.wav", ContentFile(b"RIFF"), save=False)
    row.output_audio.save("out.wav", ContentFile(b"RIFF"), save=True)
    Translation.objects.create(source="upload", status="done", text="not a session")

    response = admin_client.get("/history")
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('class="session card"') == 1
    assert (
        "Good morning." in page
        and "Доброе утро." in page
        and "1.2–2.6 s" in page
        and "EN → RU" in page
    )
    assert f'src="/history/{row.id}/input.wav"' in page
    assert f'src="/history/{row.id}/output.wav"' in page
    for fmt in ("srt", "vtt", "txt", "json"):
        assert f'href="/api/sessions/{session}/transcript?format={fmt}"' in page
    assert "not a session" not in page
    assert 'href="/history" aria-current="page"' in page
