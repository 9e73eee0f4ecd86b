"""The worker process's model owner, in two stages: ONE model thread runs Canary in batches
across sessions, and the speech stage (`workers/speech_stage.py`, SPEECH_THREADS threads)
speaks sentences beside it, so neither waits for the other.

Task threads (Celery `--pool threads`, or the embedded worker's threads) do their database,
Redis and channel-layer work themselves and hand the model work here as a job with a Future;
one task per utterance stays the unit of delivery, acknowledgement and recovery. Each stage
takes its jobs in order of (lane, sentence, arrival):

- `Lane.LIVE`: finals (the Canary pass of an utterance) and, in the speech stage, the first
  sentence of every utterance, oldest utterance first;
- `Lane.LONG`: the pieces (at most 30 s each) of a long upload and, in the speech stage, the
  later sentences of every utterance, so no one's second sentence goes before anyone's first,
  and a long upload never holds the thread for its whole length while live finals wait (each
  batch does keep one row for the oldest upload piece, so uploads always move);
- `Lane.PARTIAL`: live captions, which fill a batch's free rows (a GPU's, where rows up to
  its knee cost no time: `partials_with_finals`) or, on the CPU, run one at a time when
  nothing else waits.

A Canary batch starts when `max_items` jobs wait, or their audio reaches `max_audio_s`, or the
oldest has waited `wait_s`; it holds at most `max_items` jobs and `max_audio_s` seconds of
audio (a longer single job runs alone). Out of memory splits a batch in halves and retries
them; only a single utterance that cannot fit fails, with a clear error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from translation import metrics
from workers.batch_jobs import BatchLimits, BatchReport, Job, Lane
from workers.engines.base import (
    BatchSpeechTranslator,
    EngineError,
    EngineUnavailable,
    Lang,
    Speech,
    SpeechSynthesizer,
    SpeechTranslation,
    SpeechTranslator,
    TranslationRequest,
    is_out_of_memory,
    joined,
)
from workers.engines.pieces import MAX_PIECE_S, split_at_pauses
from workers.speech_stage import SpeakJob, SpeechStage

logger = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(eq=False)
class _TranslateJob(Job):
    request: TranslationRequest | None = None

    @property
    def audio_s(self) -> float:
        assert self.request is not None
        return self.request.audio_s


class Batcher:
    """Owns the models of this process (see the module docstring). `translator` and
    `synthesizer` give the loaded engines (called per batch on the model thread, per sentence
    on a speech thread); `speech_threads`: the speech stage's threads."""

    def __init__(
        self,
        *,
        translator: Callable[[], SpeechTranslator],
        synthesizer: Callable[[], SpeechSynthesizer],
        limits: BatchLimits,
        on_batch: Callable[[BatchReport], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        speech_threads: int = 1,
    ) -> None:
        self.translator = translator
        self.synthesizer = synthesizer
        self.limits = limits
        self.on_batch = on_batch
        self.clock = clock
        self._translations: list[_TranslateJob] = []
        self.speech = SpeechStage(
            synthesizer=synthesizer, threads=speech_threads, report=self._report, clock=clock
        )
        self._numbers = 0
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    # --- the task threads' side ---------------------------------------------------------

    def translate(
        self, request: TranslationRequest, *, lane: Lane = Lane.LIVE, arrival: float | None = None
    ) -> SpeechTranslation:
        """Translate one utterance in the next batch that has room; blocks until done. A long
        one goes as pieces of at most MAX_PIECE_S in the long lane, joined here."""
        arrival = self.clock() if arrival is None else arrival
        if request.audio_s <= MAX_PIECE_S or getattr(request.audio, "ndim", 1) != 1:
            return self._wait(self.submit_translation(request, lane=lane, arrival=arrival))
        pieces = split_at_pauses(request.audio)
        futures = [
            self.submit_translation(
                TranslationRequest(piece, request.src, request.tgt, request.with_source_text),
                lane=max(lane, Lane.LONG),
                arrival=arrival,
            )
            for piece in pieces
        ]
        return joined([self._wait(f) for f in futures], with_source_text=request.with_source_text)

    def speak(
        self,
        text: str,
        *,
        lang: Lang,
        voice: str | None,
        sentence: int = 0,
        arrival: float | None = None,
        lane: Lane = Lane.LIVE,
    ) -> Speech:
        """Synthesize one sentence in the speech stage: every utterance's first sentence before
        anyone's second."""
        now = self.clock()
        job = SpeakJob(
            lane=max(lane, Lane.LONG) if sentence else lane,
            order=sentence,
            arrival=now if arrival is None else arrival,
            queued_at=now,
            number=self._next_number(),
            text=text,
            lang=lang,
            voice=voice,
        )
        self.speech.submit(job)
        return self._wait(job.future)

    def submit_translation(
        self, request: TranslationRequest, *, lane: Lane, arrival: float
    ) -> Future[SpeechTranslation]:
        job = _TranslateJob(
            lane=lane,
            order=0,
            arrival=arrival,
            queued_at=self.clock(),
            number=self._next_number(),
            request=request,
        )
        with self._changed:
            self._start_thread()
            self._translations.append(job)
            self._changed.notify()
        return job.future

    def waiting(self) -> int:
        """Jobs queued here and not started (translations and sentences)."""
        with self._changed:
            translations = len(self._translations)
        return translations + self.speech.waiting()

    def _next_number(self) -> int:
        with self._changed:
            self._numbers += 1
            return self._numbers

    def _wait(self, future: Future[_T]) -> _T:
        """The job's answer; past `answer_within_s` the job leaves the queue (if it has not
        started) and its row fails with a clear error instead of waiting for ever."""
        try:
            return future.result(timeout=self.limits.answer_within_s)
        except TimeoutError:
            with self._changed:
                self._translations = [j for j in self._translations if j.future is not future]
            self.speech.withdraw(future)
            raise EngineError(
                f"the model thread gave no answer in {self.limits.answer_within_s:.0f} s "
                "(the worker may be stuck)"
            ) from None

    def _start_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run_forever, name="rutrans-batcher", daemon=True
            )
            self._thread.start()

    # --- the model thread -----------------------------------------------------------------

    def _run_forever(self) -> None:
        while True:
            work = self._next_batch()
            try:
                self._run_translations(work)
            except BaseException as exc:
                logger.exception("batcher: a model call failed outside its jobs")
                for job in work:
                    if not job.future.done():
                        job.future.set_exception(exc)

    def _next_batch(self) -> list[_TranslateJob]:
        """Block until a translation batch is ripe, and take it."""
        with self._changed:
            while True:
                ripe_in = self._ripe_in(self.clock()) if self._translations else None
                if ripe_in == 0:
                    return self._take_batch()
                self._changed.wait(timeout=ripe_in)

    def _ripe_in(self, now: float) -> float:
        """0 when a translation batch should start now, else the seconds until it should."""
        jobs = self._translations
        if len(jobs) >= self.limits.max_items:
            return 0.0
        if sum(j.audio_s for j in jobs) >= self.limits.max_audio_s:
            return 0.0
        oldest = min(j.queued_at for j in jobs)
        return max(0.0, oldest + self.limits.wait_s - now)

    def _take_batch(self) -> list[_TranslateJob]:
        queue = sorted(self._translations, key=_key)
        if not self.limits.partials_with_finals:
            if queue[0].lane == Lane.PARTIAL:  # one at a time: a final waits for one at most
                queue = queue[:1]
            else:
                queue = [j for j in queue if j.lane != Lane.PARTIAL]
        batch: list[_TranslateJob] = []
        oldest_long = next((j for j in queue if j.lane == Lane.LONG), None)
        if oldest_long is not None:  # the oldest upload piece always gets a row
            batch.append(oldest_long)
        audio_s = sum(j.audio_s for j in batch)
        for job in queue:
            if len(batch) >= self.limits.max_items:
                break
            if job in batch:
                continue
            if batch and audio_s + job.audio_s > self.limits.max_audio_s:
                continue  # too long for this batch's room: a later, shorter job may fit
            batch.append(job)
            audio_s += job.audio_s
        for job in batch:
            self._translations.remove(job)
        return batch

    def _run_translations(self, jobs: list[_TranslateJob]) -> None:
        started = time.perf_counter()
        requests = [j.request for j in jobs if j.request is not None]
        results = self._translate_rows(requests)
        busy_s = time.perf_counter() - started
        for job, result in zip(jobs, results, strict=True):
            if isinstance(result, BaseException):
                job.future.set_exception(result)
            else:
                job.future.set_result(result)
        self._report(
            BatchReport(
                kind="translate",
                rows=len(jobs),
                partials=sum(j.lane == Lane.PARTIAL for j in jobs),
                audio_s=sum(j.audio_s for j in jobs),
                busy_s=busy_s,
                waited_s=self.clock() - busy_s - min(j.queued_at for j in jobs),
            )
        )

    def _translate_rows(
        self, requests: Sequence[TranslationRequest]
    ) -> list[SpeechTranslation | Exception]:
        try:
            engine = self.translator()
            if isinstance(engine, BatchSpeechTranslator):
                return list(engine.translate_batch(requests))
            return [_translate_one(engine, r) for r in requests]
        except Exception as exc:  # noqa: BLE001 - each row gets its error; the thread goes on
            if len(requests) == 1:
                if is_out_of_memory(exc):
                    seconds = requests[0].audio_s
                    return [EngineError(f"out of GPU memory translating {seconds:.1f} s of audio")]
                return [exc]
            if isinstance(exc, EngineUnavailable):
                return [exc] * len(requests)
            # Out of memory (or one bad row failing the whole call): halves, until each fits.
            logger.warning(
                "batch of %d failed (%s: %s): splitting it in two",
                len(requests),
                type(exc).__name__,
                exc,
            )
            half = len(requests) // 2
            return self._translate_rows(requests[:half]) + self._translate_rows(requests[half:])

    def _report(self, report: BatchReport) -> None:
        if report.kind == "translate":
            metrics.BATCH_SIZE.observe(report.rows)
            metrics.BATCH_SECONDS.observe(report.busy_s)
        else:
            metrics.SPEECH_SECONDS.observe(report.busy_s)
        if self.on_batch is None:
            return
        try:
            self.on_batch(report)
        except Exception:
            logger.exception("batcher: the on_batch hook failed")


