"""What the WebSocket consumers share: a consumer whose channel layer (Redis) fails closes
with a protocol error message, and its background tasks are stopped however it ends."""

from __future__ import annotations

import logging

from translation.streaming.protocol import error_message

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

# Daphne (autobahn) raises this from a send after the client has closed the socket (a reply
# still on its way when the client left); the session is over, not broken.
try:
    from autobahn.exception import Disconnected as ClientGone
except ImportError:  # pragma: no cover - another ASGI server

    class ClientGone(Exception):  # type: ignore[no-redef]
        """Never raised."""


class SurvivesChannelLayerLoss:
    """A consumer whose channel layer (Redis) fails is closed with a protocol error message
    instead of an unhandled exception, and its background tasks are stopped."""

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
