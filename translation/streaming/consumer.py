"""`/ws/translate`: the live translation WebSocket, a thin async shell over `LiveSession` and
the job services (see translation/streaming/protocol.py for the messages). One handler per
channel-layer event (`translation.events`)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from translation import events
from translation.audio.pcm import AudioFormatError
from translation.constants import MODEL_SAMPLE_RATE
from translation.events import (
    AudioEnd,
    AudioPiece,
    PartialReply,
    SessionEvent,
    UtteranceFailed,
    UtteranceResult,
)
from translation.jobs import submit
from translation.messaging.channel_layer import remember_event_loop
from translation.messaging.sockets import SurvivesChannelLayerLoss
from translation.streaming import caption_dispatch
from translation.streaming.captions import LOOP_LAG_LIMIT_MS, CaptionState, PartialRequest
from translation.streaming.protocol import (
    FLUSH,
    ProtocolError,
    SessionConfig,
    audio_end_message,
    bounded_json,
    error_message,
    status_message,
)
from translation.streaming.session import MAX_IN_FLIGHT, LiveSession, PendingUtterance

logger = logging.getLogger(__name__)

WATCH_INTERVAL_S = 0.05


class TranslateConsumer(SurvivesChannelLayerLoss, AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.session_id = uuid.uuid4().hex
        self.live: LiveSession | None = None
        self.submissions: asyncio.Queue[PendingUtterance | None] = asyncio.Queue()
        self.captions: CaptionState | None = None
        self.partial_sender: asyncio.Task | None = None
        remember_event_loop(asyncio.get_running_loop())
        await self.accept()
        # The VAD model load (ONNX) stays off the event loop.
        self.live = await asyncio.to_thread(LiveSession)
        self.submitter = asyncio.create_task(self._submit_in_order())
        self.watchdog = asyncio.create_task(self._watch())
        await self.send(text_data=status_message("ready", session=self.session_id))

    # Channels runs `close_old_connections` on a (thread-sensitive, shared) worker thread before
    # every message it dispatches: a thread hop per 20 ms audio frame, for all sessions through
    # one thread. Frames and results never touch the database here (submissions go through
    # database_sync_to_async, which cleans up itself), so those skip the hop.
    HOT_MESSAGES = {
        "websocket.receive": "websocket_receive",
        events.RESULT: "translation_result",
        events.UTTERANCE_FAILED: "translation_failed",
        events.AUDIO_PIECE: "translation_audio",
        events.AUDIO_END: "translation_audio_end",
        events.PARTIAL: "translation_partial",
    }

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = self.HOT_MESSAGES.get(message["type"])
        if handler is None:
            await super().dispatch(message)
        else:
            await getattr(self, handler)(message)

    async def disconnect(self, code: int) -> None:
        await self.stop_background_tasks()

    async def stop_background_tasks(self) -> None:
        if hasattr(self, "watchdog") and not self.watchdog.done():
            self.watchdog.cancel()
            # Utterances already cut are still recorded; the submitter ends after them.
            self.submissions.put_nowait(None)

    # --- client → server -----------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        live = self.live
        if live is None:
            return
        if bytes_data is not None:
            try:
                self._queue(live.ingest(bytes_data))
            except ProtocolError as exc:
                if not live.warned_no_control:  # once, then dropped until a control arrives
                    live.warned_no_control = True
                    await self.send(text_data=error_message(str(exc)))
            except AudioFormatError as exc:
                logger.info("session %s: dropped frame: %s", self.session_id, exc)
                await self.send(text_data=error_message(f"frame dropped: {exc}"))
                return
            if self.captions is not None:
                await self._schedule_partial()
            return
        if text_data is None:
            return
        if text_data == FLUSH:
            pending = live.flush("flush")
            self._queue(pending)
            if not pending:
                await self.send(text_data=status_message("flushed", utterance=False))
            return
        try:
            config, ended = live.configure(text_data)
        except ProtocolError as exc:
            await self.send(text_data=error_message(str(exc)))
            return
        self._queue(ended)
        self._configure_captions(config)
        await self.send(
            text_data=status_message(
                "configured",
                mode=config.mode,
                src=config.src,
                tgt=config.tgt,
                sample_rate=config.sample_rate,
                channels=config.channels,
                voice=dict(config.voices),
                captions=self.captions is not None,
            )
        )

    def _queue(self, pending: list[PendingUtterance]) -> None:
        for item in pending:
            self.submissions.put_nowait(item)

    async def _submit_in_order(self) -> None:
        """Store and dispatch cut utterances one by one, so ingest never waits on the DB."""
        while (item := await self.submissions.get()) is not None:
            await self._submit(item)

    async def _submit(self, item: PendingUtterance) -> None:
        live = self.live
        assert live is not None
        if live.in_flight > MAX_IN_FLIGHT:
            await self._deliver(
                live.accept(
                    UtteranceFailed(
                        seq=item.seq,
                        error="too many utterances waiting for translation; this one was dropped",
                    )
                )
            )
            return
        started = time.perf_counter()
        try:
            row = await database_sync_to_async(submit.submit_utterance)(
                session_id=self.session_id,
                seq=item.seq,
                reply_channel=self.channel_name,
                audio=item.utterance.audio,
                config=item.config,
                stream_start_s=item.utterance.start_s,
                stream_end_s=item.utterance.end_s,
                timings=item.timings,
            )
        except Exception as exc:
            logger.exception("session %s: could not queue utterance %d", self.session_id, item.seq)
            await self._deliver(
                live.accept(
                    UtteranceFailed(seq=item.seq, error=f"could not queue the utterance: {exc}")
                )
            )
            return
        submit_ms = round((time.perf_counter() - started) * 1000.0, 2)
        live.expect(item.seq, settings.RESULT_TIMEOUT_S, submit_ms=submit_ms)
        await self.send(
            text_data=status_message(
                "queued",
                seq=item.seq,
                id=str(row.id),
                submit_ms=submit_ms,
                start_s=round(item.utterance.start_s, 3),
                end_s=round(item.utterance.end_s, 3),
            )
        )

    async def _watch(self) -> None:
        """End an utterance when frames stop arriving; time out lost results."""
        live = self.live
        assert live is not None
        try:
            while True:
                before = time.monotonic()
                await asyncio.sleep(WATCH_INTERVAL_S)
                now = time.monotonic()
                # How late the loop woke us: frames wait at least this long to be ingested.
                live.note_loop_lag((now - before - WATCH_INTERVAL_S) * 1000.0)
                if live.idle_due(now):
                    self._queue(live.flush("idle"))
                if live.deadlines:
                    await self._deliver(live.expire(now))
        except asyncio.CancelledError:
            pass

    # --- live captions (streaming/captions.py: the rules) ---------------------------------

    def _configure_captions(self, config: SessionConfig) -> None:
        """Captions when the server offers them and the client did not turn them off."""
        if settings.LIVE_CAPTIONS and config.captions is not False:
            if self.captions is None:
                self.captions = CaptionState(
                    interval_s=settings.CAPTION_INTERVAL_S, expires_s=settings.CAPTION_EXPIRES_S
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
            await self.send(text_data=status_message("captions", seq=ended, **counts))
        speech_s = segmenter.open_speech_s if look else None
        if speech_s is None:
            return
        # Busy: this session's last final is still out, or frames wait for the event loop.
        busy = live.in_flight > 0 or live.max_loop_lag_ms > LOOP_LAG_LIMIT_MS
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
        self.partial_sender = asyncio.create_task(self._submit_partial(captions, request, job))

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
        final_arrived = seq < live.next_to_send or seq in live.headed
        shown = captions.accept(reply, final_arrived=final_arrived)
        if shown is None:
            return
        if reply.sent_at:
            shown["timings"]["push_ms"] = round((time.time() - reply.sent_at) * 1000.0, 2)
        await self.send(text_data=bounded_json(shown, text_fields=("text", "source_text")))

    # --- server → client: one handler per event ------------------------------------------------

    async def translation_result(self, message: dict[str, Any]) -> None:
        await self._accept(UtteranceResult.from_message(message))

    async def translation_failed(self, message: dict[str, Any]) -> None:
        await self._accept(UtteranceFailed.from_message(message))

    async def translation_audio(self, message: dict[str, Any]) -> None:
        await self._accept(AudioPiece.from_message(message))

    async def translation_audio_end(self, message: dict[str, Any]) -> None:
        await self._accept(AudioEnd.from_message(message))

    async def _accept(self, event: SessionEvent) -> None:
        """A worker's event for one utterance: released to the client in seq order."""
        if self.live is not None:
            await self._deliver(self.live.accept(event))

    async def _deliver(self, ready: list[SessionEvent]) -> None:
        for event in ready:
            if isinstance(event, AudioPiece):
                await self.send(bytes_data=event.wav)
            elif isinstance(event, AudioEnd):
                await self.send(
                    text_data=audio_end_message(
                        seq=event.seq, pieces=event.pieces, error=event.error, timings=event.timings
                    )
                )
            elif isinstance(event, UtteranceResult):
                result = event.result
                timings = result["timings"]
                if event.sent_at:
                    timings["push_ms"] = round((time.time() - event.sent_at) * 1000.0, 2)
                if event.submit_ms is not None:
                    timings["submit_ms"] = event.submit_ms
                await self.send(text_data=bounded_json(result, text_fields=("text", "source_text")))
            else:
                await self.send(text_data=error_message(event.error, seq=event.seq))
