"""Test doubles for the model engines, injected through settings (RUTRANS_TRANSLATOR etc.).

Never a production default: the settings point at the real engines unless a test says otherwise.
"""

from __future__ import annotations

import numpy as np

from workers.engines.base import LanguageGuess, Speech, SpeechTranslation

SAMPLE_RATE = 24_000


class ScriptedTranslator:
    """Describes the audio it was given, so tests can tell utterances apart by length."""

    @classmethod
    def from_settings(cls, settings) -> ScriptedTranslator:
        return cls()

    def translate(self, audio, *, src, tgt, with_source_text=True) -> SpeechTranslation:
        seconds = len(audio) / 16_000
        return SpeechTranslation(
            text=f"{src}->{tgt} {seconds:.2f} s",
            source_text=f"{src} speech {seconds:.2f} s" if with_source_text else None,
            meta={"inference_ms": 0.1},
        )


class LongTranslator(ScriptedTranslator):
    """A long translation: three short sentences and one of ~870 characters (which the
    pipeline cuts at its commas), ~10 s of ToneSynthesizer speech in all."""

    def translate(self, audio, *, src, tgt, with_source_text=True) -> SpeechTranslation:
        short = "Sentence number {} is short."
        longest = ", ".join(["and then it goes on and on"] * 30) + "."
        text = " ".join([*(short.format(i) for i in range(3)), longest])
        return SpeechTranslation(text=text, source_text="long speech", meta={})


class SlowTranslator(ScriptedTranslator):
    """Takes SLOWDOWN × the audio's length (a worker slower than real time): one continuous
    talker puts it behind, so overload is reached with one session on a shared CPU."""

    SLOWDOWN = 1.5

    def translate(self, audio, *, src, tgt, with_source_text=True) -> SpeechTranslation:
        import time

        time.sleep(self.SLOWDOWN * len(audio) / 16_000)
        return super().translate(audio, src=src, tgt=tgt, with_source_text=with_source_text)


class ToneSynthesizer:
    """A 440 Hz tone, 10 ms per character of text."""

    @classmethod
    def from_settings(cls, settings) -> ToneSynthesizer:
        return cls()

    def synthesize(self, text, *, lang, voice=None) -> Speech:
        n = int(SAMPLE_RATE * 0.01 * len(text))
        t = np.arange(n, dtype=np.float32) / SAMPLE_RATE
        return Speech(audio=0.3 * np.sin(2 * np.pi * 440 * t), sample_rate=SAMPLE_RATE)


class FailingSynthesizer(ToneSynthesizer):
    def synthesize(self, text, *, lang, voice=None) -> Speech:
        raise RuntimeError("the voice model crashed")


class EnglishIdentifier:
    @classmethod
    def from_settings(cls, settings) -> EnglishIdentifier:
        return cls()

    def identify(self, audio) -> LanguageGuess:
        return LanguageGuess(lang="en", confidence=0.9)


class UnloadableTranslator:
    @classmethod
    def from_settings(cls, settings) -> UnloadableTranslator:
        raise RuntimeError("CUDA out of memory while loading the weights")


DOUBLES_ENV = {
    "RUTRANS_TRANSLATOR": "tests.doubles.ScriptedTranslator",
    "RUTRANS_SYNTHESIZER": "tests.doubles.ToneSynthesizer",
    "RUTRANS_LANGUAGE_IDENTIFIER": "tests.doubles.EnglishIdentifier",
}


class FaultyTranslator(ScriptedTranslator):
    """For fault injection in real worker processes, driven by the environment:
    RUTRANS_TEST_TRANSLATE_DELAY_S makes each translation take that long (a task slow enough
    to kill mid-run); while the file RUTRANS_TEST_LOAD_FAIL_FLAG exists, loading fails."""

    @classmethod
    def from_settings(cls, settings) -> FaultyTranslator:
        import os
        from pathlib import Path

        flag = os.environ.get("RUTRANS_TEST_LOAD_FAIL_FLAG", "")
        if flag and Path(flag).exists():
            raise RuntimeError(f"the weights are unreadable (test flag {flag} is present)")
        return cls(float(os.environ.get("RUTRANS_TEST_TRANSLATE_DELAY_S", "0") or 0))

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s

    def translate(self, audio, *, src, tgt, with_source_text=True) -> SpeechTranslation:
        import time

        time.sleep(self.delay_s)
        return super().translate(audio, src=src, tgt=tgt, with_source_text=with_source_text)

    def translate_batch(self, requests) -> list[SpeechTranslation]:
        """A batch takes the delay once, as one model pass does."""
        import time

        time.sleep(self.delay_s)
        return [
            ScriptedTranslator.translate(
                self, r.audio, src=r.src, tgt=r.tgt, with_source_text=r.with_source_text
            )
            for r in requests
        ]


class ProportionalTranslator(ScriptedTranslator):
    """A translation that grows with the audio (RUTRANS_TEST_CHARS_PER_S characters of
    Russian sentences per second of speech, default 20): long utterances give long speech,
    as a real translation of a monologue does."""

    SENTENCES = (
        "Погода сегодня прекрасная, и мы пойдём гулять к реке.",
        "Там мы посмотрим на лодки и немного отдохнём.",
        "Потом вернёмся домой, выпьем чаю и поговорим о книгах.",
    )

    def translate(self, audio, *, src, tgt, with_source_text=True) -> SpeechTranslation:
        import itertools
        import os

        per_s = float(os.environ.get("RUTRANS_TEST_CHARS_PER_S", "20") or 20)
        wanted = int(len(audio) / 16_000 * per_s)
        sentences: list[str] = []
        for sentence in itertools.cycle(self.SENTENCES):
            if sum(len(s) + 1 for s in sentences) >= wanted:
                break
            sentences.append(sentence)
        return SpeechTranslation(
            text=" ".join(sentences), source_text=f"{src} speech", meta={"inference_ms": 0.1}
        )


class PacedSynthesizer:
    """The real Silero engine (on whatever model files SILERO_CACHE_DIR holds) taking
    RUTRANS_TEST_TTS_DELAY_S longer per call, as a real voice model on a busy GPU does: so a
    test can tell streamed pieces from audio sent at the end."""

    @classmethod
    def from_settings(cls, settings) -> PacedSynthesizer:
        import os

        from workers.engines.silero import SileroSynthesizer

        delay_s = float(os.environ.get("RUTRANS_TEST_TTS_DELAY_S", "0") or 0)
        return cls(SileroSynthesizer.from_settings(settings), delay_s)

    def __init__(self, inner, delay_s: float) -> None:
        self.inner = inner
        self.delay_s = delay_s

    def synthesize(self, text, *, lang, voice=None) -> Speech:
        import time

        time.sleep(self.delay_s)
        return self.inner.synthesize(text, lang=lang, voice=voice)
