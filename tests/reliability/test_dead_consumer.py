"""A worker whose consumer has stopped for good (the broker gone for longer than its reconnect
budget, BROKER_RECONNECT_TRIES) exits at once with a non-zero code, though a task thread is in
the middle of a long translation and the batcher, speech and heartbeat threads are running: a
supervisor restarts it, and recovery takes its rows over once its heartbeat is gone."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.doubles import DOUBLES_ENV
from tests.reliability.test_broker_restart import kill_broker, speech_wav, statuses
from tests.services import PrivateRedis, drop_postgres_database, fresh_postgres_database
from tests.stack import start_stack
from tests.translation.api.test_api_e2e import upload

pytestmark = [pytest.mark.services, pytest.mark.timeout(180)]

DB_NAME = "rutrans_rel_dead_consumer"
EXIT_WITHIN_S = 10.0


@pytest.fixture
def slow_stack(tmp_path):
    redis_server = PrivateRedis().start()
    stack = start_stack(
        tmp_path,
        database_url=fresh_postgres_database(DB_NAME),
        redis_url=redis_server.url,
        extra_env={
            **DOUBLES_ENV,
            "RUTRANS_TRANSLATOR": "tests.doubles.FaultyTranslator",
            "RUTRANS_TEST_TRANSLATE_DELAY_S": "60",  # a translation far longer than the test
            "BROKER_RECONNECT_TRIES": "1",
            "LIMIT_UPLOADS_PER_MINUTE": "0",
            "LIMIT_QUEUED_JOBS": "0",
        },
    )
    stack.redis_server = redis_server
    yield stack
    stack.stop_all()
    redis_server.stop()
    drop_postgres_database(DB_NAME)


async def test_worker_whose_consumer_stopped_exits_non_zero_at_once(slow_stack, record_property):
    stack = slow_stack
    worker = stack.procs["worker"]
    status, _, job = await asyncio.to_thread(upload, stack, speech_wav(), "talk.wav", mode="en->ru")
    assert status == 202, job
    deadline = time.monotonic() + 30
    while statuses(stack, [job["id"]]).get(job["id"]) != "running":
        assert time.monotonic() < deadline, "the upload never started"
        await asyncio.sleep(0.2)

    kill_broker(stack.redis_server)  # for good: one reconnect try (2 s), then it gives up
    killed = time.monotonic()
    deadline = killed + 60
    while worker.poll() is None:
        assert time.monotonic() < deadline, "the worker is still running 60 s after the kill"
        await asyncio.sleep(0.05)
    exited = time.monotonic() - killed
    log = stack.log_text("worker")
    assert "Unrecoverable error" in log, log[-3000:]
    assert "the consumer has stopped for good: exiting now" in log, log[-3000:]
    record_property("broker_killed_to_worker_exit_s", round(exited, 1))
    print(f"\nbroker killed → worker exited (code {worker.returncode}): {exited:.1f} s")
    assert worker.returncode != 0
    assert exited < EXIT_WITHIN_S, f"the worker took {exited:.1f} s to exit"
