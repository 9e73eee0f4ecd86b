"""The small typed surface every model engine offers the pipeline.

Engines know nothing of Django: they are built from plain values (`from_settings` reads a
settings object but only its attributes) and take/return numpy arrays and strings. Heavy
imports (torch, NeMo) live inside each engine module, never here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

# Shared with the web tier (a Django-free module), re-exported for the engines.
from translation.constants import LANGS as LANGS
from translation.constants import MODEL_SAMPLE_RATE as MODEL_SAMPLE_RATE
from translation.constants import Lang as Lang


class EngineError(RuntimeError):
    """An engine failed on one input; the worker reports it for that utterance only."""


class EngineUnavailable(EngineError):
    """An engine could not be loaded. The message says what the operator should do."""


@dataclass(frozen=True)
class SpeechTranslation:
    """Canary's answer for one utterance. `no_speech`: the model heard nothing to translate
    (an empty output, or only special tokens such as `<|nospeech|>`); `text` is then empty."""

    text: str
    source_text: str | None = None
    no_speech: bool = False
    meta: dict[str, float] = field(default_factory=dict)  # load_ms, inference_ms, ...


@dataclass(frozen=True)
class TranslationRequest:
    """One utterance for a batch: 16 kHz mono float32 `audio`, `src` speech to `tgt` text,
    and (optionally) the `src` transcript from the same encoder pass."""

    audio: np.ndarray
    src: Lang
    tgt: Lang
    with_source_text: bool = True

    @property
    def audio_s(self) -> float:
        return len(self.audio) / MODEL_SAMPLE_RATE


def is_out_of_memory(exc: BaseException) -> bool:
    """A device out of memory: torch's `OutOfMemoryError` (a RuntimeError) or the plain
    RuntimeError other builds and devices raise, both saying "out of memory"."""
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def joined(parts: Sequence[SpeechTranslation], *, with_source_text: bool) -> SpeechTranslation:
    """The translations of an utterance's pieces, in order, as one."""
    text = " ".join(p.text for p in parts if p.text)
    source = " ".join(p.source_text for p in parts if p.source_text)
    meta: dict[str, float] = {}
    for part in parts:
        for key, value in part.meta.items():
            summed = key in ("inference_ms", "audio_s", "chunks")
            meta[key] = round(meta.get(key, 0.0) + value, 3) if summed else value
    return SpeechTranslation(
        text=text,
        source_text=source if with_source_text else None,
        no_speech=not text,
        meta=meta,
    )


@dataclass(frozen=True)
class Speech:
    """Synthesised audio: mono float32 in [-1, 1]."""

    audio: np.ndarray
    sample_rate: int
    meta: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class LanguageGuess:
    lang: Lang
    confidence: float
    meta: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class SpeechTranslator(Protocol):
    """Speech (16 kHz mono float32) in one language → text in another."""

    def translate(
        self, audio: np.ndarray, *, src: Lang, tgt: Lang, with_source_text: bool = True
    ) -> SpeechTranslation: ...


@runtime_checkable
class BatchSpeechTranslator(Protocol):
    """A translator that takes several utterances in one call (one model pass). A request
    that is not valid gets its EngineError in its place; running out of device memory raises
    (the caller splits the batch and retries)."""

    def translate_batch(
        self, requests: Sequence[TranslationRequest]
    ) -> list[SpeechTranslation | EngineError]: ...


@runtime_checkable
class SpeechSynthesizer(Protocol):
    """Text → speech in a given language and voice (None: the configured default voice)."""

    def synthesize(self, text: str, *, lang: Lang, voice: str | None = None) -> Speech: ...


@runtime_checkable
class LanguageIdentifier(Protocol):
    """Which of en/ru is spoken in a 16 kHz mono float32 utterance."""

    def identify(self, audio: np.ndarray) -> LanguageGuess: ...
