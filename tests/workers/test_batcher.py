"""The model thread: who goes into which batch, in which order, and what each caller gets
back. Fake engines record every call; a gate holds the first call so the queue fills."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from workers.batch_jobs import BatchLimits, BatchReport, Lane
from workers.batcher import BatchedSynthesizer, Batcher
from workers.engines.base import EngineError, Speech, SpeechTranslation, TranslationRequest
from workers.engines.pieces import split_at_pauses

SR = 16_000


def seconds(s: float, value: float = 0.1) -> np.ndarray:
    return np.full(int(s * SR), value, np.float32)


class RecordingTranslator:
    """Answers each row with its direction and length; records every batch (as each row's
    `src->tgt seconds`). `gate` holds the first call; `max_rows` fakes device memory."""

    def __init__(self, max_rows: int | None = None) -> None:
        self.batches: list[list[str]] = []
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.max_rows = max_rows

    def translate_batch(self, requests):
        self.entered.set()
        self.gate.wait(10)
        if self.max_rows is not None and len(requests) > self.max_rows:
            self.batches.append(["OOM"] * len(requests))
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        labels = [f"{r.src}->{r.tgt} {r.audio_s:.1f}" for r in requests]
        self.batches.append(labels)
        return [
            EngineError("empty") if r.audio.size == 0 else SpeechTranslation(text=label)
            for r, label in zip(requests, labels, strict=True)
        ]


class RecordingSynthesizer:
    """Records every sentence; `gate` (open unless `held`) holds each call."""

    def __init__(self, *, held: bool = False) -> None:
        self.spoken: list[str] = []
        self.gate = threading.Event()
        self.entered = threading.Event()
        if not held:
            self.gate.set()

    def synthesize(self, text, *, lang, voice=None) -> Speech:
        self.entered.set()
        self.gate.wait(10)
        self.spoken.append(text)
        return Speech(audio=np.zeros(2400, np.float32), sample_rate=24_000)


def make_batcher(
    translator,
    synthesizer=None,
    *,
    max_items=4,
    wait_s=0.0,
    max_audio_s=100.0,
    partials_with_finals=True,
    answer_within_s=60.0,
):
    reports: list[BatchReport] = []
    batcher = Batcher(
        translator=lambda: translator,
        synthesizer=lambda: synthesizer or RecordingSynthesizer(),
        limits=BatchLimits(
            max_items=max_items,
            wait_s=wait_s,
            max_audio_s=max_audio_s,
            partials_with_finals=partials_with_finals,
            answer_within_s=answer_within_s,
        ),
        on_batch=reports.append,
    )
    return batcher, reports


def hold_the_model_thread(batcher: Batcher, translator: RecordingTranslator):
    """Start one job that blocks inside the model call, so what follows queues up."""
    first = batcher.submit_translation(
        TranslationRequest(seconds(1.0), "en", "en"), lane=Lane.LIVE, arrival=0.0
    )
    assert translator.entered.wait(5)
    return first


def test_each_row_comes_back_to_its_caller_whatever_its_length_and_direction():
    translator = RecordingTranslator()
    translator.gate.set()
    batcher, reports = make_batcher(translator, max_items=8, wait_s=0.05)
    requests = [
        TranslationRequest(seconds(1.0 + i * 0.5), ("en", "ru")[i % 2], ("ru", "en")[i % 2])
        for i in range(7)
    ]
    with ThreadPoolExecutor(7) as pool:
        answers = list(pool.map(lambda r: batcher.translate(r).text, requests))
    assert answers == [f"{r.src}->{r.tgt} {r.audio_s:.1f}" for r in requests]
    assert sum(len(b) for b in translator.batches) == 7
    assert max(len(b) for b in translator.batches) > 1  # they did share a batch
    assert sum(r.rows for r in reports) == 7
    assert sum(r.audio_s for r in reports) == pytest.approx(sum(r.audio_s for r in requests))


def test_a_bad_row_fails_alone():
    translator = RecordingTranslator()
    translator.gate.set()
    batcher, _ = make_batcher(translator)
    first = hold_the_model_thread(batcher, translator)
    good = batcher.submit_translation(
        TranslationRequest(seconds(1.0), "ru", "en"), lane=Lane.LIVE, arrival=1.0
    )
    bad = batcher.submit_translation(
        TranslationRequest(np.zeros(0, np.float32), "ru", "en"), lane=Lane.LIVE, arrival=2.0
    )
    assert first.result(5).text == "en->en 1.0"
    assert good.result(5).text == "ru->en 1.0"
    with pytest.raises(EngineError, match="empty"):
        bad.result(5)


def batches_of_three_partials_then_two_finals(*, partials_with_finals: bool) -> list:
    """While the model thread is busy, three partials queue, then two newer finals; the
    batches the translator then sees, in order."""
    translator = RecordingTranslator()
    batcher, _ = make_batcher(translator, max_items=3, partials_with_finals=partials_with_finals)
    first = hold_the_model_thread(batcher, translator)
    partials = [
        batcher.submit_translation(
            TranslationRequest(seconds(2.0), "en", "ru"), lane=Lane.PARTIAL, arrival=float(i)
        )
        for i in range(3)
    ]
    finals = [  # queued after the partials, and newer
        batcher.submit_translation(
            TranslationRequest(seconds(3.0), "ru", "en"), lane=Lane.LIVE, arrival=10.0 + i
        )
        for i in range(2)
    ]
    translator.gate.set()
    for future in [first, *finals, *partials]:
        future.result(5)
    return translator.batches


def test_partials_never_go_before_a_final_and_only_fill_free_rows():
    assert batches_of_three_partials_then_two_finals(partials_with_finals=True) == [
        ["en->en 1.0"],
        ["ru->en 3.0", "ru->en 3.0", "en->ru 2.0"],  # both finals, a partial in the free row
        ["en->ru 2.0", "en->ru 2.0"],
    ]


def test_on_a_cpu_partials_never_share_a_finals_batch():
    """Where each row costs the batch time, finals run without partials; then the partials
    run one at a time, so a final that comes meanwhile waits for one partial at most."""
    assert batches_of_three_partials_then_two_finals(partials_with_finals=False) == [
        ["en->en 1.0"],
        ["ru->en 3.0", "ru->en 3.0"],  # the free row stays free
        ["en->ru 2.0"],
        ["en->ru 2.0"],
        ["en->ru 2.0"],
    ]


def test_a_stuck_model_call_fails_the_rows_waiting_behind_it_in_bounded_time():
    """A threads pool enforces no task time limit: a task thread stops waiting after
    answer_within_s with a clear error, and its job leaves the queue."""
    translator = RecordingTranslator()
    batcher, _ = make_batcher(translator, answer_within_s=0.2)
    first = hold_the_model_thread(batcher, translator)  # the model call that does not return
    with pytest.raises(EngineError, match=r"no answer in 0 s \(the worker may be stuck\)"):
        batcher.translate(TranslationRequest(seconds(2.0), "ru", "en"))
    assert batcher.waiting() == 0  # it does not run later for no one
    translator.gate.set()
    assert first.result(5).text == "en->en 1.0"
    assert translator.batches == [["en->en 1.0"]]


def test_a_stuck_sentence_fails_the_sentences_waiting_behind_it_in_bounded_time():
    translator = RecordingTranslator()
    translator.gate.set()
    synthesizer = RecordingSynthesizer(held=True)
    batcher, _ = make_batcher(translator, synthesizer, answer_within_s=0.2)
    with ThreadPoolExecutor(1) as pool:
        stuck = pool.submit(batcher.speak, "Stuck.", lang="en", voice=None)
        assert synthesizer.entered.wait(5)
        with pytest.raises(EngineError, match="no answer"):
            batcher.speak("Hello.", lang="en", voice=None)
        assert batcher.waiting() == 0  # "Hello." left the queue: it is never spoken
        synthesizer.gate.set()
        stuck.exception(5)  # answered, or its caller too stopped waiting
    while not synthesizer.spoken:
        threading.Event().wait(0.01)
    assert synthesizer.spoken == ["Stuck."]


def test_the_device_defaults_share_rows_only_on_a_gpu(settings):
    from workers.runtime import batch_limits

    settings.BATCH_MAX, settings.BATCH_WAIT_MS, settings.BATCH_MAX_AUDIO_S = 0, -1.0, 0.0
    assert batch_limits("cpu").partials_with_finals is False
    assert batch_limits("cuda:0").partials_with_finals is True
    assert (batch_limits("cuda").max_items, batch_limits("cpu").max_items) == (64, 8)
    assert batch_limits("cpu").answer_within_s == settings.CELERY_TASK_TIME_LIMIT


def test_a_batch_is_bounded_by_audio_seconds_as_well_as_count():
    translator = RecordingTranslator()
    batcher, _ = make_batcher(translator, max_items=8, max_audio_s=10.0)
    first = hold_the_model_thread(batcher, translator)
    futures = [
        batcher.submit_translation(
            TranslationRequest(seconds(s), "en", "ru"), lane=Lane.LIVE, arrival=float(i)
        )
        for i, s in enumerate([6.0, 6.0, 3.0, 1.0, 12.0])
    ]
    translator.gate.set()
    for future in [first, *futures]:
        future.result(5)
    assert translator.batches[1:] == [
        ["en->ru 6.0", "en->ru 3.0", "en->ru 1.0"],  # 10 s: the second 6 s waits
        ["en->ru 6.0"],
        ["en->ru 12.0"],  # longer than the bound alone: it runs alone
    ]


def test_a_long_upload_interleaves_with_live_finals():
    """A 100 s upload goes as pieces in the long lane: live finals that come after it still
    go in the next batch, and every batch keeps one row for the upload."""
    translator = RecordingTranslator()
    batcher, _ = make_batcher(translator, max_items=3, max_audio_s=200.0)
    first = hold_the_model_thread(batcher, translator)
    rng = np.random.default_rng(1)
    upload_audio = (0.1 * rng.standard_normal(SR * 100)).astype(np.float32)
    pieces_expected = len(split_at_pauses(upload_audio))
    assert pieces_expected >= 4
    with ThreadPoolExecutor(1) as pool:
        upload = pool.submit(
            batcher.translate, TranslationRequest(upload_audio, "en", "ru"), lane=Lane.LIVE
        )
        while batcher.waiting() < pieces_expected:  # its pieces are queued
            threading.Event().wait(0.01)
        finals = [
            batcher.submit_translation(
                TranslationRequest(seconds(2.0), "ru", "en"), lane=Lane.LIVE, arrival=1e9 + i
            )
            for i in range(4)
        ]
        translator.gate.set()
        for future in [first, *finals]:
            future.result(5)
        joined = upload.result(5)
    pieces = [x for b in translator.batches[1:] for x in b if x.startswith("en")]
    assert translator.batches[1][1:] == ["ru->en 2.0", "ru->en 2.0"]  # live finals at once
    assert translator.batches[2][1:] == ["ru->en 2.0", "ru->en 2.0"]
    assert len(pieces) == pieces_expected  # one piece per batch while finals waited, then
    assert joined.text.count("en->ru") == pieces_expected  # all of them, joined in order
    assert joined.meta == {}


def test_out_of_memory_splits_the_batch_and_answers_every_row():
    translator = RecordingTranslator(max_rows=2)
    batcher, reports = make_batcher(translator, max_items=8)
    first = hold_the_model_thread(batcher, translator)
    futures = [
        batcher.submit_translation(
            TranslationRequest(seconds(1.0 + i), "en", "ru"), lane=Lane.LIVE, arrival=float(i)
        )
        for i in range(7)
    ]
    translator.gate.set()
    first.result(5)
    answers = [f.result(5).text for f in futures]
    assert answers == [f"en->ru {1.0 + i:.1f}" for i in range(7)]
    answered = [b for b in translator.batches if b[0] != "OOM"]
    assert max(len(b) for b in answered) <= 2
    assert sum(len(b) for b in answered) == 8
    assert sum(r.rows for r in reports) == 8


def test_one_utterance_too_big_for_the_device_fails_clearly_alone():
    translator = RecordingTranslator(max_rows=0)
    translator.gate.set()
    batcher, _ = make_batcher(translator)
    with pytest.raises(EngineError, match=r"out of GPU memory translating 2\.0 s of audio"):
        batcher.translate(TranslationRequest(seconds(2.0), "en", "ru"))


def test_every_first_sentence_is_spoken_before_anyones_second():
    translator = RecordingTranslator()
    synthesizer = RecordingSynthesizer(held=True)
    batcher, reports = make_batcher(translator, synthesizer)
    with ThreadPoolExecutor(1) as pool:  # the speech thread is held in z0, so the queue fills
        holder = pool.submit(batcher.speak, "z0", lang="en", voice=None, arrival=0.0)
        assert synthesizer.entered.wait(5)
        spoken = _speak_two_utterances(batcher, synthesizer)
        holder.result(5)
    assert spoken[:3] == ["z0", "a0", "b0"]
    assert sorted(spoken) == ["a0", "a1", "a2", "b0", "b1", "b2", "z0"]
    assert spoken.index("a1") < spoken.index("a2")
    assert [r.kind for r in reports].count("speak") == 7
    assert translator.batches == []  # speech never went near the model thread


def _speak_two_utterances(batcher: Batcher, synthesizer: RecordingSynthesizer) -> list[str]:
    """Utterances a (older) and b speak three sentences each while the speech thread is held;
    then it is let go. The order they were spoken in."""

    def speak_all(name: str, arrival: float) -> None:
        voice = BatchedSynthesizer(batcher, arrival=arrival)
        for sentence in range(3):
            voice.synthesize(f"{name}{sentence}", lang="en")

    with ThreadPoolExecutor(2) as pool:
        done = [pool.submit(speak_all, name, t) for name, t in (("b", 2.0), ("a", 1.0))]
        while batcher.waiting() < 2:
            threading.Event().wait(0.01)
        synthesizer.gate.set()
        for future in done:
            future.result(5)
    return synthesizer.spoken


def test_a_batch_waits_for_company_at_most_wait_s():
    translator = RecordingTranslator()
    translator.gate.set()
    batcher, reports = make_batcher(translator, max_items=4, wait_s=0.2)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(batcher.translate, TranslationRequest(seconds(1.0), "en", "ru"))
        threading.Event().wait(0.05)
        second = pool.submit(batcher.translate, TranslationRequest(seconds(1.0), "ru", "en"))
        first.result(5), second.result(5)
    assert translator.batches == [["en->ru 1.0", "ru->en 1.0"]]  # the second joined in time
    assert 0.15 <= reports[0].waited_s < 1.0
