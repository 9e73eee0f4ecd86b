"""translation/messaging/redis_layer.py: a closed consumer's channel is forgotten, so the late
messages for it (a hung-up caller's last result and its WAV pieces) are dropped instead of
buffered in the web process for ever; the live consumers still get theirs."""

from __future__ import annotations

import asyncio
import functools

import pytest
from channels.utils import await_many_dispatch
from channels_redis.core import RedisChannelLayer as StockLayer

from tests.services import PrivateRedis
from translation.messaging.redis_layer import RedisChannelLayer

pytestmark = pytest.mark.services

LATE = {"type": "translation.audio", "wav": b"\0" * 20_000}


@pytest.fixture
def redis_url():
    server = PrivateRedis().start()
    yield server.url
    server.stop()


async def late_messages_to_closed_consumers(layer, closed: int) -> list[dict]:
    """`closed` consumers each receive on their channel the way Channels' consumer loop does,
    then end (the loop cancels its receive); a message comes for each afterwards. A live
    consumer meanwhile receives its own: what it got is returned."""
    alive = await layer.new_channel()
    got: list[dict] = []

    async def keep(message: dict) -> None:
        got.append(message)

    live = asyncio.ensure_future(
        await_many_dispatch([functools.partial(layer.receive, alive)], keep)
    )
    gone = []
    for _ in range(closed):
        channel = await layer.new_channel()
        consumer = asyncio.ensure_future(
            await_many_dispatch([functools.partial(layer.receive, channel)], keep)
        )
        await asyncio.sleep(0.01)
        consumer.cancel()  # the client hung up
        with pytest.raises(asyncio.CancelledError):
            await consumer
        gone.append(channel)
    for channel in gone:
        await layer.send(channel, LATE)
    await layer.send(alive, {"type": "translation.result", "seq": 1})
    for _ in range(100):
        if got:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # the late ones are read from Redis too
    live.cancel()
    with pytest.raises(asyncio.CancelledError):
        await live
    await layer.close_pools()
    return got


def hosts(url: str) -> list[dict]:
    return [{"address": url, "socket_timeout": 15}]


async def test_late_messages_for_closed_consumers_are_dropped_not_kept(redis_url):
    layer = RedisChannelLayer(hosts=hosts(redis_url))
    got = await late_messages_to_closed_consumers(layer, closed=30)
    assert got == [{"type": "translation.result", "seq": 1}]
    assert layer.dropped == 30
    assert sum(queue.qsize() for queue in layer.receive_buffer.values()) == 0
    assert len(layer.gone) == 31  # the 30 closed and, at the end, the live one


async def test_the_stock_layer_keeps_them_which_is_the_leak_this_fixes(redis_url):
    layer = StockLayer(hosts=hosts(redis_url))
    await late_messages_to_closed_consumers(layer, closed=30)
    assert sum(queue.qsize() for queue in layer.receive_buffer.values()) == 30


async def test_a_gone_note_is_itself_forgotten_after_gone_keep_s(redis_url):
    layer = RedisChannelLayer(hosts=hosts(redis_url), gone_keep_s=0.05)
    layer.forget("specific.a!1")
    await asyncio.sleep(0.1)
    layer.forget("specific.a!2")
    assert list(layer.gone) == ["specific.a!2"]
    await layer.close_pools()


async def test_a_consumer_that_ends_has_its_channel_forgotten(redis_url, settings):
    """Channels ends a consumer by cancelling its receive: that is what marks the channel."""
    from channels.generic.websocket import AsyncWebsocketConsumer
    from channels.layers import channel_layers
    from channels.testing import WebsocketCommunicator

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "translation.messaging.redis_layer.RedisChannelLayer",
            "CONFIG": {"hosts": hosts(redis_url)},
        }
    }
    channel_layers.backends.clear()
    names: list[str] = []

    class Echo(AsyncWebsocketConsumer):
        async def connect(self) -> None:
            names.append(self.channel_name)
            await self.accept()

    try:
        comm = WebsocketCommunicator(Echo.as_asgi(), "/ws/echo")
        assert (await comm.connect())[0]
        layer = channel_layers["default"]
        assert names and names[0] not in layer.gone
        await comm.disconnect()
        assert names[0] in layer.gone
        await layer.send(names[0], LATE)  # its late answer
        other = await layer.new_channel()
        await layer.send(other, {"type": "translation.result"})
        assert await asyncio.wait_for(layer.receive(other), 10) == {"type": "translation.result"}
        assert layer.dropped == 1 and names[0] not in layer.receive_buffer
        await layer.close_pools()
    finally:
        channel_layers.backends.clear()


class SlowReply:
    """channels_redis's BZPOPMIN read with its reply slowed down: the message has left Redis
    (popped) and is not yet in the backup queue, the window in which a reader may be
    cancelled (its consumer closed) while Redis answers."""

    async def _brpop_with_clean(self, index, channel, timeout):
        connection = self.connection(index)
        result = await connection.bzpopmin(channel, timeout=timeout)
        if result is None:
            return None
        await asyncio.sleep(0.5)  # the reply on its way
        _, member, timestamp = result
        await connection.zadd(self._backup_channel_name(channel), {member: float(timestamp)})
        return member


class SlowStock(SlowReply, StockLayer):
    pass


class SlowOurs(SlowReply, RedisChannelLayer):
    pass


async def a_reader_cancelled_while_redis_answers(layer) -> dict | None:
    """Consumer A holds the read; a message for consumer B arrives; A closes while the reply
    is on its way. What B receives within 3 s (None: nothing)."""
    a, b = await layer.new_channel(), await layer.new_channel()
    reader_a = asyncio.ensure_future(layer.receive(a))
    await asyncio.sleep(0.2)  # A holds the receive lock, in BZPOPMIN
    reader_b = asyncio.ensure_future(layer.receive(b))
    await asyncio.sleep(0.1)
    await layer.send(b, {"type": "translation.result", "seq": 7})
    await asyncio.sleep(0.2)  # popped, the reply not yet in
    reader_a.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader_a
    try:
        return await asyncio.wait_for(reader_b, 3)
    except TimeoutError:
        return None
    finally:
        await layer.close_pools()


async def test_a_message_read_when_its_reader_closes_still_reaches_its_consumer(redis_url):
    layer = SlowOurs(hosts=hosts(redis_url))
    assert await a_reader_cancelled_while_redis_answers(layer) == {
        "type": "translation.result",
        "seq": 7,
    }
    assert layer.reads_handed_on == 1


async def test_the_stock_layer_loses_it_which_is_the_race_this_fixes(redis_url):
    assert await a_reader_cancelled_while_redis_answers(SlowStock(hosts=hosts(redis_url))) is None
