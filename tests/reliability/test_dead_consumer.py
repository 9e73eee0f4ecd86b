"""A worker whose consumer has stopped for good (the broker gone for longer than its reconnect
budget, BROKER_RECONNECT_TRIES) exits at once with a non-zero code, though a task thread is in
the middle of a long translation and the batcher, speech and heartbeat threads are running.
While no worker consumes, /readyz says so (503) and a live session that connects is told
(`busy`: waiting for a worker) instead of waiting in silence; a supervisor's new worker
answers it, and recovery hands it the dead one's upload."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request

import pytest

from tests.doubles import DOUBLES_ENV
from tests.reliability.test_broker_restart import kill_broker, speech_wav, statuses
from tests.speech import speech_16k
from tests.stack import real_stack
from tests.translation.api.test_api_e2e import upload
from tests.wsclient import LiveClient, to_pcm16

pytestmark = [pytest.mark.services, pytest.mark.timeout(180)]

DB_NAME = "rutrans_rel_dead_consumer"
EXIT_WITHIN_S = 10.0


def readyz(stack) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(stack.http_url + "/readyz", timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def slow_stack(tmp_path):
    with real_stack(
        tmp_path,
        name=DB_NAME,
        redis_db=None,  # a redis-server of its own: the test stops it
        extra_env={
            **DOUBLES_ENV,
            "RUTRANS_TRANSLATOR": "tests.doubles.FaultyTranslator",
            "RUTRANS_TEST_TRANSLATE_DELAY_S": "60",  # a translation far longer than the test
            "BROKER_RECONNECT_TRIES": "1",
            "LIMIT_UPLOADS_PER_MINUTE": "0",
            "LIMIT_QUEUED_JOBS": "0",
            "STALE_SWEEP_INTERVAL_S": "2",
        },
    ) as stack:
        yield stack


async def test_worker_whose_consumer_stopped_exits_non_zero_at_once(slow_stack, record_property):
    stack = slow_stack
    worker = stack.procs["worker"]
    assert await asyncio.to_thread(readyz, stack) == (200, {"status": "ready"})
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

    # Redis back (empty), no worker: the web tier says so, and a new session is told.
    stack.redis_server.start()
    not_ready = (503, {"status": "not ready", "reason": "no worker is consuming the gpu queue"})
    deadline = time.monotonic() + 15
    while (ready := await asyncio.to_thread(readyz, stack)) != not_ready:
        assert time.monotonic() < deadline, ready
        await asyncio.sleep(0.5)
    live = await LiveClient.connect(stack.ws_url, {"mode": "en->ru"})
    told = await live.wait_for(lambda m: m.get("state") == "busy", 10)
    assert told["message"].startswith("waiting for a worker"), told
    await live.stream(to_pcm16(speech_16k("Thank you very much.", "en"), 16_000), realtime=False)
    await live.flush()

    # A supervisor's new worker: ready again, the session answered, the upload recovered.
    stack.env["RUTRANS_TEST_TRANSLATE_DELAY_S"] = "0"
    stack.start_worker()
    results = await live.wait_results(1, 30)
    assert results[0][0]["seq"] == 0
    await live.wait_for(lambda m: m.get("state") == "clear", 10)
    await live.close()
    assert (await asyncio.to_thread(readyz, stack))[0] == 200
    deadline = time.monotonic() + 30
    while statuses(stack, [job["id"]])[job["id"]] != "done":
        assert time.monotonic() < deadline, statuses(stack, [job["id"]])
        await asyncio.sleep(0.5)
