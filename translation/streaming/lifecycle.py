"""A live session's lifecycle: one explicit phase and the moves between them, and what a
session does when its web process drains.

    opening ──admit──▶ admitted ──start──▶ live ──drain──▶ draining
       │                  │                 │                 │
       └─refuse─▶ refused └──────────────── close ────────────┴──▶ closed

`opening`: the socket is accepted (so a refusal's reason reaches the page) and admission is
being decided. `refused`: not admitted, for lack of room (translation/jobs/capacity.py) or over
the client's own limits (translation/limits); it holds no place anywhere. `admitted`: counted in
the process's open sessions and in its client's live sessions. `live`: its VAD is loaded and its
submitter and watchdog run. `draining`: the web process is going down (translation/messaging/
drain.py): the utterance in progress is ended and queued like a pause would end it, and the
session waits, until the drain's deadline, for the results of everything it cut, so that the
page hears them before it reconnects elsewhere (later results are still translated and stored:
the call's transcript has them; only their push over this socket is lost). `closed`: its places
are given back, once, however it ended.
"""

from __future__ import annotations

import asyncio
import time
from enum import StrEnum
from typing import TYPE_CHECKING

from translation.messaging.drain import DrainsOnRestart

if TYPE_CHECKING:
    from translation.streaming.session import LiveSession, PendingUtterance

SETTLE_POLL_S = 0.05


class Phase(StrEnum):
    OPENING = "opening"
    REFUSED = "refused"
    ADMITTED = "admitted"
    LIVE = "live"
    DRAINING = "draining"
    CLOSED = "closed"


TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.OPENING: frozenset({Phase.REFUSED, Phase.ADMITTED, Phase.CLOSED}),
    Phase.REFUSED: frozenset({Phase.CLOSED}),
    Phase.ADMITTED: frozenset({Phase.LIVE, Phase.CLOSED}),
    Phase.LIVE: frozenset({Phase.DRAINING, Phase.CLOSED}),
    Phase.DRAINING: frozenset({Phase.CLOSED}),
    Phase.CLOSED: frozenset(),
}
"""Allowed moves, from → to; `closed` is final."""

HOLDS_PLACES = frozenset({Phase.ADMITTED, Phase.LIVE, Phase.DRAINING})
"""Phases in which the session counts in the open sessions and its client's live sessions."""


class IllegalTransition(ValueError):
    """A move the lifecycle does not have (a bug in the consumer, not a race)."""


def check(current: Phase, target: Phase) -> None:
    """Raise IllegalTransition unless `current → target` is in TRANSITIONS."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(f"a live session cannot go from '{current}' to '{target}'")


class LiveSessionDrains(DrainsOnRestart):
    live: LiveSession | None
    submissions: asyncio.Queue[PendingUtterance | None]
    phase: Phase

    def _queue(self, pending: list[PendingUtterance]) -> None:
        raise NotImplementedError

    def move(self, target: Phase) -> None:
        """Move the session to `target` (checked against TRANSITIONS)."""
        check(self.phase, target)
        self.phase = target

    async def settle_before_restart(self, deadline: float) -> None:
        live = self.live
        if self.phase is not Phase.LIVE or live is None:
            return
        self.move(Phase.DRAINING)
        self._queue(live.flush("restart"))
        while live.in_flight > 0 and time.monotonic() < deadline:
            await asyncio.sleep(SETTLE_POLL_S)
