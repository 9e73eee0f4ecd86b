"""The pages: live and upload render the shared voice list."""


def test_pages_render_the_shared_voice_list(client, db, settings):
    """The voice pickers (static/js/voices.js) read translation.constants through json_script."""
    import json
    import re

    from translation.constants import LANG_NAMES, VOICES

    settings.TTS_VOICE_RU = "xenia"
    for page in ("/", "/upload"):
        html = client.get(page).content.decode()
        raw = re.search(
            r'<script id="voice-catalogue" type="application/json">(.*?)</script>', html
        )
        assert raw, page
        catalogue = json.loads(raw.group(1))
        assert catalogue["voices"] == {lang: list(names) for lang, names in VOICES.items()}
        assert catalogue["defaults"] == {"ru": "xenia", "en": settings.TTS_VOICE_EN}
        assert catalogue["names"] == LANG_NAMES
