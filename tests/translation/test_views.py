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


def test_pages_render_the_shared_voice_list(client, db, settings):
    """The voice pickers (static/js/voices.js) read translation.constants through json_script."""
    import json
    import re

    from translation.constants import LANG_NAMES, VOICES

    settings.TTS_VOICE_RU = "piper:ru_RU-irina-medium"
    for page in ("/", "/upload"):
        html = client.get(page).content.decode()
        raw = re.search(
            r'<script id="voice-catalogue" type="application/json">(.*?)</script>', html
        )
        assert raw, page
        catalogue = json.loads(raw.group(1))
        assert catalogue["voices"] == {lang: list(names) for lang, names in VOICES.items()}
        assert catalogue["defaults"] == {
            "ru": "piper:ru_RU-irina-medium",
            "en": settings.TTS_VOICE_EN,
        }
        assert catalogue["names"] == LANG_NAMES
        assert set(catalogue["details"]) == {v for names in VOICES.values() for v in names}
        assert catalogue["details"]["piper:ru_RU-irina-medium"]["name"] == "Irina (female)"
        assert catalogue["details"]["piper:ru_RU-irina-medium"]["engine"] == "piper"
        assert catalogue["details"]["en_3"] == {
            "name": "Speaker 3",
            "engine": "silero",
            "licence": "CC BY-NC-SA 4.0 (non-commercial)",
        }
