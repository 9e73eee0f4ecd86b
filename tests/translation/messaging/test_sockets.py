"""translation/messaging/sockets.py: a consumer's channel-layer receive outlives a lost Redis
(told once per outage), unless the consumer joined groups (then the loss ends it)."""

from __future__ import annotations

import json

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from translation.messaging import sockets


class Consumer(sockets.SurvivesChannelLayerLoss):
    def __init__(self, receive) -> None:
        self.channel_receive = receive  # as Channels' AsyncConsumer.__call__ sets it
        self.sent: list[dict] = []

    async def send(self, text_data: str) -> None:
        self.sent.append(json.loads(text_data))


def failing_then(message: dict, failures: int):
    calls = {"n": 0}

    async def receive() -> dict:
        calls["n"] += 1
        if calls["n"] <= failures:
            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379")
        return message

    return receive


async def test_a_lost_channel_layer_is_received_from_again_and_the_client_told_once(monkeypatch):
    monkeypatch.setattr(sockets, "RECEIVE_RETRY_S", (0.0,))
    consumer = Consumer(failing_then({"type": "translation.result"}, failures=3))
    assert await consumer.channel_receive() == {"type": "translation.result"}
    assert consumer.sent == [{"type": "error", "error": sockets.BROKER_AWAY}]


async def test_a_consumer_with_groups_is_ended_by_the_loss():
    consumer = Consumer(failing_then({"type": "job.status"}, failures=1))
    consumer.closes_on_layer_loss = True
    with pytest.raises(RedisConnectionError):
        await consumer.channel_receive()
    assert consumer.sent == []
