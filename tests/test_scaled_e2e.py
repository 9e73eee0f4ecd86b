"""The web tier scaled out on real processes: two Daphne processes behind HAProxy (the compose
file's config, docker/haproxy/haproxy.cfg), one Celery worker, PostgreSQL and Redis. Sessions
spread over both processes; a process that gets SIGTERM (a deploy) answers what its sessions
already said, closes them with 1012 and a reason, and their reconnects through the proxy land
on the other process, where the call's lane goes on."""

from __future__ import annotations

import asyncio
import signal
import urllib.error
import urllib.request
import uuid

import psycopg
import pytest
import redis
import websockets

from tests.speech import speech_16k
from tests.stack import real_stack
from tests.wsclient import LiveClient, silence_pcm, to_pcm16
from translation.backend.celery_backend import CAPACITY_PREFIX
from translation.messaging.drain import SERVICE_RESTART

pytestmark = [pytest.mark.services, pytest.mark.timeout(300)]

DB_NAME = "rutrans_scaled"
PHRASES = [
    "The weather is lovely today, so we will walk to the river.",
    "Please send me the report before the meeting tomorrow.",
]


@pytest.fixture(scope="module")
def scaled(tmp_path_factory, model_env):
    """(stack, proxy port, {server name: process name})."""
    data_dir = tmp_path_factory.mktemp("scaled")
    env = model_env | {"DRAIN_NOTICE_S": "1.5", "DRAIN_TIMEOUT_S": "15", "CALIBRATE_AT_START": "1"}
    with real_stack(data_dir, name=DB_NAME, redis_db=10, extra_env=env) as stack:
        second = stack.start_web("web2")
        proxy = stack.start_proxy([stack.port, second])
        yield stack, proxy, {"web0": "daphne", "web1": "web2"}


async def connect(proxy_port: int, control: dict) -> tuple[LiveClient, str]:
    """A session through the proxy, and the server (web0/web1) that took it."""
    client = await LiveClient.connect(f"ws://127.0.0.1:{proxy_port}", control)
    return client, client.ws.response.headers["X-Served-By"]


def speech_pcm(text: str) -> bytes:
    return to_pcm16(speech_16k(text, "en"), 16_000)


def stored_texts(stack, call_id: str) -> list[tuple[str, float]]:
    with psycopg.connect(stack.env["DATABASE_URL"]) as db:
        rows = db.execute(
            "SELECT status, stream_start_s FROM translation_translation "
            "WHERE call_id = %s ORDER BY stream_start_s",
            (call_id,),
        ).fetchall()
    return [(state, start) for state, start in rows]


def test_the_proxy_checks_health_and_refuses_oversized_uploads(scaled):
    _stack, proxy, _names = scaled
    with urllib.request.urlopen(f"http://127.0.0.1:{proxy}/healthz", timeout=5) as response:
        assert response.status == 200 and response.headers["X-Served-By"] in {"web0", "web1"}
    request = urllib.request.Request(
        f"http://127.0.0.1:{proxy}/api/translations",
        data=b"x",
        headers={"Content-Length": str(10**9), "Content-Type": "application/octet-stream"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 413
    with pytest.raises(urllib.error.HTTPError) as hidden:
        urllib.request.urlopen(f"http://127.0.0.1:{proxy}/metrics", timeout=5)
    assert hidden.value.code == 404


def test_the_worker_published_its_calibrated_capacity(scaled):
    """Admission knows the box from the start: the worker timed a full batch when its models
    loaded and publishes the rate with its heartbeat (workers/calibration.py)."""
    stack, _proxy, _names = scaled
    assert "calibrated:" in stack.log_text("worker")
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    keys = list(client.scan_iter(CAPACITY_PREFIX + "*"))
    assert len(keys) == 1, keys
    assert float(client.get(keys[0])) > 0


async def test_sessions_spread_over_both_processes(scaled):
    _stack, proxy, _names = scaled
    sessions = [await connect(proxy, {"mode": "en->ru"}) for _ in range(4)]
    try:
        servers = [server for _client, server in sessions]
        assert sorted(servers) == ["web0", "web0", "web1", "web1"], servers  # least connections
    finally:
        for client, _server in sessions:
            await client.close()


async def test_a_draining_process_answers_closes_with_1012_and_the_lane_goes_on(scaled):
    stack, proxy, names = scaled
    call_id = uuid.uuid4().hex
    control = {"mode": "en->ru", "call": call_id, "speaker": "me"}
    client, server = await connect(proxy, control)
    other, _ = await connect(proxy, {"mode": "en->ru"})  # a session that stays where it is
    try:
        await client.stream(speech_pcm(PHRASES[0]))
        # The process goes down while the utterance is still open (no pause after it yet).
        stack.procs[names[server]].send_signal(signal.SIGTERM)
        results = await client.wait_results(1, 30)
        assert results[0][0]["seq"] == 0 and results[0][1] is not None  # answered, with speech
        await asyncio.wait_for(client.ws.wait_closed(), 20)
        assert client.ws.close_code == SERVICE_RESTART
        assert "service restart" in (client.ws.close_reason or "")
        # The page reconnects through the proxy: the draining process is out of rotation.
        again, new_server = await connect(proxy, control)
        assert new_server != server
        await again.stream(speech_pcm(PHRASES[1]))
        await again.stream(silence_pcm(2.5))
        second = await again.wait_results(1, 30)
        assert second[0][1] is not None
        await again.close()
        rows = stored_texts(stack, call_id)
        assert [state for state, _ in rows] == ["done", "done"], rows
        assert rows[0][1] < rows[1][1]  # on the call's clock, in the order spoken
    finally:
        await client.close()
        await other.close()
    # The other process's session was not touched.
    with pytest.raises(websockets.ConnectionClosed):
        await other.ws.recv()
    assert other.ws.close_code == 1000
