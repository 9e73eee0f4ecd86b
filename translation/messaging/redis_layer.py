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
        """The next message from Redis that some consumer of this process still wants."""
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


def _stale_after_s() -> float:
    from django.conf import settings

    return float(getattr(settings, "STALE_TRANSLATION_S", DEFAULT_GONE_KEEP_S))
