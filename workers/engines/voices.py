"""The synthesizer the pipeline gets: each request goes to the engine of its voice.

Voices are chosen per language (TTS_VOICE_RU / TTS_VOICE_EN, or per session/upload) from
`translation.constants.VOICE_CATALOGUE`, which names each voice's engine: bare ids such as
`baya` or `en_0` are Silero's, `piper:<name>` ids Piper's. An engine is built only when one of
its voices is first asked for (the defaults' engines at start-up), so a worker whose voices are
all Piper never loads torch for Silero.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from translation.constants import DEFAULT_VOICES, VOICE_CATALOGUE, VOICES
from workers.engines.base import (
    LANGS,
    EngineError,
    EngineUnavailable,
    Lang,
    Speech,
    SpeechSynthesizer,
)

EngineFactory = Callable[[], SpeechSynthesizer]


def check_voice(lang: Lang, voice: str) -> str:
    """`voice` if it is an offered voice of `lang`, else an EngineError that says which are."""
    info = VOICE_CATALOGUE.get(voice)
    if info is None or info.lang != lang:
        sample = ", ".join(VOICES[lang][:5])
        raise EngineError(f"unknown {lang} voice {voice!r} (e.g. {sample})")
    return voice


class VoiceRouter:
    """`synthesize(text, lang=, voice=)` by the engine that speaks `voice` (None: the
    language's default voice)."""

    def __init__(
        self, engines: Mapping[str, EngineFactory], *, default_voices: Mapping[str, str]
    ) -> None:
        self._factories = dict(engines)
        self.default_voices: dict[Lang, str] = dict(DEFAULT_VOICES)
        for lang in LANGS:
            voice = default_voices.get(lang)
            if not voice:
                continue
            try:
                self.default_voices[lang] = check_voice(lang, voice)
            except EngineError as exc:
                raise EngineUnavailable(f"TTS_VOICE_{lang.upper()}: {exc}") from exc
        self._engines: dict[str, SpeechSynthesizer] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any) -> VoiceRouter:
        from workers.engines.piper import PiperSynthesizer
        from workers.engines.silero import SileroSynthesizer

        router = cls(
            {
                "silero": lambda: SileroSynthesizer.from_settings(settings),
                "piper": lambda: PiperSynthesizer.from_settings(settings),
            },
            default_voices={"ru": settings.TTS_VOICE_RU, "en": settings.TTS_VOICE_EN},
        )
        router.preload()
        return router

    def preload(self) -> None:
        """Build the engines of the default voices now (worker start-up)."""
        for voice in self.default_voices.values():
            self.engine_for(voice)

    def engine_for(self, voice: str) -> SpeechSynthesizer:
        engine_name = VOICE_CATALOGUE[voice].engine
        with self._lock:
            if engine_name not in self._engines:
                factory = self._factories.get(engine_name)
                if factory is None:
                    raise EngineUnavailable(f"no {engine_name} engine for the voice {voice!r}")
                try:
                    self._engines[engine_name] = factory()
                except EngineError:
                    raise
                except Exception as exc:  # an engine that cannot load fails its voices only
                    raise EngineUnavailable(
                        f"could not load the {engine_name} engine: {type(exc).__name__}: {exc}"
                    ) from exc
            return self._engines[engine_name]

    def synthesize(self, text: str, *, lang: Lang, voice: str | None = None) -> Speech:
        if lang not in LANGS:
            raise EngineError(f"unsupported TTS language {lang!r}: expected one of {list(LANGS)}")
        chosen = check_voice(lang, voice) if voice else self.default_voices[lang]
        return self.engine_for(chosen).synthesize(text, lang=lang, voice=chosen)
