"""One utterance through the models: language ID (auto only) → Canary → Silero.

Knows the engines' interfaces and nothing of Django. Timings use a monotonic clock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from workers.engines.base import (
    EngineError,
    EngineUnavailable,
    Lang,
    LanguageIdentifier,
    SpeechSynthesizer,
    SpeechTranslator,
)
from workers.engines.textnorm import split_sentences

logger = logging.getLogger(__name__)

NO_SPEECH = "no speech found: nothing to translate"


def other_language(lang: Lang) -> Lang:
    return "ru" if lang == "en" else "en"


@dataclass
class TextResult:
    """What the translator said (after language ID): ready before any speech is synthesized."""

    src: Lang
    tgt: Lang
    text: str
    source_text: str | None
    voice: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    meta: dict[str, object] = field(default_factory=dict)
    no_speech: bool = False  # Canary heard nothing to translate: no TTS, not an error


@dataclass
class SpeechPiece:
    """One sentence (or a few short ones) of the translation, spoken. `audio` is None when
    this piece could not be synthesized; `error` says why."""

    index: int
    text: str
    audio: np.ndarray | None
    sample_rate: int | None
    error: str = ""
    meta: dict[str, float] = field(default_factory=dict)


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
    no_speech: bool = False  # Canary heard nothing to translate: no TTS, not an error


# A piece is one sentence, or several short ones packed up to this many characters; a longer
# sentence is cut at clause marks. Small enough that the first piece is spoken in well under a
# second on a GPU, large enough that short sentences are not each a separate synthesis call.
PIECE_MAX_CHARS = 160
PAUSE_S = 0.2  # silence before every piece but the first, as between sentences


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 2)


def speech_pieces_of(text: str) -> list[str]:
    """The translation cut into the pieces spoken one by one, in reading order."""
    return [p for p in split_sentences(text, PIECE_MAX_CHARS) if any(c.isalnum() for c in p)]


class TranslationPipeline:
    """Runs the engines for one utterance. Engines are passed in already loaded (or lazily
    loaded by the callables), so a load failure surfaces as `EngineUnavailable`.

    `translate` gives the text (language ID + Canary); `speak` then synthesizes it piece by
    piece, so the caller can send the text, and each piece, as soon as it exists. `run` does
    both and joins the audio (files, tests)."""

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

    def translate(
        self,
        audio: np.ndarray,
        *,
        src: str,
        tgt: str | None,
        voices: Mapping[str, str] | None = None,
    ) -> TextResult:
        """`voices` maps a target language to a voice; the target may only be known after
        language ID, so the choice is made here."""
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
        no_speech = ast.no_speech or not text
        if no_speech:
            meta["no_speech"] = True
        return TextResult(
            src=source,
            tgt=target,
            text=text,
            source_text=(ast.source_text or "").strip() or None,
            voice=(voices or {}).get(target) or None,
            timings=timings,
            meta=meta,
            no_speech=no_speech,
        )

    def speak(self, text: str, *, lang: Lang, voice: str | None) -> Iterator[SpeechPiece]:
        """Synthesize `text` piece by piece (see `speech_pieces_of`), yielding each as soon as
        it is spoken. A piece that fails is yielded with its error and the next is tried; an
        engine that cannot load ends the speech there."""
        spoken_before = False
        for index, piece_text in enumerate(speech_pieces_of(text)):
            try:
                speech = self.synthesizer.synthesize(piece_text, lang=lang, voice=voice)
            except Exception as exc:
                logger.exception("TTS failed for %d characters of %s", len(piece_text), lang)
                yield SpeechPiece(index, piece_text, None, None, f"speech synthesis failed: {exc}")
                if isinstance(exc, EngineUnavailable):
                    return
                continue
            audio = np.asarray(speech.audio, dtype=np.float32)
            if spoken_before:
                pause = np.zeros(int(PAUSE_S * speech.sample_rate), dtype=np.float32)
                audio = np.concatenate([pause, audio])
            spoken_before = True
            yield SpeechPiece(index, piece_text, audio, speech.sample_rate, meta=dict(speech.meta))

    def run(
        self,
        audio: np.ndarray,
        *,
        src: str,
        tgt: str | None,
        voices: Mapping[str, str] | None = None,
    ) -> PipelineResult:
        """The whole utterance: text, then all its speech joined into one waveform."""
        started = time.perf_counter()
        text = self.translate(audio, src=src, tgt=tgt, voices=voices)
        if text.no_speech:
            return PipelineResult(
                src=text.src,
                tgt=text.tgt,
                text="",
                source_text=text.source_text,
                audio=None,
                sample_rate=None,
                tts_failed=False,
                tts_error=NO_SPEECH,
                voice=text.voice,
                timings={**text.timings, "total_ms": _ms(started)},
                meta=text.meta,
                no_speech=True,
            )
        t0 = time.perf_counter()
        speech = SpokenTranslation.of(self.speak(text.text, lang=text.tgt, voice=text.voice))
        timings = {**text.timings, "tts_ms": _ms(t0), "total_ms": _ms(started)}
        return PipelineResult(
            src=text.src,
            tgt=text.tgt,
            text=text.text,
            source_text=text.source_text,
            audio=speech.audio,
            sample_rate=speech.sample_rate,
            tts_failed=speech.audio is None,
            tts_error=speech.error,
            voice=text.voice,
            timings=timings,
            meta={**text.meta, **({"tts": speech.meta} if speech.meta else {})},
        )

    def caption(self, audio: np.ndarray, *, src: str, tgt: str | None) -> CaptionResult:
        """A partial (live caption) of an utterance still being spoken: `translate` without
        speech synthesis. Language ID runs only when `src` is still `auto` (a session's first
        partial of an utterance)."""
        started = time.perf_counter()
        text = self.translate(audio, src=src, tgt=tgt)
        return CaptionResult(
            src=text.src,
            tgt=text.tgt,
            text=text.text,
            source_text=text.source_text or "",
            timings={**text.timings, "total_ms": _ms(started)},
        )


@dataclass
class SpokenTranslation:
    """The pieces of one translation, joined: the whole waveform and what went wrong."""

    audio: np.ndarray | None = None
    sample_rate: int | None = None
    pieces: int = 0
    failed: int = 0
    error: str = ""
    meta: dict[str, float] = field(default_factory=dict)
    _parts: list[np.ndarray] = field(default_factory=list, repr=False)

    def add(self, piece: SpeechPiece) -> None:
        """Take one piece (in order); call `finish` after the last."""
        self.pieces += 1
        if piece.audio is None or piece.sample_rate is None:
            self.failed += 1
            self.error = self.error or piece.error
            return
        if self.sample_rate is None:
            self.sample_rate = piece.sample_rate
        self._parts.append(piece.audio)
        for key, value in piece.meta.items():
            if key in ("tts_ms", "chunks", "chars", "audio_s"):
                self.meta[key] = round(self.meta.get(key, 0.0) + value, 3)
            else:
                self.meta[key] = value

    def finish(self) -> SpokenTranslation:
        if self._parts:
            self.audio = np.clip(np.concatenate(self._parts), -1.0, 1.0).astype(np.float32)
        elif not self.error:
            self.error = "the translation is empty: nothing to speak"
        if self.failed and self._parts:
            self.error = f"{self.failed} of {self.pieces} sentences could not be spoken: " + (
                self.error
            )
        self._parts = []
        return self

    @classmethod
    def of(cls, pieces: Iterator[SpeechPiece]) -> SpokenTranslation:
        spoken = cls()
        for piece in pieces:
            spoken.add(piece)
        return spoken.finish()


@dataclass
class CaptionResult:
    src: Lang
    tgt: Lang
    text: str
    source_text: str
    timings: dict[str, float] = field(default_factory=dict)
