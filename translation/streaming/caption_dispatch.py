"""Hands a partial (live caption) translation to a worker, and gives the worker its audio.

Partials must never delay finals, so they travel apart from them:
- real stack: the task `translation.caption` by name on its own queue `captions`, with a Celery
  `expires` of CAPTION_EXPIRES_S (a partial no worker started in time is discarded unrun). Its
  audio (int16, 16 kHz) waits in a Redis key that expires shortly after, so nothing piles up
  when no worker consumes the queue. Nothing is sent while finals wait in the `gpu` queue or
  while the `captions` queue already holds MAX_QUEUED partials;
- overload: nothing is sent while the workers are more than CAPTIONS_SHED_LAG_S behind
  (`captions_shed`, from the web process's cached capacity reading: no I/O), so captions are
  shed before any session is told `busy` or refused;
- embedded: the same code on the one in-process worker thread, never while a final waits there
  (and the partial steps aside again when it comes up behind a final).

Everything here blocks (Redis, Celery): the consumer calls `submit_partial` through
`send_in_background`, on one thread of its own per web process, so caption sends never take the
threads that store finals (Channels' `database_sync_to_async` uses the loop's default
executor), and a send still in progress means the next partial is skipped, not queued.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field

from translation.constants import CAPTION_TASK, CAPTIONS_QUEUE, FINALS_QUEUE, MODEL_SAMPLE_RATE
from translation.jobs import capacity
from translation.messaging import dispatch
from translation.messaging.broker import broker_redis

logger = logging.getLogger(__name__)

MAX_QUEUED = 4
"""More partials than this waiting in the `captions` queue: the workers are behind; skip."""
AUDIO_KEY_PREFIX = "rutrans:caption-audio:"
AUDIO_KEY_SLACK_S = 3
"""The audio key outlives the task's expiry by this much (clock skew between hosts)."""

_sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rutrans-captions")
_sending = 0  # sends submitted to _sender and not finished (event loop only)


class InlineAudio(BaseModel):
    """The partial's audio in the request itself: the embedded worker thread, same process."""

    model_config = ConfigDict(frozen=True)
    where: Literal["inline"] = "inline"
    pcm: bytes  # int16, 16 kHz mono


class StoredAudio(BaseModel):
    """The partial's audio in a short-lived Redis key: the real stack (the task goes as JSON)."""

    model_config = ConfigDict(frozen=True)
    where: Literal["redis"] = "redis"
    key: str


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
    audio: Annotated[InlineAudio | StoredAudio, Field(discriminator="where")]


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

    def request(self, audio: InlineAudio | StoredAudio) -> CaptionRequest:
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
    pcm = to_int16_bytes(job.audio)
    if settings.EMBEDDED:
        if dispatch.embedded_finals_waiting():
            return "finals waiting"
        dispatch.run_embedded(CAPTION_TASK, job.request(InlineAudio(pcm=pcm)))
        return None
    client = broker_redis()
    with client.pipeline(transaction=False) as pipe:
        pipe.llen(FINALS_QUEUE)
        pipe.llen(CAPTIONS_QUEUE)
        finals, partials = pipe.execute()
    if finals:
        return "finals waiting"
    if partials >= MAX_QUEUED:
        return "captions queue full"
    key = AUDIO_KEY_PREFIX + uuid.uuid4().hex
    client.set(key, pcm, ex=math.ceil(settings.CAPTION_EXPIRES_S) + AUDIO_KEY_SLACK_S)
    dispatch.send_task(
        CAPTION_TASK,
        args=[job.request(StoredAudio(key=key)).model_dump(mode="json")],
        queue=CAPTIONS_QUEUE,
        expires=settings.CAPTION_EXPIRES_S,
    )
    return None


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
    if settings.EMBEDDED:
        return dispatch.embedded_finals_waiting()
    return int(broker_redis().llen(FINALS_QUEUE))


def take_partial_audio(request: CaptionRequest) -> np.ndarray | None:
    """The worker's side: the partial's audio as 16 kHz float32 (None: it expired)."""
    audio = request.audio
    pcm = audio.pcm if isinstance(audio, InlineAudio) else broker_redis().getdel(audio.key)
    if not pcm:
        return None
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def to_int16_bytes(audio: np.ndarray) -> bytes:
    """16 kHz float32 → little-endian int16 (half the bytes; the models' input precision)."""
    return (np.clip(audio, -1.0, 32767 / 32768) * 32768.0).astype("<i2").tobytes()
