"""Speech synthesis, the worker's second stage: its own thread (or `threads` of them) beside
the model thread of `workers/batcher.py`, with the one loaded synthesizer of the process
(`runtime.synthesizer()`, every voice it has loaded). A Canary batch never waits for a
sentence to be spoken, and a sentence never waits for a batch.

The queue keeps the batcher's rule: a sentence is taken in order of (lane, sentence index,
its utterance's arrival), so every utterance's first sentence (`Lane.LIVE`, index 0) is
spoken before anyone's second (`Lane.LONG`), and within a lane the older utterance first.

`threads` (SPEECH_THREADS; `runtime.speech_threads`): 1 on a CPU, 2 on a GPU by default.
On a CPU, synthesis and Canary share the cores: Piper's onnxruntime and Silero's torch each
run their own intra-op threads (TORCH_NUM_THREADS caps both), so a sentence being spoken
and a batch being translated compete for cores; more speech threads only split them further.
Several threads call the one synthesizer at once: Piper's onnxruntime session is safe for
concurrent runs; Silero's engine serialises its `apply_tts` calls on its own lock (one text
per call, its model not known to be safe across threads), so with Silero more threads only
overlap the work around the model call.

No batch synthesis: Piper's exported voices (`piper/train/export_onnx.py`) do take a padded
`[B, T]` input, but they give back only the padded audio, not where each row's speech ends
(VITS' output lengths are dropped at export), so the rows of a batch cannot be cut apart
exactly; and the tiny test voice takes one row. `benchmarks/speech_batch.py` measures what a
batch would gain on the CPU with a batch-capable full-size graph (docs/PERFORMANCE.md,
"Speech stage").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from workers.batch_jobs import BatchReport, Job
from workers.engines.base import Lang, SpeechSynthesizer

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class SpeakJob(Job):
    text: str = ""
    lang: Lang = "en"
    voice: str | None = None


class SpeechStage:
    """A queue of sentences and the threads that speak them (see the module docstring).
    `report` gets one BatchReport (kind `speak`) per sentence spoken."""

    def __init__(
        self,
        *,
        synthesizer: Callable[[], SpeechSynthesizer],
        threads: int,
        report: Callable[[BatchReport], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if threads < 1:
            raise ValueError(f"SPEECH_THREADS={threads}: must be 1 or more")
        self.synthesizer = synthesizer
        self.threads = threads
        self.report = report
        self.clock = clock
        self._queue: list[SpeakJob] = []
        self._changed = threading.Condition()
        self._workers: list[threading.Thread] = []

    def submit(self, job: SpeakJob) -> None:
        with self._changed:
            self._start_threads()
            self._queue.append(job)
            self._changed.notify()

    def waiting(self) -> int:
        """Sentences queued and not started."""
        with self._changed:
            return len(self._queue)

    def withdraw(self, future: Future) -> None:
        """Take the job of `future` out of the queue if it has not started."""
        with self._changed:
            self._queue = [j for j in self._queue if j.future is not future]

    def _start_threads(self) -> None:
        self._workers = [t for t in self._workers if t.is_alive()]
        while len(self._workers) < self.threads:
            thread = threading.Thread(
                target=self._run_forever,
                name=f"rutrans-speech-{len(self._workers)}",
                daemon=True,
            )
            thread.start()
            self._workers.append(thread)

    def _next(self) -> SpeakJob:
        with self._changed:
            while not self._queue:
                self._changed.wait()
            job = min(self._queue, key=lambda j: j.key)
            self._queue.remove(job)
            return job

    def _run_forever(self) -> None:
        while True:
            job = self._next()
            try:
                self._speak(job)
            except BaseException as exc:
                logger.exception("speech stage: a call failed outside its sentence")
                if not job.future.done():
                    job.future.set_exception(exc)

    def _speak(self, job: SpeakJob) -> None:
        started = time.perf_counter()
        try:
            speech = self.synthesizer().synthesize(job.text, lang=job.lang, voice=job.voice)
        except Exception as exc:  # noqa: BLE001 - the sentence's own error, for its task
            job.future.set_exception(exc)
            return
        busy_s = time.perf_counter() - started
        job.future.set_result(speech)
        self.report(
            BatchReport(
                kind="speak",
                rows=1,
                partials=0,
                audio_s=len(speech.audio) / speech.sample_rate,
                busy_s=busy_s,
                waited_s=self.clock() - busy_s - job.queued_at,
            )
        )
