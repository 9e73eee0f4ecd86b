"""Speech as a stage of its own (workers/speech_stage.py): with slow fakes (a Canary batch
takes 200 ms, a sentence 300 ms), a batch is not delayed by a sentence being spoken nor a
sentence by a batch, and every utterance's first sentence still goes before anyone's second.

Where one stage's call must overlap the other's, it is also held (`hold`) until the other's
answer has come back: had that answer waited for it, the test would fail (after a 10 s wait)
whatever the machine's load, not only by the clock."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from workers.batch_jobs import BatchLimits, BatchReport, Lane
from workers.batcher import BatchedSynthesizer, Batcher
from workers.engines.base import EngineError, Speech, SpeechTranslation, TranslationRequest

BATCH_S = 0.2
SENTENCE_S = 0.3


class SlowTranslator:
    """Each batch takes BATCH_S (after `release` where `hold`); records when each one ends."""

    def __init__(self, *, hold: bool = False) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.hold = hold
        self.ended: list[float] = []

    def translate_batch(self, requests):
        self.entered.set()
        if self.hold:
            self.release.wait(10)
        time.sleep(BATCH_S)
        self.ended.append(time.monotonic())
        return [SpeechTranslation(text=f"{r.src}->{r.tgt}") for r in requests]


class SlowSynthesizer:
    """Each sentence takes SENTENCE_S (or until `release` where `hold`); records the order
    sentences start in, how many run at once, and when each ends."""

    def __init__(self, *, hold: bool = False) -> None:
        self.started: list[str] = []
        self.ended: dict[str, float] = {}
        self.entered = threading.Event()
        self.release = threading.Event()
        self.hold = hold
        self.running = self.most_at_once = 0
        self._lock = threading.Lock()

    def synthesize(self, text, *, lang, voice=None) -> Speech:
        with self._lock:
            self.started.append(text)
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        self.entered.set()
        if text == "bad":
            raise EngineError("nothing to speak")
        try:
            if self.hold:
                self.release.wait(10)
            time.sleep(SENTENCE_S)
        finally:
            with self._lock:
                self.running -= 1
                self.ended[text] = time.monotonic()
        return Speech(audio=np.zeros(24_000, np.float32), sample_rate=24_000)


def make(translator, synthesizer, *, speech_threads: int = 1):
    reports: list[BatchReport] = []
    batcher = Batcher(
        translator=lambda: translator,
        synthesizer=lambda: synthesizer,
        limits=BatchLimits(max_items=4, wait_s=0.0, max_audio_s=100.0, answer_within_s=30.0),
        on_batch=reports.append,
        speech_threads=speech_threads,
    )
    return batcher, reports


def utterance(seconds: float = 1.0) -> TranslationRequest:
    return TranslationRequest(np.full(int(seconds * 16_000), 0.1, np.float32), "en", "ru")


def test_a_batch_is_not_delayed_by_a_sentence_being_spoken():
    translator, synthesizer = SlowTranslator(), SlowSynthesizer(hold=True)
    batcher, reports = make(translator, synthesizer)
    with ThreadPoolExecutor(1) as pool:
        spoken = pool.submit(batcher.speak, "Hello there.", lang="en", voice=None)
        assert synthesizer.entered.wait(5)  # the sentence is being spoken...
        asked = time.monotonic()
        answer = batcher.translate(utterance())  # ...when the batch comes
        answered = time.monotonic()
        assert "Hello there." not in synthesizer.ended  # its result came first
        synthesizer.release.set()
        spoken.result(5)
    assert answer.text == "en->ru"
    assert answered < synthesizer.ended["Hello there."]
    assert answered - asked < BATCH_S + SENTENCE_S  # the batch's own time, not the sentence's
    assert sorted(r.kind for r in reports) == ["speak", "translate"]


def test_a_sentence_is_not_delayed_by_a_batch_being_translated():
    translator, synthesizer = SlowTranslator(hold=True), SlowSynthesizer()
    batcher, _ = make(translator, synthesizer)
    batch = batcher.submit_translation(utterance(), lane=Lane.LIVE, arrival=0.0)
    assert translator.entered.wait(5)  # the batch runs...
    asked = time.monotonic()
    batcher.speak("Hello.", lang="en", voice=None)  # ...when the sentence comes
    assert time.monotonic() - asked < BATCH_S + SENTENCE_S  # the sentence's own time
    assert not batch.done()  # the batch is still running
    translator.release.set()
    assert batch.result(5).text == "en->ru"
    assert synthesizer.ended["Hello."] < translator.ended[0]


def test_first_sentences_still_go_before_second_ones():
    """Two utterances queue three sentences each while the speech thread is held: the first
    sentence of each goes before either's second, the older utterance first in each round."""
    translator, synthesizer = SlowTranslator(), SlowSynthesizer(hold=True)
    batcher, _ = make(translator, synthesizer)

    def speak_all(name: str, arrival: float) -> None:
        voice = BatchedSynthesizer(batcher, arrival=arrival)
        for sentence in range(3):
            voice.synthesize(f"{name}{sentence}", lang="en")

    with ThreadPoolExecutor(3) as pool:
        holder = pool.submit(batcher.speak, "z0", lang="en", voice=None, arrival=0.0)
        assert synthesizer.entered.wait(5)
        done = [pool.submit(speak_all, name, t) for name, t in (("b", 2.0), ("a", 1.0))]
        while batcher.waiting() < 2:  # a0 and b0 queued behind z0
            time.sleep(0.01)
        synthesizer.release.set()
        for future in [holder, *done]:
            future.result(10)
    assert synthesizer.started[:3] == ["z0", "a0", "b0"]
    assert synthesizer.started.index("a1") < synthesizer.started.index("a2")
    assert synthesizer.started.index("b1") < synthesizer.started.index("b2")


def test_several_speech_threads_speak_side_by_side_in_queue_order():
    translator, synthesizer = SlowTranslator(), SlowSynthesizer()
    batcher, _ = make(translator, synthesizer, speech_threads=2)
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        for future in [
            pool.submit(batcher.speak, f"s{i}", lang="en", voice=None, arrival=float(i))
            for i in range(4)
        ]:
            future.result(5)
    assert synthesizer.most_at_once == 2
    assert time.monotonic() - started < 4 * SENTENCE_S  # two at a time


def test_a_sentence_that_fails_fails_alone():
    translator, synthesizer = SlowTranslator(), SlowSynthesizer()
    batcher, reports = make(translator, synthesizer)
    with pytest.raises(EngineError, match="nothing to speak"):
        batcher.speak("bad", lang="en", voice=None)
    assert batcher.speak("Good.", lang="en", voice=None).sample_rate == 24_000
    assert [r.kind for r in reports] == ["speak"]


def test_speech_threads_follow_the_device_unless_set(settings):
    from workers.runtime import speech_threads

    settings.SPEECH_THREADS = 0
    assert (speech_threads("cpu"), speech_threads("cuda:0")) == (1, 2)
    settings.SPEECH_THREADS = 3
    assert speech_threads("cpu") == 3
    with pytest.raises(ValueError, match="SPEECH_THREADS=0"):
        make(translator=None, synthesizer=None, speech_threads=0)