def _key(job: Job) -> tuple[int, int, float, int]:
    return job.key


def _translate_one(
    engine: SpeechTranslator, request: TranslationRequest
) -> SpeechTranslation | Exception:
    try:
        return engine.translate(
            request.audio,
            src=request.src,
            tgt=request.tgt,
            with_source_text=request.with_source_text,
        )
    except EngineError as exc:
        return exc


# --- the engines a pipeline sees when the batcher owns the models ---------------------------
# Each call becomes a job of the process's one batcher; built per utterance
# (`runtime.get_pipeline`).


class BatchedTranslator:
    """The `SpeechTranslator` a pipeline uses: each call goes through the batcher in `lane`."""

    def __init__(self, batcher: Batcher, *, lane: Lane, arrival: float) -> None:
        self.batcher, self.lane, self.arrival = batcher, lane, arrival

    def translate(
        self, audio: np.ndarray, *, src: Lang, tgt: Lang, with_source_text: bool = True
    ) -> SpeechTranslation:
        request = TranslationRequest(audio, src, tgt, with_source_text)
        return self.batcher.translate(request, lane=self.lane, arrival=self.arrival)


class BatchedSynthesizer:
    """The `SpeechSynthesizer` of ONE utterance's pipeline: its n-th call is the utterance's
    n-th sentence (the pipeline speaks them in order), which sets its place in the queue."""

    def __init__(self, batcher: Batcher, *, arrival: float) -> None:
        self.batcher, self.arrival = batcher, arrival
        self._spoken = 0

    def synthesize(self, text: str, *, lang: Lang, voice: str | None = None) -> Speech:
        sentence, self._spoken = self._spoken, self._spoken + 1
        return self.batcher.speak(
            text, lang=lang, voice=voice, sentence=sentence, arrival=self.arrival
        )
