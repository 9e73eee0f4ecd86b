"""kombu's Redis transport, with a broker that goes away while tasks are in flight survived
(`CELERY_BROKER_TRANSPORT` names it whenever REDIS_URL is set; the URL stays `redis://`).

What ends the worker with stock kombu 5.7 (Redis killed under acks_late tasks, then back):
the consumer's error handler (celery's `on_connection_error_after_connected`) first calls
`Connection.collect()`, which closes the channels and then detaches the transport
(`transport.client = None`), then `Connection.close()`. The first close of the consuming channel
stops at its pending BRPOP, whose socket is dead (`_brpop_read` re-raises the ConnectionError,
before the channel is marked closed). The second close finds the channel open and restores its
unacknowledged messages (the tasks in flight) through a new connection pool, whose parameters
come from `transport.client`, now None: `AttributeError: 'NoneType' object has no attribute
'hostname'` in `_connparams`. That is no connection error, so celery treats it as fatal
("Unrecoverable error") and the worker exits instead of reconnecting. A task thread that acks
late on the old channel after the reconnect hits the same AttributeError.

Two changes, each enough for the crash: a pending BRPOP on a dead connection no longer stops
the close (nothing can be read from it; the channel closes in the first pass, while the
transport is still attached), and a channel whose connection is closed raises a connection
error, as kombu and celery expect of a dead broker connection (an ack that cannot be sent is
logged; the restore at close is skipped), never AttributeError.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class BrokerConnectionClosed(RedisConnectionError):
    """This channel's broker connection was closed (lost and collected); the consumer has a new
    one. A connection error, so every caller's recovery path handles it."""


class Channel(kombu_redis.Channel):
    def close(self) -> None:
        if self._in_poll and not self.closed:
            try:
                self._brpop_read()
            except kombu_redis.Empty:
                pass
            except self.connection_errors:
                pass  # the BRPOP's socket is dead: nothing to read; close the rest now
        super().close()

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection is None or self.connection.client is None:
            raise BrokerConnectionClosed("the broker connection of this channel is closed")
        params: dict[str, Any] = super()._connparams(asynchronous=asynchronous)
        return params


class Transport(kombu_redis.Transport):
    Channel = Channel
