"""A live session when its web process drains (translation/messaging/drain.py): the utterance
in progress is ended and queued like a pause would end it, and the session waits, until the
drain's deadline, for the results of everything it cut, so that the page hears them before it
reconnects elsewhere. Results later than that are still translated and stored (the call's
transcript has them); only their push over this socket is lost."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from translation.messaging.drain import DrainsOnRestart

if TYPE_CHECKING:
    from translation.streaming.session import LiveSession, PendingUtterance

SETTLE_POLL_S = 0.05


class LiveSessionDrains(DrainsOnRestart):
    live: LiveSession | None
    submissions: asyncio.Queue[PendingUtterance | None]

    def _queue(self, pending: list[PendingUtterance]) -> None:
        raise NotImplementedError

    async def settle_before_restart(self, deadline: float) -> None:
        live = self.live
        if live is None:
            return
        self._queue(live.flush("restart"))
        while live.in_flight > 0 and time.monotonic() < deadline:
            await asyncio.sleep(SETTLE_POLL_S)
