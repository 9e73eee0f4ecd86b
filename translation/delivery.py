"""Delivery to the browser, through the channel layer: a live utterance's result, its audio
pieces and their end to its session; an upload's status to its `/ws/jobs/<id>` watchers.

The only module that talks to the channel layer from sync code (a worker, a view, a sweeper):
each call runs on the loop that owns the layer's connections (`channel_layer_loop`), and a
failed push is logged, never raised (the history row is already complete; a session that went
away simply misses it).
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import soundfile as sf
from channels.layers import get_channel_layer
from django.conf import settings

from translation import selectors
from translation.audio import wav_frames
from translation.models import Translation
from translation.protocol import MAX_MESSAGE_BYTES, result_payload

if TYPE_CHECKING:
    from translation.services import Outcome

logger = logging.getLogger(__name__)

RESULT_EVENT = "translation.result"
AUDIO_EVENT = "translation.audio"
AUDIO_END_EVENT = "translation.audio_end"
JOB_EVENT = "job.status"  # handled by JobStatusConsumer.job_status


def deliver_result(row: Translation, *, wav: bytes | None) -> bool:
    """Push a finished row to its live session at once: its result, then its WAV in pieces,
    then the audio end (or, for a failed row, its error). A session that has gone away is not
    an error: the row is already complete; the push is simply dropped."""
    if not row.reply_channel:
        return False
    if row.status == Translation.Status.FAILED:
        event = {"type": RESULT_EVENT, "seq": row.seq, "error": row.error, "sent_at": time.time()}
        return send_to_channel(row.reply_channel, event)
    outcome = Outcome(
        src=row.src_lang,
        tgt=row.tgt_lang,
        text=row.text,
        source_text=row.source_text or None,
        wav=None,
        tts_failed=row.tts_failed,
        timings={},
        meta=row.meta,
        error=row.error,
    )
    if not deliver_text(row, outcome):
        return False
    frames = wav_frames_of(wav) if wav and not row.tts_failed else []
    sent = sum(deliver_audio(row, wav=frame) for frame in frames)
    error = row.error if row.tts_failed else ""
    return deliver_audio_end(row, pieces=sent, error=error)


def deliver_text(row: Translation, outcome: Outcome) -> bool:
    """Push a live row's `result` (the text) before its speech exists: `outcome` holds what
    the translator said; the row gives the ids, stream times and timings so far."""
    if not row.reply_channel:
        return False
    event = {
        "type": RESULT_EVENT,
        "seq": row.seq,
        "result": result_payload(
            seq=row.seq or 0,
            translation_id=str(row.id),
            src=outcome.src,
            tgt=outcome.tgt,
            text=outcome.text,
            source_text=outcome.source_text,
            tts_failed=outcome.tts_failed,
            timings={**row.timings, **outcome.timings},
            error=outcome.error,
            start_s=row.stream_start_s,
            end_s=row.stream_end_s,
            lid=outcome.meta.get("lid") or row.meta.get("lid"),
        ),
        "attempt": row.attempts,
        "sent_at": time.time(),
    }
    return send_to_channel(row.reply_channel, event)


def deliver_audio(row: Translation, *, wav: bytes) -> bool:
    """Push one WAV frame (at most MAX_MESSAGE_BYTES: see `wav_frames_of`) of a live row."""
    if not row.reply_channel:
        return False
    if len(wav) > MAX_MESSAGE_BYTES:
        raise ValueError(f"a WAV frame of {len(wav)} bytes exceeds {MAX_MESSAGE_BYTES}")
    event = {"type": AUDIO_EVENT, "seq": row.seq, "attempt": row.attempts, "wav": wav}
    return send_to_channel(row.reply_channel, event)


def deliver_audio_end(
    row: Translation, *, pieces: int, error: str = "", timings: dict[str, float] | None = None
) -> bool:
    """Tell a live row's session that its audio is complete: `pieces` frames were sent."""
    if not row.reply_channel:
        return False
    event: dict[str, Any] = {
        "type": AUDIO_END_EVENT,
        "seq": row.seq,
        "attempt": row.attempts,
        "pieces": pieces,
    }
    if error:
        event["error"] = error
    if timings:
        event["timings"] = timings
    return send_to_channel(row.reply_channel, event)


def wav_frames_of(audio: bytes | np.ndarray, sample_rate: int | None = None) -> list[bytes]:
    """Audio (a WAV, or mono float samples with their rate) as WAV frames that each fit in
    one WebSocket message."""
    if isinstance(audio, bytes):
        samples, sample_rate = sf.read(io.BytesIO(audio), dtype="float32", always_2d=False)
    else:
        samples = audio
    if sample_rate is None:
        raise ValueError("float samples need their sample rate")
    return wav_frames(samples, sample_rate, max_bytes=MAX_MESSAGE_BYTES)


def job_group(translation_id: str | uuid.UUID) -> str:
    """The channel-layer group a job's status watchers (`/ws/jobs/<id>`) listen on."""
    return f"job.{translation_id}"


def notify_job_status(row: Translation) -> bool:
    """Tell an upload's status watchers (`/ws/jobs/<id>`) about its current state (call after
    the commit). Nobody watching is the normal case and costs one channel-layer call."""
    if row.source != Translation.Source.UPLOAD:
        return False  # live results go to their session; keep the hot path to one push
    group = job_group(row.id)
    event = {"type": JOB_EVENT, "job": selectors.job_state(row)}
    return _on_channel_layer(group, lambda layer: layer.group_send(group, event))


def send_to_channel(channel: str, event: dict[str, Any]) -> bool:
    return _on_channel_layer(channel, lambda layer: layer.send(channel, event))


def _on_channel_layer(target: str, call: Callable[[Any], Awaitable[None]]) -> bool:
    """Run one channel-layer call from sync code (a worker, a view) on the loop that owns the
    layer's connections (see `channel_layer_loop`). Failures are logged, never raised."""
    layer = get_channel_layer()

    async def push() -> None:
        await call(layer)

    try:
        asyncio.run_coroutine_threadsafe(push(), channel_layer_loop()).result(timeout=10)
    except Exception as exc:  # noqa: BLE001 - ChannelFull, Redis down, loop gone: log, go on
        logger.warning("could not push to %s: %s: %s", target, type(exc).__name__, exc)
        return False
    return True


_event_loop: asyncio.AbstractEventLoop | None = None


def remember_event_loop(loop: asyncio.AbstractEventLoop) -> None:
    """The embedded server's loop: the in-memory channel layer may only be used from it."""
    global _event_loop
    _event_loop = loop


def embedded_event_loop() -> asyncio.AbstractEventLoop | None:
    loop = _event_loop
    return loop if settings.EMBEDDED and loop is not None and loop.is_running() else None


_layer_loop: asyncio.AbstractEventLoop | None = None
_layer_loop_lock = threading.Lock()


def channel_layer_loop() -> asyncio.AbstractEventLoop:
    """The event loop on which sync code (a Celery worker, a view) talks to the channel layer.

    Embedded: the server's own loop (the in-memory layer lives there). Otherwise one private
    loop on a daemon thread for the whole process, so channels_redis keeps its connection pool
    between pushes instead of `async_to_sync` building a loop and a connection per push.
    """
    loop = embedded_event_loop()
    if loop is not None:
        return loop
    global _layer_loop
    with _layer_loop_lock:
        if _layer_loop is None or _layer_loop.is_closed():
            _layer_loop = asyncio.new_event_loop()
            threading.Thread(
                target=_layer_loop.run_forever, name="rutrans-channel-layer", daemon=True
            ).start()
        return _layer_loop
