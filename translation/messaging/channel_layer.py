"""The channel layer from sync code (a worker, a view, a sweeper): each call runs on the loop
that owns the layer's connections (`channel_layer_loop`), and a failed push is logged, never
raised (whoever listened has gone away, or Redis is down: the history row is complete)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from channels.layers import get_channel_layer

from translation.backend import task_backend
from translation.events import Event

logger = logging.getLogger(__name__)


def send_event(channel: str, event: Event) -> bool:
    """Send one typed event to one consumer's channel."""
    message = event.to_message()
    return _on_channel_layer(channel, lambda layer: layer.send(channel, message))


def group_send_event(group: str, event: Event) -> bool:
    """Send one typed event to every consumer in `group`."""
    message = event.to_message()
    return _on_channel_layer(group, lambda layer: layer.group_send(group, message))


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


def remember_event_loop(loop: asyncio.AbstractEventLoop) -> None:
    """The server's loop (a consumer's), where the embedded backend's in-memory channel layer
    lives: sync code reaches that layer only from it."""
    task_backend().remember_server_loop(loop)


_layer_loop: asyncio.AbstractEventLoop | None = None
_layer_loop_lock = threading.Lock()


def channel_layer_loop() -> asyncio.AbstractEventLoop:
    """The event loop on which sync code (a Celery worker, a view) talks to the channel layer.

    Embedded: the server's own loop (the in-memory layer lives there). Otherwise one private
    loop on a daemon thread for the whole process, so channels_redis keeps its connection pool
    between pushes instead of `async_to_sync` building a loop and a connection per push.
    """
    loop = task_backend().server_loop()
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
