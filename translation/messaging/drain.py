"""A web process going down (SIGTERM: a deploy, a scale-in, `docker compose restart web`)
drains: it stops being healthy, so the proxy sends new connections to the other processes,
lets each open socket settle (a live session ends the utterance in progress and waits a while
for the results it is owed), then closes it with code 1012 "service restart" and a reason.
The page reconnects through the proxy to another process and the session (or the call's
lane) goes on there. What was not answered in time is still translated and stored: the rows
are in the database, the worker finishes them.

The one home of the process's draining state; rutrans_site/server.py starts a drain on SIGTERM,
`/healthz` reports it, and the consumers take part through `DrainsOnRestart`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

SERVICE_RESTART = 1012
"""Close code "service restart" (RFC 6455 registry): come back in a moment, elsewhere."""
RESTART_REASON = "service restart: this server is going down; reconnecting to another"


class _DrainState:
    def __init__(self) -> None:
        self.started_at: float | None = None
        self.consumers: weakref.WeakSet[DrainsOnRestart] = weakref.WeakSet()

    @property
    def draining(self) -> bool:
        return self.started_at is not None


state = _DrainState()


def is_draining() -> bool:
    return state.draining


class DrainsOnRestart:
    """A WebSocket consumer that takes part in the process's drain: refused with 1012 while the
    process drains (the page retries and lands on another process), and closed with 1012 after
    `settle_before_restart` when a drain starts."""

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        if state.draining:
            await self.accept()  # type: ignore[attr-defined]
            await self.close(code=SERVICE_RESTART, reason=RESTART_REASON)  # type: ignore[attr-defined]
            return
        state.consumers.add(self)
        await super().websocket_connect(message)  # type: ignore[misc]

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        state.consumers.discard(self)
        await super().websocket_disconnect(message)  # type: ignore[misc]

    async def settle_before_restart(self, deadline: float) -> None:
        """Finish what the client is owed, until `deadline` (monotonic); nothing by default."""

    async def drain(self, deadline: float) -> None:
        try:
            await self.settle_before_restart(deadline)
        except Exception:  # a session that cannot settle is still closed
            logger.exception("%s: could not settle before the restart", type(self).__name__)
        state.consumers.discard(self)
        try:
            await self.close(code=SERVICE_RESTART, reason=RESTART_REASON)  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - the client may have gone meanwhile
            pass


async def drain_all() -> int:
    """Drain every open socket of this process: wait DRAIN_NOTICE_S first (the proxy's health
    check sees the process go unhealthy, so the reconnects land elsewhere), then settle and
    close them all at once, each within DRAIN_TIMEOUT_S. Returns how many were closed."""
    if state.started_at is None:
        state.started_at = time.monotonic()
    consumers = list(state.consumers)
    logger.warning(
        "draining: %d open sockets are closed with 1012 within %.0f s",
        len(consumers),
        settings.DRAIN_NOTICE_S + settings.DRAIN_TIMEOUT_S,
    )
    await asyncio.sleep(settings.DRAIN_NOTICE_S)
    consumers = list(state.consumers)  # including any that connected before the flag was seen
    deadline = time.monotonic() + settings.DRAIN_TIMEOUT_S
    await asyncio.gather(*(consumer.drain(deadline) for consumer in consumers))
    return len(consumers)
