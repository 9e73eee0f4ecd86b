"""Facts shared by the web tier, the workers and the UI: languages, voices, the models' sample
rate, the accepted stream rates, and the names of the Celery tasks and queues.

Defined here once; Django-free and import-free, so the engines, the protocol schema, the audio
code, the serializers and the settings all import it (the live page gets the voices through
`json_script`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Lang = Literal["en", "ru"]
SourceLang = Literal["auto", "en", "ru"]
LANGS: tuple[Lang, ...] = ("en", "ru")
LANG_NAMES: dict[str, str] = {"en": "English", "ru": "Russian", "auto": "Auto"}

# A call: two lanes ("me" → them, "them" → me), each its own /ws/translate connection, tied
# by a client-made id of 128 random bits.
Speaker = Literal["me", "them"]
SPEAKERS: tuple[Speaker, ...] = ("me", "them")
SPEAKER_NAMES: dict[str, str] = {"me": "Me", "them": "Them"}
CALL_ID_PATTERN = r"^[0-9a-f]{32}$"

MODEL_SAMPLE_RATE = 16_000
"""The rate Canary, the language ID and the VAD expect."""

MIN_STREAM_RATE = 8_000
MAX_STREAM_RATE = 96_000
"""The sample rates a live stream may declare in its control message."""


@dataclass(frozen=True)
class Voice:
    """One voice the product offers: its id (what settings, the API and the protocol name),
    the engine that speaks it, a name people can read and the licence of its weights (read
    from its model card; README "Licences")."""

    id: str
    lang: Lang
    engine: str  # "silero" or "piper" (workers/engines/<engine>.py)
    name: str
    licence: str


# Silero voices by target language: ru the v5_ru family, en the v3_en one. The worker checks at
# load that the installed packages offer exactly these (workers/engines/silero.py).
SILERO_VOICES: dict[Lang, tuple[str, ...]] = {
    "ru": ("aidar", "baya", "kseniya", "xenia", "eugene"),
    "en": tuple(f"en_{i}" for i in range(118)),
}
SILERO_LICENCE = "CC BY-NC-SA 4.0 (non-commercial)"
_SILERO_NAMES = {
    "aidar": "Aidar (male)",
    "baya": "Baya (female)",
    "kseniya": "Kseniya (female)",
    "xenia": "Xenia (female)",
    "eugene": "Eugene (male)",
}

# Piper voices (ONNX VITS, workers/engines/piper.py): an id is "piper:" and Piper's own voice
# name, `<lang>_<REGION>-<dataset>-<quality>`. Each licence is its model card's (MODEL_CARD in
# rhasspy/piper-voices, fetched beside the voice).
PIPER_PREFIX = "piper:"
UNVERIFIED = "licence unverified: read its MODEL_CARD"
_PIPER: tuple[tuple[Lang, str, str, str], ...] = (
    ("ru", "ru_RU-denis-medium", "Denis (male)", UNVERIFIED),
    ("ru", "ru_RU-dmitri-medium", "Dmitri (male)", UNVERIFIED),
    ("ru", "ru_RU-irina-medium", "Irina (female)", UNVERIFIED),
    ("ru", "ru_RU-ruslan-medium", "Ruslan (male)", UNVERIFIED + " (RUSLAN corpus)"),
    ("en", "en_US-lessac-medium", "Lessac (US, female)", "Blizzard 2013 Lessac data licence"),
    ("en", "en_US-amy-medium", "Amy (US, female)", UNVERIFIED),
    ("en", "en_US-ryan-medium", "Ryan (US, male)", UNVERIFIED),
    ("en", "en_GB-alan-medium", "Alan (UK, male)", UNVERIFIED),
)
PIPER_VOICES: dict[Lang, tuple[str, ...]] = {
    lang: tuple(PIPER_PREFIX + key for voice_lang, key, _, _ in _PIPER if voice_lang == lang)
    for lang in LANGS
}

VOICE_CATALOGUE: dict[str, Voice] = {
    **{
        voice: Voice(
            voice,
            lang,
            "silero",
            _SILERO_NAMES.get(voice, f"Speaker {voice.removeprefix('en_')}"),
            SILERO_LICENCE,
        )
        for lang in LANGS
        for voice in SILERO_VOICES[lang]
    },
    **{
        PIPER_PREFIX + key: Voice(PIPER_PREFIX + key, lang, "piper", name, licence)
        for lang, key, name, licence in _PIPER
    },
}
"""Every voice offered, by id: the UI lists them with engine, name and licence."""

VOICES: dict[Lang, tuple[str, ...]] = {
    lang: SILERO_VOICES[lang] + PIPER_VOICES[lang] for lang in LANGS
}
"""The ids of every voice of a target language, all engines (the protocol and API accept
these)."""
DEFAULT_VOICES: dict[Lang, str] = {"ru": "baya", "en": "en_0"}

# Celery: the web tier sends tasks by these names; workers consume both queues.
TRANSLATE_TASK = "translation.translate"
FINALS_QUEUE = "gpu"
CAPTION_TASK = "translation.caption"
CAPTIONS_QUEUE = "captions"
PURGE_HISTORY_TASK = "translation.purge_history"
"""Periodic (celery beat): the retention purge, on the `gpu` queue between utterances."""
