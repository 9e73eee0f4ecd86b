"""The Redis channel layer, made to forget the channel of a consumer that has closed.

channels_redis reads all of one process's channels from one Redis list and buffers each
message under its channel's name until that channel's consumer receives it (`receive_buffer`).
A message for a consumer that has already closed (the result of a live utterance whose caller
hung up, its WAV pieces and audio end, a job's status after its page left) was buffered for
ever: nobody receives on that channel again, so the web process grew by every late answer
(benchmarks/soak.py with churn: talkers hanging up before their last answer). This layer notes
a channel as gone when its consumer stops receiving (Channels cancels the consumer's receive
when the consumer ends), drops what it had buffered and what arrives for it later. The note
is kept as long as a late result can come (STALE_TRANSLATION_S), then forgotten too.

One consumer at a time reads the process's list for all of them (it holds the layer's receive
lock). When that consumer ends at the moment Redis answers its BZPOPMIN, channels_redis lost the
message, which was another session's: the reply was dropped with the cancelled read, and the
message is pushed to the backup queue only after the reply. Here the read runs in a task of its
own, shielded from the reader's cancellation, and the next reader takes what it brings.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any

from channels_redis import core

logger = logging.getLogger(__name__)

DEFAULT_GONE_KEEP_S = 3600.0


class RedisChannelLayer(core.RedisChannelLayer):
    """channels_redis's layer, less the buffers of closed consumers' channels."""

    def __init__(self, *args: Any, gone_keep_s: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gone_keep_s = gone_keep_s if gone_keep_s is not None else _stale_after_s()
        self.gone: OrderedDict[str, float] = OrderedDict()  # channel -> when it closed
        self.dropped = 0  # messages that came for a gone channel
        self.reads: dict[str, asyncio.Future] = {}  # the read in flight per process channel
        self.reads_handed_on = 0  # reads whose reader was cancelled, taken by the next

    async def receive(self, channel: str) -> dict[str, Any]:
        try:
            return await super().receive(channel)
        except asyncio.CancelledError:  # its consumer ended: nobody receives here again
            if "!" in channel:
                self.forget(channel)
            raise

    def forget(self, channel: str) -> None:
        """`channel`'s consumer is gone: drop its buffer and whatever comes for it later."""
        now = time.monotonic()
        self.gone[channel] = now
        self.gone.move_to_end(channel)
        while self.gone and next(iter(self.gone.values())) < now - self.gone_keep_s:
            self.gone.popitem(last=False)
        self.receive_buffer.pop(channel, None)

    async def receive_single(self, channel: str) -> tuple[Any, dict[str, Any]]:
        """The next message from Redis that some consumer of this process still wants. The
        read is shielded: a reader cancelled meanwhile leaves it in flight, and the next
        reader takes its message (as channels_redis's next holder of the lock would read)."""
        if "!" not in channel:
            return await self._wanted(channel)
        read = self.reads.get(channel)
        if read is None:
            read = self.reads[channel] = asyncio.ensure_future(self._wanted(channel))
            read.add_done_callback(_retrieved)  # a failure with no reader left is not noise
        else:  # started by a reader that was cancelled
            self.reads_handed_on += 1
        try:
            result = await asyncio.shield(read)
        except asyncio.CancelledError:
            if read.cancelled():
                self.reads.pop(channel, None)
            raise  # else only this reader has gone: the read goes on, for the next one
        except BaseException:
            self.reads.pop(channel, None)  # the read failed: the next reader reads anew
            raise
        self.reads.pop(channel, None)
        return result

    async def _wanted(self, channel: str) -> tuple[Any, dict[str, Any]]:
        while True:
            message_channel, message = await super().receive_single(channel)
            if isinstance(message_channel, list):  # one message for several local channels
                wanted = [c for c in message_channel if c not in self.gone]
                if wanted:
                    return wanted, message
            elif message_channel not in self.gone:
                return message_channel, message
            self.dropped += 1
            logger.debug("dropped a %s for gone %s", message.get("type"), message_channel)


def _retrieved(read: asyncio.Future) -> None:
    if not read.cancelled():
        read.exception()


def _stale_after_s() -> float:
    from django.conf import settings

    return float(getattr(settings, "STALE_TRANSLATION_S", DEFAULT_GONE_KEEP_S))
