"""Facts shared by the web tier, the workers and the UI: languages, voices, the models' sample
rate, the accepted stream rates, and the names of the Celery tasks and queues.

Defined here once; Django-free and import-free, so the engines, the protocol schema, the audio
code, the serializers and the settings all import it (the live page gets the voices through
`json_script`).
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["en", "ru"]
SourceLang = Literal["auto", "en", "ru"]
LANGS: tuple[Lang, ...] = ("en", "ru")
LANG_NAMES: dict[str, str] = {"en": "English", "ru": "Russian", "auto": "Auto"}

MODEL_SAMPLE_RATE = 16_000
"""The rate Canary, the language ID and the VAD expect."""

MIN_STREAM_RATE = 8_000
MAX_STREAM_RATE = 96_000
"""The sample rates a live stream may declare in its control message."""

# Silero voices by target language: ru the v5_ru family, en the v3_en one. The worker checks at
# load that the installed packages offer exactly these (workers/engines/silero.py).
VOICES: dict[Lang, tuple[str, ...]] = {
    "ru": ("aidar", "baya", "kseniya", "xenia", "eugene"),
    "en": tuple(f"en_{i}" for i in range(118)),
}
DEFAULT_VOICES: dict[Lang, str] = {"ru": "baya", "en": "en_0"}

# Celery: the web tier sends tasks by these names; workers consume both queues.
TRANSLATE_TASK = "translation.translate"
FINALS_QUEUE = "gpu"
CAPTION_TASK = "translation.caption"
CAPTIONS_QUEUE = "captions"
PURGE_HISTORY_TASK = "translation.purge_history"
"""Periodic (celery beat): the retention purge, on the `gpu` queue between utterances."""
