"""translation/backend/celery_backend.py: the workers beating now, a worker that stops for good
(its heartbeat key removed at once, no more beats), capacities that live and die with the
heartbeat, the web processes' open sessions. On a private redis-server."""

from __future__ import annotations

import time

import pytest

from tests.services import PrivateRedis
from translation.backend import LivenessUnknown, forget_backends, task_backend
from translation.backend.broker import broker_redis, forget_client
from translation.backend.celery_backend import (
    CAPACITY_PREFIX,
    KEY_PREFIX,
    OPEN_SESSIONS_KEY,
    OPEN_SESSIONS_TTL_S,
    CeleryBackend,
)
from translation.jobs import liveness

pytestmark = pytest.mark.services


@pytest.fixture
def backend(settings, monkeypatch):
    server = PrivateRedis().start()
    settings.REDIS_URL, settings.EMBEDDED = server.url, False
    forget_client()
    forget_backends()
    monkeypatch.setattr(liveness, "_worker", None)
    chosen = task_backend()
    assert isinstance(chosen, CeleryBackend)
    yield chosen, server
    forget_client()
    forget_backends()
    server.stop()


def test_live_worker_count_counts_the_beating_processes_and_stop_removes_one(backend):
    celery, _ = backend
    assert liveness.live_worker_count() == 0
    celery.beat("gpu@a#1")
    worker = liveness.this_worker("gpu@b")
    celery.beat(worker)
    assert liveness.live_worker_count() == 2
    assert liveness.live_workers(["gpu@a#1", worker, "gpu@gone#2", ""]) == {"gpu@a#1", worker}
    liveness.stop_heartbeat()
    assert liveness.live_worker_count() == 1  # this process's key is gone at once
    assert broker_redis().get(KEY_PREFIX + worker) is None
    assert celery._stopped.is_set()  # the beating thread's loop ends


def test_the_heartbeat_thread_beats_until_stopped(backend, settings):
    settings.WORKER_HEARTBEAT_S, settings.WORKER_DEAD_AFTER_S = 0.05, 0.3
    thread = liveness.start_heartbeat("gpu@t")
    assert thread is not None and thread.is_alive()
    time.sleep(0.5)  # past the TTL: only the thread's beats keep the key
    assert liveness.live_worker_count() == 1
    liveness.stop_heartbeat()
    thread.join(timeout=2)
    assert not thread.is_alive() and liveness.live_worker_count() == 0


def test_liveness_is_unknown_without_redis_and_one_embedded(backend, settings):
    _, server = backend
    server.stop()
    with pytest.raises(LivenessUnknown):
        liveness.live_worker_count()
    with pytest.raises(LivenessUnknown):
        liveness.live_workers(["gpu@x#1"])
    liveness.this_worker("gpu@c")
    liveness.stop_heartbeat()  # Redis away: the key's TTL ends it; nothing raised
    settings.EMBEDDED = True
    assert liveness.live_worker_count() == 1
    assert liveness.live_workers([liveness.this_worker(), "gpu@x#1"]) == {liveness.this_worker()}


def test_calibrated_capacities_live_and_die_with_the_heartbeat(backend, settings):
    settings.WORKER_DEAD_AFTER_S = 0.5
    worker = liveness.this_worker("calibrated@test")
    liveness.publish_capacity(17.5)
    assert liveness.calibrated_capacities() == {worker: 17.5}
    assert broker_redis().get(CAPACITY_PREFIX + worker) == b"17.5000"
    time.sleep(0.7)  # no heartbeat since: the worker is gone, and so is its capacity
    assert liveness.calibrated_capacities() == {}


def test_open_sessions_are_shared_between_web_processes(backend):
    celery, _ = backend
    assert celery.open_sessions_elsewhere("web-a", 3) == 0
    assert celery.open_sessions_elsewhere("web-b", 5) == 3
    assert celery.open_sessions_elsewhere("web-a", 2) == 5
    ttl = broker_redis().ttl(OPEN_SESSIONS_KEY + "web-a")
    assert 0 < ttl <= OPEN_SESSIONS_TTL_S  # a dead process stops counting


def test_nothing_is_scheduled_or_run_in_process(backend):
    celery, _ = backend
    assert celery.loses_messages
    assert not celery.purge_if_due(0.0, 10**9)  # celery beat's job
    assert celery.serial_executor() is None and celery.server_loop() is None
