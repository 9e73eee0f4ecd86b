"""Hands a partial (live caption) translation to a worker, and gives the worker its audio.

Partials must never delay finals, so they travel apart from them (the task backend's
`send_caption`: on the real stack their own queue, an expiry and their audio in a short-lived
Redis key, nothing sent while finals wait or the captions queue is full; embedded, the one
in-process worker, never while a final waits there). Besides:
- overload: nothing is sent while the workers are more than CAPTIONS_SHED_LAG_S behind
  (`captions_shed`, from the web process's cached capacity reading: no I/O), so captions are
  shed before any session is told `busy` or refused;
- the worker steps aside again when the partial comes up behind a final (`finals_waiting`).

Everything here may block (Redis, Celery): the consumer calls `submit_partial` through
`send_in_background`, on one thread of its own per web process, so caption sends never take the
threads that store finals (Channels' `database_sync_to_async` uses the loop's default
executor), and a send still in progress means the next partial is skipped, not queued.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict

from translation.backend import CaptionAudio, task_backend
from translation.constants import MODEL_SAMPLE_RATE
from translation.jobs import capacity

logger = logging.getLogger(__name__)

_sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rutrans-captions")
_sending = 0  # sends submitted to _sender and not finished (event loop only)


class CaptionRequest(BaseModel):
    """The caption task's argument: which part of which open utterance, where to answer, and
    where its audio is."""

    model_config = ConfigDict(frozen=True)
    reply_channel: str
    seq: int
    part: int
    src: str
    tgt: str | None
    start_s: float
    end_s: float
    speech_s: float
    sent_at: float
    audio: CaptionAudio


@dataclass(frozen=True)
class PartialJob:
    """One partial to translate: the open utterance's audio so far and where to answer."""

    reply_channel: str
    seq: int
    part: int
    src: str
    tgt: str | None
    audio: np.ndarray  # 16 kHz mono float32
    start_s: float
    speech_s: float

    def request(self, audio: CaptionAudio) -> CaptionRequest:
        """The task's argument, its audio at `audio`."""
        return CaptionRequest(
            reply_channel=self.reply_channel,
            seq=self.seq,
            part=self.part,
            src=self.src,
            tgt=self.tgt,
            start_s=self.start_s,
            end_s=self.start_s + self.audio.size / MODEL_SAMPLE_RATE,
            speech_s=self.speech_s,
            sent_at=time.time(),
            audio=audio,
        )


def submit_partial(job: PartialJob) -> str | None:
    """Queue a partial. Returns None when queued, else why it was skipped."""
    return task_backend().send_caption(to_int16_bytes(job.audio), job.request)


async def send_in_background(job: PartialJob) -> str | None:
    """`submit_partial` on the captions thread; a send already in progress (the broker is
    slow or the web process busy) makes this one a skip."""
    global _sending
    if _sending:
        return "web tier busy"
    _sending += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(_sender, submit_partial, job)
    finally:
        _sending -= 1


def captions_shed() -> bool:
    """The workers are too far behind for partials (translation/jobs/capacity.py); cheap."""
    return capacity.monitor.snapshot().shed_captions


def finals_waiting() -> int:
    """Finals waiting for a worker: partials step aside while there are any."""
    return task_backend().finals_waiting()


def take_partial_audio(request: CaptionRequest) -> np.ndarray | None:
    """The worker's side: the partial's audio as 16 kHz float32 (None: it expired)."""
    pcm = request.audio.take()
    if not pcm:
        return None
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def to_int16_bytes(audio: np.ndarray) -> bytes:
    """16 kHz float32 → little-endian int16 (half the bytes; the models' input precision)."""
    return (np.clip(audio, -1.0, 32767 / 32768) * 32768.0).astype("<i2").tobytes()
