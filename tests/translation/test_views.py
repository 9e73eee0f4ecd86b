"""The pages: live, call and upload render the shared voice list; the call page its lanes."""


def test_pages_render_the_shared_voice_list(client, db, settings):
    """The voice pickers (static/js/voices.js) read translation.constants through json_script."""
    import json
    import re

    from translation.constants import LANG_NAMES, VOICES

    settings.TTS_VOICE_RU = "piper:ru_RU-irina-medium"
    for page in ("/", "/call", "/upload"):
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


def test_the_call_page_has_both_lanes_and_their_pickers(client, db):
    page = client.get("/call").content.decode()
    for speaker in ("me", "them"):
        for part in ("input", "mode", "voice", "output"):
            assert f'id="{speaker}-{part}" data-role="{part}"' in page
    assert 'id="voice-catalogue"' in page and "js/call.js" in page
    assert 'href="/call" aria-current="page"' in page


def test_the_live_page_offers_keep_recordings_unless_the_server_keeps_none(client, db, settings):
    settings.STORE_AUDIO = True
    html = client.get("/").content.decode()
    assert '<input type="checkbox" id="keep-recordings" checked>' in html
    settings.STORE_AUDIO = False
    html = client.get("/").content.decode()
    assert '<input type="checkbox" id="keep-recordings" disabled>' in html
    assert "this server keeps none" in html


def test_readyz_is_ready_embedded_and_503_while_no_worker_consumes(client, settings, monkeypatch):
    from translation.jobs import liveness

    assert client.get("/readyz").json() == {"status": "ready"}  # embedded: this process works
    settings.EMBEDDED = False
    workers = iter([0, 1])
    monkeypatch.setattr(liveness, "live_worker_count", lambda: next(workers))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "not ready",
        "reason": "no worker is consuming the gpu queue",
    }
    assert client.get("/readyz").status_code == 200

    def unreadable() -> int:
        raise liveness.LivenessUnknown("ConnectionError: refused")

    monkeypatch.setattr(liveness, "live_worker_count", unreadable)
    response = client.get("/readyz")
    assert response.status_code == 503
    reason = response.json()["reason"]
    assert reason == "the broker (Redis) cannot be read: ConnectionError: refused"
