"""One utterance through the models: language ID (auto only) → Canary → Silero.

Knows the engines' interfaces and nothing of Django. Timings use a monotonic clock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from workers.engines.base import (
    EngineError,
    Lang,
    LanguageIdentifier,
    SpeechSynthesizer,
    SpeechTranslator,
)

logger = logging.getLogger(__name__)


def other_language(lang: Lang) -> Lang:
    return "ru" if lang == "en" else "en"


@dataclass
class PipelineResult:
    src: Lang
    tgt: Lang
    text: str
    source_text: str | None
    audio: np.ndarray | None  # None when TTS failed or there was nothing to say
    sample_rate: int | None
    tts_failed: bool
    tts_error: str = ""
    voice: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    meta: dict[str, object] = field(default_factory=dict)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 2)


class TranslationPipeline:
    """Runs the engines for one utterance. Engines are passed in already loaded (or lazily
    loaded by the callables), so a load failure surfaces as `EngineUnavailable`."""

    def __init__(
        self,
        *,
        translator: SpeechTranslator,
        synthesizer: SpeechSynthesizer,
        identifier: LanguageIdentifier | None,
        with_source_text: bool = True,
    ) -> None:
        self.translator = translator
        self.synthesizer = synthesizer
        self.identifier = identifier
        self.with_source_text = with_source_text

    def run(
        self,
        audio: np.ndarray,
        *,
        src: str,
        tgt: str | None,
        voices: Mapping[str, str] | None = None,
    ) -> PipelineResult:
        """`voices` maps a target language to a voice; the target may only be known after
        language ID, so the choice is made here."""
        started = time.perf_counter()
        timings: dict[str, float] = {}
        meta: dict[str, object] = {}

        if src == "auto":
            if self.identifier is None:
                raise EngineError("source language 'auto' needs a language-ID model")
            t0 = time.perf_counter()
            guess = self.identifier.identify(audio)
            timings["lid_ms"] = _ms(t0)
            meta["lid"] = {
                "lang": guess.lang,
                "confidence": round(guess.confidence, 4),
                **guess.meta,
            }
            source: Lang = guess.lang
        else:
            source = src  # type: ignore[assignment]
        target: Lang = tgt or other_language(source)  # type: ignore[assignment]

        t0 = time.perf_counter()
        ast = self.translator.translate(
            audio, src=source, tgt=target, with_source_text=self.with_source_text
        )
        timings["ast_ms"] = _ms(t0)
        meta["ast"] = dict(ast.meta)
        text = ast.text.strip()

        voice = (voices or {}).get(target) or None
        speech_audio: np.ndarray | None = None
        sample_rate: int | None = None
        tts_failed = False
        tts_error = ""
        t0 = time.perf_counter()
        if text:
            try:
                speech = self.synthesizer.synthesize(text, lang=target, voice=voice)
                speech_audio, sample_rate = speech.audio, speech.sample_rate
                meta["tts"] = dict(speech.meta)
            except Exception as exc:
                logger.exception("TTS failed for %d characters of %s", len(text), target)
                tts_failed = True
                tts_error = f"speech synthesis failed: {exc}"
        else:
            tts_failed = True
            tts_error = "the translation is empty: nothing to speak"
        timings["tts_ms"] = _ms(t0)
        timings["total_ms"] = _ms(started)
        return PipelineResult(
            src=source,
            tgt=target,
            text=text,
            source_text=(ast.source_text or "").strip() or None,
            audio=speech_audio,
            sample_rate=sample_rate,
            tts_failed=tts_failed,
            tts_error=tts_error,
            voice=voice,
            timings=timings,
            meta=meta,
        )

    def caption(self, audio: np.ndarray, *, src: str, tgt: str | None) -> CaptionResult:
        """A partial (live caption) of an utterance still being spoken: the translation and the
        source transcript only; no speech synthesis. Language ID runs only when `src` is
        still `auto` (a session's first partial of an utterance)."""
        started = time.perf_counter()
        timings: dict[str, float] = {}
        if src == "auto":
            if self.identifier is None:
                raise EngineError("source language 'auto' needs a language-ID model")
            t0 = time.perf_counter()
            source: Lang = self.identifier.identify(audio).lang
            timings["lid_ms"] = _ms(t0)
        else:
            source = src  # type: ignore[assignment]
        target: Lang = tgt or other_language(source)  # type: ignore[assignment]
        t0 = time.perf_counter()
        ast = self.translator.translate(
            audio, src=source, tgt=target, with_source_text=self.with_source_text
        )
        timings["ast_ms"] = _ms(t0)
        timings["total_ms"] = _ms(started)
        return CaptionResult(
            src=source,
            tgt=target,
            text=ast.text.strip(),
            source_text=(ast.source_text or "").strip(),
            timings=timings,
        )


@dataclass
class CaptionResult:
    src: Lang
    tgt: Lang
    text: str
    source_text: str
    timings: dict[str, float] = field(default_factory=dict)
