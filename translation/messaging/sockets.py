"""What the WebSocket consumers share: a consumer whose channel layer (Redis) goes away keeps
its socket and receives again once Redis is back (the session is told, with a protocol error
message), or, when it joined groups (which an emptied Redis forgets), closes with one; its
background tasks are stopped however it ends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from translation.protocol.messages import error_message

logger = logging.getLogger(__name__)

# The channel layer's errors when Redis goes away (redis-py raises ConnectionError and
# TimeoutError, both also OSError-like; channels_redis passes them through).
CHANNEL_LAYER_ERRORS: tuple[type[BaseException], ...] = (OSError, ConnectionError, TimeoutError)
try:
    import redis.exceptions

    CHANNEL_LAYER_ERRORS += (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
except ImportError:  # pragma: no cover - redis is a dependency; the in-memory layer needs none
    pass

BROKER_LOST = "lost the connection to the message broker (Redis); reconnect in a moment"
BROKER_AWAY = (
    "lost the connection to the message broker (Redis); translations resume when it is back"
)
RECEIVE_RETRY_S = (0.5, 1.0, 2.0)
"""The waits between tries to receive again from a lost channel layer (the last one repeats)."""

# Daphne (autobahn) raises this from a send after the client has closed the socket (a reply
# still on its way when the client left); the session is over, not broken.
try:
    from autobahn.exception import Disconnected as ClientGone
except ImportError:  # pragma: no cover - another ASGI server

    class ClientGone(Exception):  # type: ignore[no-redef]
        """Never raised."""


class SurvivesChannelLayerLoss:
    """A consumer whose channel layer (Redis) fails is not ended by it: its own channel (the
    results' `reply_channel`) is received from again when Redis is back, and the client is
    told once per outage. A consumer with `closes_on_layer_loss` (it joined groups, which a
    restarted Redis has forgotten) is closed with a protocol error message instead, and so is
    any consumer whose other channel-layer calls fail; its background tasks are stopped."""

    closes_on_layer_loss = False
    _layer_receive: Callable[[], Awaitable[dict[str, Any]]]

    @property
    def channel_receive(self) -> Callable[[], Awaitable[dict[str, Any]]]:
        """What Channels' dispatch loop awaits for channel-layer messages (it sets the layer's
        own `receive` here in `__call__`)."""
        return self._layer_receive if self.closes_on_layer_loss else self._receive_surviving

    @channel_receive.setter
    def channel_receive(self, receive: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        self._layer_receive = receive

    async def _receive_surviving(self) -> dict[str, Any]:
        tries = 0
        while True:
            try:
                message = await self._layer_receive()
            except CHANNEL_LAYER_ERRORS as exc:
                if tries == 0:
                    logger.warning("%s: channel layer lost: %s", type(self).__name__, exc)
                    await self._tell_layer_lost()
                await asyncio.sleep(RECEIVE_RETRY_S[min(tries, len(RECEIVE_RETRY_S) - 1)])
                tries += 1
                continue
            if tries:
                logger.info("%s: channel layer back after %d tries", type(self).__name__, tries)
            return message

    async def _tell_layer_lost(self) -> None:
        try:
            await self.send(text_data=error_message(BROKER_AWAY))  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - not accepted yet, or the client left
            logger.info("%s: could not say the broker is away: %s", type(self).__name__, exc)

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)  # type: ignore[misc]
        except ClientGone:
            logger.info("%s: the client left while a reply was being sent", type(self).__name__)
        except CHANNEL_LAYER_ERRORS as exc:
            logger.warning("%s: channel layer unavailable: %s", type(self).__name__, exc)
            try:
                await send({"type": "websocket.send", "text": error_message(BROKER_LOST)})
                await send({"type": "websocket.close", "code": 1011})
            except Exception:  # noqa: BLE001 - the socket may be gone too
                pass
        finally:
            await self.stop_background_tasks()

    async def stop_background_tasks(self) -> None:
        """Cancel what the consumer started; called however it ends."""
