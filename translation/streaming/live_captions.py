"""The live-captions half of the `/ws/translate` consumer: when to ask for a partial of the
open utterance and how a worker's partial reaches the page (translation/streaming/captions.py
holds the rules; caption_dispatch the hand-over). A mixin of `TranslateConsumer`, which owns
the session state it reads (`live`, `captions`, `partial_senders`)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from django.conf import settings

from translation.constants import MODEL_SAMPLE_RATE
from translation.events import PartialReply
from translation.protocol.control import SessionConfig
from translation.protocol.messages import CaptionsStatus, bounded_json
from translation.streaming import caption_dispatch
from translation.streaming.captions import LOOP_LAG_LIMIT_MS, CaptionState, PartialRequest

if TYPE_CHECKING:
    from translation.streaming.session import LiveSession

logger = logging.getLogger(__name__)


class LiveCaptions:
    """Partials while an utterance is still spoken (LIVE_CAPTIONS): ask, hand over, show."""

    live: LiveSession | None
    captions: CaptionState | None
    partial_senders: set[asyncio.Task]
    session_id: str
    channel_name: str

    if TYPE_CHECKING:  # the consumer's own (AsyncWebsocketConsumer.send); never defined here

        async def send(
            self, text_data: str | None = None, bytes_data: bytes | None = None
        ) -> None: ...

    def _configure_captions(self, config: SessionConfig) -> None:
        """Captions when the server offers them and the client did not turn them off."""
        if settings.LIVE_CAPTIONS and config.captions is not False:
            if self.captions is None:
                self.captions = CaptionState(
                    interval_s=settings.CAPTION_INTERVAL_S,
                    expires_s=settings.CAPTION_EXPIRES_S,
                    growth=settings.CAPTION_GROWTH,
                )
        else:
            self.captions = None

    async def _schedule_partial(self) -> None:
        """After a frame: send a partial of the open utterance when one is due (off the loop)."""
        live, captions = self.live, self.captions
        assert live is not None and captions is not None and live.config is not None
        segmenter = live.segmenter
        seq, stream_s = live.next_seq, segmenter.stream_time_s
        look = captions.poll(seq=seq, has_speech=segmenter.has_speech, stream_s=stream_s)
        for ended, counts in captions.take_ended():
            status = CaptionsStatus(
                seq=ended, due=counts["due"], sent=counts["sent"], skipped=counts["skipped"]
            )
            await self.send(text_data=status.wire())
        speech_s = segmenter.open_speech_s if look else None
        if speech_s is None:
            return
        # Busy: this session's last final is still out, or frames wait for the event loop.
        # Shed: the workers are behind (captions go first, translation/jobs/capacity.py).
        busy = (
            live.in_flight > 0
            or live.max_loop_lag_ms > LOOP_LAG_LIMIT_MS
            or caption_dispatch.captions_shed()
        )
        request = captions.request(
            seq=seq, speech_s=speech_s, stream_s=stream_s, now=time.monotonic(), busy=busy
        )
        opened = segmenter.open_utterance_audio() if request is not None else None
        if request is None or opened is None:
            return
        audio = opened[0]  # copied only for a partial that goes out
        job = caption_dispatch.PartialJob(
            reply_channel=self.channel_name,
            seq=request.seq,
            part=request.part,
            src=request.src or live.config.src,
            tgt=live.config.tgt,
            audio=audio,
            start_s=stream_s - audio.size / MODEL_SAMPLE_RATE,
            speech_s=speech_s,
        )
        captions.sent(request, time.monotonic())
        sender = asyncio.create_task(self._submit_partial(captions, request, job))
        self.partial_senders.add(sender)
        sender.add_done_callback(self.partial_senders.discard)

    async def _submit_partial(
        self, captions: CaptionState, request: PartialRequest, job: caption_dispatch.PartialJob
    ) -> None:
        try:
            reason = await caption_dispatch.send_in_background(job)
        except Exception as exc:  # noqa: BLE001 - a caption is best effort; finals go on
            logger.warning("session %s: partial not sent: %s", self.session_id, exc)
            reason = "error"
        if reason is not None:
            captions.declined(request)

    async def translation_partial(self, message: dict[str, Any]) -> None:
        """A worker's partial (or its note that it skipped one)."""
        live, captions = self.live, self.captions
        if live is None or captions is None:
            return
        reply = PartialReply.from_message(message)
        seq = reply.seq
        final_arrived = seq < live.results.next_to_send or seq in live.results.headed
        shown = captions.partial_to_show(reply, final_arrived=final_arrived)
        if shown is None:
            return
        if reply.sent_at:
            push_ms = round((time.time() - reply.sent_at) * 1000.0, 2)
            shown = shown.model_copy(update={"timings": {**shown.timings, "push_ms": push_ms}})
        await self.send(text_data=bounded_json(shown, text_fields=("text", "source_text")))
