"""Every live session's VAD windows scored together, once per turn of the event loop.

A frame is validated and resampled when it arrives (`LiveSession.take_frame`); scoring its VAD
window waits for the task here, which the first frame of a turn starts and which runs as soon
as the frames already read are in. It scores the waiting windows of all sessions in one
Silero run per round (translation/audio/vad.py `score_together`: ~80 µs a window for 32
sessions instead of ~220 µs one by one), then hands each session the utterances its audio
ended. Nothing waits for a timer: a lone session is scored on the next turn, alone.

Each session's audio is still scored in order: a text message (flush, control) scores what
is queued first (`LiveSession.flush`), so nothing crosses an utterance boundary.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from translation.audio.vad import score_together
from translation.streaming.session import LiveSession, PendingUtterance

logger = logging.getLogger(__name__)

Ingested = Callable[[list[PendingUtterance]], Awaitable[None]]
"""What a session does with the utterances its queued audio ended (maybe none)."""


class SharedScoring:
    """The sessions with audio waiting to be scored, and the task that scores them."""

    def __init__(self) -> None:
        self._waiting: dict[LiveSession, Ingested] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, live: LiveSession, ingested: Ingested) -> None:
        """`live` has audio queued; `ingested` gets its utterances once it is scored."""
        self._waiting[live] = ingested
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self._waiting:
            waiting, self._waiting = self._waiting, {}
            try:
                ended = score_sessions(list(waiting))
            except Exception:  # their audio stays queued: scored with their next frame or flush
                logger.exception("live ingest: a round of VAD scoring failed")
                continue
            for live, pending in ended.items():
                try:
                    await waiting[live](pending)
                except Exception:  # one session's failure is not the others'
                    logger.exception("live ingest: a session's utterances were not handled")


def score_sessions(sessions: list[LiveSession]) -> dict[LiveSession, list[PendingUtterance]]:
    """Score all queued audio of `sessions`, a window of each per round, the round's windows
    in one run; the utterances each session's audio ended."""
    ended: dict[LiveSession, list[PendingUtterance]] = {live: [] for live in sessions}
    active = sessions
    while active:
        windows = [(live, live.segmenter.next_window()) for live in active]
        due = [(live, window) for live, window in windows if window is not None]
        if not due:
            break
        try:
            scores = score_together([live.segmenter.vad for live, _ in due], [w for _, w in due])
        except Exception:
            logger.exception("live ingest: a shared VAD run failed; scoring one by one")
            scores = [live.segmenter.vad.probability(window) for live, window in due]
        for (live, _), score in zip(due, scores, strict=True):
            ended[live] += live.scored(score)
        active = [live for live, _ in due]
    return ended


scoring = SharedScoring()
"""The process's one (the web process runs one event loop)."""
