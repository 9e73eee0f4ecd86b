"""translation/jobs/liveness.py: the workers beating now, and a worker that stops for good
(its heartbeat key removed at once, no more beats). On a private redis-server."""

from __future__ import annotations

import pytest

from tests.services import PrivateRedis
from translation.jobs import liveness
from translation.messaging.broker import broker_redis, forget_client

pytestmark = pytest.mark.services


@pytest.fixture
def private_redis(settings, monkeypatch):
    server = PrivateRedis().start()
    settings.REDIS_URL, settings.EMBEDDED = server.url, False
    forget_client()
    monkeypatch.setattr(liveness, "_worker", None)
    monkeypatch.setattr(liveness, "_stopped", liveness.threading.Event())
    yield server
    forget_client()
    server.stop()


def test_live_worker_count_counts_the_beating_processes_and_stop_removes_one(private_redis):
    assert liveness.live_worker_count() == 0
    liveness.beat("gpu@a#1")
    worker = liveness.this_worker("gpu@b")
    liveness.beat(worker)
    assert liveness.live_worker_count() == 2
    liveness.stop_heartbeat()
    assert liveness.live_worker_count() == 1  # this process's key is gone at once
    assert broker_redis().get(liveness.KEY_PREFIX + worker) is None
    assert liveness._stopped.is_set()  # the beating thread's loop ends


def test_live_worker_count_is_unknown_without_redis_and_one_embedded(private_redis, settings):
    private_redis.stop()
    with pytest.raises(liveness.LivenessUnknown):
        liveness.live_worker_count()
    liveness.this_worker("gpu@c")
    liveness.stop_heartbeat()  # Redis away: the key's TTL ends it; nothing raised
    settings.EMBEDDED = True
    assert liveness.live_worker_count() == 1
