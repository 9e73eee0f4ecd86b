"""The worker's side of a live caption: translate the audio so far of an utterance still being
spoken, and push the text to its session. Best effort by design: nothing is stored, an error
or a busy worker skips the partial (the session is told, so it may ask again), and a final
waiting for a worker always goes first."""

from __future__ import annotations

import logging
import time

from django.conf import settings

from translation.events import PartialReply
from translation.messaging.channel_layer import send_event
from translation.protocol.messages import PartialMessage
from translation.streaming import caption_dispatch
from translation.streaming.caption_dispatch import CaptionRequest
from translation.streaming.captions import partial_message
from workers import runtime
from workers.batch_jobs import Lane
from workers.engines.base import EngineError

logger = logging.getLogger(__name__)


def caption_partial(request: CaptionRequest) -> None:
    """Run one partial (see translation/streaming/caption_dispatch.py) and answer the session:
    a `partial`, or `skipped` with the reason."""
    queue_ms = round((time.time() - request.sent_at) * 1000.0, 2)
    reason = _reason_to_skip(queue_ms)
    audio = None
    if reason is None:
        audio = caption_dispatch.take_partial_audio(request)
        reason = "expired" if audio is None else None
    if reason is not None or audio is None:
        _reply(request, skipped=reason or "expired")
        return
    try:
        result = runtime.get_pipeline(lane=Lane.PARTIAL).caption(
            audio, src=request.src, tgt=request.tgt
        )
    except (EngineError, ValueError) as exc:
        logger.info("partial %s/%s skipped: %s", request.seq, request.part, exc)
        _reply(request, skipped="error")
        return
    timings = {"queue_ms": queue_ms, **result.timings}
    partial = partial_message(
        seq=request.seq,
        part=request.part,
        src=result.src,
        tgt=result.tgt,
        text=result.text,
        source_text=result.source_text,
        start_s=request.start_s,
        end_s=request.end_s,
        speech_s=request.speech_s,
        timings=timings,
    )
    _reply(request, partial=partial, src=result.src)


def _reason_to_skip(queue_ms: float) -> str | None:
    if queue_ms > settings.CAPTION_EXPIRES_S * 1000.0:
        return "expired"
    if queue_ms > settings.CAPTION_INTERVAL_S * 1000.0:
        return "behind"  # waited longer than the cadence: the workers are behind; the next is due
    if caption_dispatch.finals_waiting():
        return "finals waiting"
    return None


def _reply(
    request: CaptionRequest,
    *,
    partial: PartialMessage | None = None,
    src: str | None = None,
    skipped: str | None = None,
) -> None:
    reply = PartialReply(
        seq=request.seq,
        part=request.part,
        sent_at=time.time(),
        partial=partial,
        src=src,
        skipped=skipped,
    )
    send_event(request.reply_channel, reply)
