"""`/ws/translate`: the live translation WebSocket, a thin async shell over `LiveSession` and
the job services (translation/protocol/ has the messages). One handler per
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
from django.db import DatabaseError

from translation import events
from translation.audio.pcm import AudioFormatError
from translation.events import AudioEnd, AudioPiece, SessionEvent, UtteranceFailed, UtteranceResult
from translation.jobs import capacity, submit
from translation.limits import quotas
from translation.limits.clients import client_of_scope
from translation.messaging.channel_layer import remember_event_loop
from translation.messaging.sockets import SurvivesChannelLayerLoss
from translation.protocol.control import FLUSH, ProtocolError, SessionConfig
from translation.protocol.messages import (
    CLIENT_LIMIT_CLOSE_CODE,
    TRY_AGAIN_LATER,
    ConfiguredStatus,
    FlushedStatus,
    QueuedStatus,
    ReadyStatus,
    audio_end_message,
    bounded_json,
    capacity_status_message,
    close_reason,
    error_message,
    history_status_message,
)
from translation.streaming import calls, ingest
from translation.streaming.captions import CaptionState
from translation.streaming.lifecycle import HOLDS_PLACES, LiveSessionDrains, Phase
from translation.streaming.live_captions import LiveCaptions
from translation.streaming.overload import OverloadNotices, status_for
from translation.streaming.session import MAX_IN_FLIGHT, LiveSession, PendingUtterance

logger = logging.getLogger(__name__)

WATCH_INTERVAL_S = 0.05


class TranslateConsumer(
    LiveCaptions, LiveSessionDrains, SurvivesChannelLayerLoss, AsyncWebsocketConsumer
):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.phase = Phase.OPENING  # the lifecycle (translation/streaming/lifecycle.py)
        self.session_id = uuid.uuid4().hex
        self.live: LiveSession | None = None
        self.submissions: asyncio.Queue[PendingUtterance | None] = asyncio.Queue()
        self.captions: CaptionState | None = None
        self.partial_senders: set[asyncio.Task] = set()
        self.watchdog: asyncio.Task | None = None
        self.overload = OverloadNotices()
        self.lane: calls.CallLane | None = None  # set when the control names a call

    async def connect(self) -> None:
        opened_at = time.monotonic()  # a page's audio held from here is placed back (clock.py)
        self.client = client_of_scope(self.scope)
        remember_event_loop(asyncio.get_running_loop())
        await self.accept()  # before any refusal, so that the browser sees the close reason
        # Admission first (is there room? jobs/capacity.py), then the client's own limits
        # (translation/limits), so a session refused for lack of room takes no client's place.
        backlog = await capacity.monitor.fresh()
        refusal = capacity.counted_refusal(backlog)
        if refusal is not None:
            logger.info("session %s refused: %s", self.session_id, refusal.reason)
            self.move(Phase.REFUSED)
            status = status_for("refused", backlog, refusal)
            await self.send(text_data=capacity_status_message(status))
            await self.close(code=TRY_AGAIN_LATER, reason=close_reason(refusal.reason))
            return
        if not await self._count_client_session():
            return
        capacity.monitor.admit()
        # The VAD's ONNX load: off the loop.
        self.live = await asyncio.to_thread(LiveSession, opened_at=opened_at)
        self.submitter = asyncio.create_task(self._submit_in_order())
        self.watchdog = asyncio.create_task(self._watch())
        self.move(Phase.LIVE)
        await self.send(text_data=ReadyStatus(session=self.session_id).wire())

    # Channels runs `close_old_connections` on a shared worker thread before every message it
    # dispatches: a thread hop per 20 ms frame. Frames and results never touch the database
    # here (submissions use database_sync_to_async, which cleans up), so they skip the hop.
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
        if self.captions is not None:
            self.captions.log_agreement(self.session_id)
        await self.stop_background_tasks()

    async def _count_client_session(self) -> bool:
        """Count this session for its client; over LIMIT_LIVE_SESSIONS, refuse it (False)."""
        try:
            await asyncio.to_thread(quotas.join_live_session, self.client, self.session_id)
        except quotas.LimitExceeded as exc:
            logger.info("session %s refused for %s: %s", self.session_id, self.client.key, exc)
            await self.send(
                text_data=error_message(str(exc), code=exc.limit, retry_after_s=exc.retry_after_s)
            )
            self.move(Phase.REFUSED)
            await self.close(code=CLIENT_LIMIT_CLOSE_CODE, reason=str(exc)[:120])
            return False
        self.move(Phase.ADMITTED)
        return True

    async def stop_background_tasks(self) -> None:
        """Closed, once however it ends: the watchdog and partial senders cancelled, what was
        cut still recorded (the submitter ends after it), the session's places given back."""
        if self.phase is Phase.CLOSED:
            return
        held = self.phase in HOLDS_PLACES
        self.move(Phase.CLOSED)
        for sender in list(self.partial_senders):
            sender.cancel()
        if self.watchdog is not None and not self.watchdog.done():
            self.watchdog.cancel()
            self.submissions.put_nowait(None)
        if held:
            capacity.monitor.open_sessions -= 1
            await asyncio.to_thread(quotas.leave_live_session, self.client, self.session_id)

    # --- client → server -----------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        live = self.live
        if live is None:
            return
        if bytes_data is not None:
            try:
                live.take_frame(bytes_data)
            except ProtocolError as exc:
                if not live.warned_no_control:  # once, then dropped until a control arrives
                    live.warned_no_control = True
                    await self.send(text_data=error_message(str(exc)))
                return
            except AudioFormatError as exc:
                logger.info("session %s: dropped frame: %s", self.session_id, exc)
                await self.send(text_data=error_message(f"frame dropped: {exc}"))
                return
            ingest.scoring.add(live, self._ingested)  # scored with the other sessions' windows
            return
        if text_data is None:
            return
        if text_data == FLUSH:
            pending = live.flush("flush")
            self._queue(pending)
            if not pending:
                await self.send(text_data=FlushedStatus(utterance=False).wire())
            return
        try:
            config, ended = live.configure(text_data)
        except ProtocolError as exc:
            await self.send(text_data=error_message(str(exc)))
            return
        self._queue(ended)
        self._configure_captions(config)
        if not await self._join_call(config):
            return
        await self.send(
            text_data=ConfiguredStatus(
                mode=config.mode,
                src=config.src,
                tgt=config.tgt,
                sample_rate=config.sample_rate,
                channels=config.channels,
                voice=dict(config.voices),
                captions=self.captions is not None,
                call=config.call,
                speaker=config.speaker,
                store_audio=submit.keeps_audio(config),
            ).wire()
        )

    async def _join_call(self, config: SessionConfig) -> bool:
        """A control naming a call makes this connection that call's lane (once: a
        connection belongs to one lane; a page that changes calls opens a new one)."""
        if config.call is None or config.speaker is None:
            return True
        lane = self.lane
        if lane is not None:
            if (lane.call_id, lane.speaker) == (config.call, config.speaker):
                return True
            await self.send(
                text_data=error_message(
                    "this connection is already a lane of another call; open a new one"
                )
            )
            return False
        try:
            self.lane = await database_sync_to_async(calls.join_call)(
                call_id=config.call, speaker=config.speaker
            )
        except DatabaseError as exc:
            logger.warning(
                "session %s: could not join call %s: %s", self.session_id, config.call, exc
            )
            await self.send(
                text_data=error_message(f"could not join the call (the database): {exc}")
            )
        return True

    async def _ingested(self, pending: list[PendingUtterance]) -> None:
        """This session's queued audio is scored: submit what it ended, maybe ask a partial."""
        if self.live is None:
            return
        self._queue(pending)
        if self.captions is not None:
            await self._schedule_partial()

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
                live.results.push(
                    UtteranceFailed(
                        seq=item.seq,
                        error="too many utterances waiting for translation; this one was dropped",
                    )
                )
            )
            return
        started = time.perf_counter()
        lane = self.lane
        start_s, end_s = calls.placed(lane, item.utterance.start_s, item.utterance.end_s)
        try:
            row = await database_sync_to_async(submit.submit_utterance)(
                session_id=self.session_id,
                seq=item.seq,
                reply_channel=self.channel_name,
                audio=item.utterance.audio,
                config=item.config,
                stream_start_s=start_s,
                stream_end_s=end_s,
                timings=item.timings,
                call_id=lane.call_id if lane is not None else None,
                speaker=lane.speaker if lane is not None else "",
                client=self.client,
            )
        except quotas.LimitExceeded as exc:  # this utterance only; the session goes on
            await self._deliver(
                live.results.push(
                    UtteranceFailed(
                        seq=item.seq,
                        error=str(exc),
                        code=exc.limit,
                        retry_after_s=exc.retry_after_s,
                    )
                )
            )
            return
        except Exception as exc:
            logger.exception("session %s: could not queue utterance %d", self.session_id, item.seq)
            await self._deliver(
                live.results.push(
                    UtteranceFailed(seq=item.seq, error=f"could not queue the utterance: {exc}")
                )
            )
            return
        if notice := live.history_notice(submit.history_notice(row)):  # once while it lasts
            await self.send(text_data=history_status_message(notice, item.seq))
        submit_ms = round((time.perf_counter() - started) * 1000.0, 2)
        live.results.expect(item.seq, settings.RESULT_TIMEOUT_S, submit_ms=submit_ms)
        await self.send(
            text_data=QueuedStatus(
                seq=item.seq,
                id=str(row.id),
                submit_ms=submit_ms,
                start_s=round(start_s, 3),
                end_s=round(end_s, 3),
            ).wire()
        )

    async def _watch(self) -> None:
        """End an utterance when frames stop arriving; time out lost results."""
        live = self.live
        assert live is not None
        refreshed = time.monotonic()
        try:
            while True:
                before = time.monotonic()
                await asyncio.sleep(WATCH_INTERVAL_S)
                now = time.monotonic()
                # How late the loop woke us: frames wait at least this long to be ingested.
                loop_lag_ms = (now - before - WATCH_INTERVAL_S) * 1000.0
                live.note_loop_lag(loop_lag_ms)
                capacity.monitor.note_loop_lag(loop_lag_ms)
                if live.idle_due():
                    self._queue(live.flush("idle"))
                if live.results.deadlines:
                    await self._deliver(live.results.expire())
                await self._tell_overload(now)
                if now - refreshed >= quotas.LIVE_REFRESH_S:
                    refreshed = now
                    await asyncio.to_thread(
                        quotas.refresh_live_session, self.client, self.session_id
                    )
        except asyncio.CancelledError:
            pass

    async def _tell_overload(self, now: float) -> None:
        """`busy` while the workers are behind (every utterance still answered), `clear` after."""
        backlog = capacity.monitor.snapshot()
        state = self.overload.update(backlog, now)
        if state is not None:
            await self.send(text_data=capacity_status_message(status_for(state, backlog)))

    # --- server → client: one handler per event ------------------------------------------------

    async def translation_result(self, message: dict[str, Any]) -> None:
        await self._in_seq_order(UtteranceResult.from_message(message))

    async def translation_failed(self, message: dict[str, Any]) -> None:
        await self._in_seq_order(UtteranceFailed.from_message(message))

    async def translation_audio(self, message: dict[str, Any]) -> None:
        await self._in_seq_order(AudioPiece.from_message(message))

    async def translation_audio_end(self, message: dict[str, Any]) -> None:
        await self._in_seq_order(AudioEnd.from_message(message))

    async def history_lost(self, message: dict[str, Any]) -> None:
        # Out of seq order: its result went out already.
        lost = events.HistoryLost.from_message(message)
        await self.send(text_data=history_status_message("history_lost", lost.seq))

    async def _in_seq_order(self, event: SessionEvent) -> None:
        """A worker's event for one utterance: released to the client in seq order."""
        if self.live is not None:
            await self._deliver(self.live.results.push(event))

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
                if self.captions is not None:  # the final replaces the committed words
                    self.captions.settle(
                        event.seq, source_text=result.source_text or "", text=result.text
                    )
                if event.sent_at:
                    result.timings["push_ms"] = round((time.time() - event.sent_at) * 1000.0, 2)
                if event.submit_ms is not None:
                    result.timings["submit_ms"] = event.submit_ms
                await self.send(text_data=bounded_json(result, text_fields=("text", "source_text")))
            else:
                await self.send(
                    text_data=error_message(
                        event.error,
                        seq=event.seq,
                        code=event.code or "",
                        retry_after_s=event.retry_after_s,
                    )
                )
