"""The broker restarted under load, on the real stack: Redis (a private redis-server of this
test's own) is SIGKILLed while uploads are in flight and a live session is open, and started
again, empty, on the same port. Every upload ends, the open session and a new one each get their
next result, and the worker is the same process throughout (it reconnects; no supervisor
restarts it). Three times in a row.
"""

from __future__ import annotations

import asyncio
import io
import re
import signal
import time
from datetime import datetime

import psycopg
import pytest
import soundfile

from tests.doubles import DOUBLES_ENV
from tests.services import PrivateRedis
from tests.speech import speech_16k
from tests.stack import real_stack
from tests.translation.api.test_api_e2e import upload
from tests.wsclient import LiveClient, to_pcm16

pytestmark = [pytest.mark.services, pytest.mark.timeout(240)]

DB_NAME = "rutrans_rel_broker"
UPLOADS = 12
DOWN_S = 5.0  # as the restart: the server is back, empty, this long after the kill
ROUNDS = 3


@pytest.fixture(scope="module")
def broker_stack(tmp_path_factory):
    with real_stack(
        tmp_path_factory.mktemp("broker-restart"),
        name=DB_NAME,
        redis_db=None,  # a redis-server of its own: the test stops it
        extra_env={
            **DOUBLES_ENV,
            # Each model pass takes a while, so uploads are queued and running at the kill.
            "RUTRANS_TRANSLATOR": "tests.doubles.FaultyTranslator",
            "RUTRANS_TEST_TRANSLATE_DELAY_S": "0.5",
            "RESULT_TIMEOUT_S": "60",
            "MAX_QUEUE_LAG_S": "3600",
            "UPLOAD_MAX_QUEUE_LAG_S": "3600",
            "ADMISSION_MAX_LOAD": "1000",
            "ADMISSION_MAX_LOOP_LAG_MS": "60000",
            # The sweep that re-queues rows whose task the empty broker lost comes soon.
            "STALE_SWEEP_INTERVAL_S": "2",
            "LIMIT_UPLOADS_PER_MINUTE": "0",
            "LIMIT_QUEUED_JOBS": "0",
        },
    ) as stack:
        yield stack


def speech_wav(text: str = "Thank you very much.") -> bytes:
    out = io.BytesIO()
    soundfile.write(out, speech_16k(text, "en"), 16_000, format="WAV", subtype="PCM_16")
    return out.getvalue()


def statuses(stack, ids: list[str]) -> dict[str, str]:
    with psycopg.connect(stack.env["DATABASE_URL"], autocommit=True) as conn:
        rows = conn.execute(
            "SELECT id::text, status FROM translation_translation WHERE id::text = ANY(%s)",
            (ids,),
        ).fetchall()
    return dict(rows)


def answered(client: LiveClient) -> tuple[int, int]:
    errors = [e for e in client.received.errors if "seq" in e]
    return len(client.received.results), len(errors)


async def next_result(client: LiveClient, timeout: float) -> dict | None:
    """Speak one utterance; its result, or None when it was answered with an error."""
    results, errors = answered(client)
    await client.stream(to_pcm16(speech_16k("Thank you very much.", "en"), 16_000), realtime=False)
    await client.flush()
    await client.wait_results(results + errors + 1, timeout)
    return client.received.results[-1][0] if answered(client)[0] > results else None


CONNECTED = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO celery\.worker\.consumer\.connection: "
    r"Connected to ",
    re.MULTILINE,
)


def consuming_again_after(log: str, since: float) -> float | None:
    """Seconds from `since` (epoch) to the worker's first broker connection after it."""
    for stamp in CONNECTED.findall(log):
        at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if at >= since:
            return at - since
    return None


def kill_broker(redis_server: PrivateRedis) -> None:
    assert redis_server.proc is not None
    redis_server.proc.send_signal(signal.SIGKILL)
    redis_server.proc.wait(timeout=10)
    redis_server.proc = None


async def test_worker_survives_broker_restart_with_work_in_flight(broker_stack, record_property):
    stack = broker_stack
    worker = stack.procs["worker"]
    wav = speech_wav()
    back_to_result: list[float] = []
    back_to_consuming: list[float] = []
    for round_ in range(ROUNDS):
        live = await LiveClient.connect(stack.ws_url, {"mode": "en->ru"})
        await next_result(live, 30)
        ids = []
        for _ in range(UPLOADS):
            status, _, job = await asyncio.to_thread(upload, stack, wav, "talk.wav", mode="en->ru")
            assert status == 202, job
            ids.append(job["id"])

        kill_broker(stack.redis_server)
        await asyncio.sleep(DOWN_S)
        stack.redis_server.start()
        back, back_at = time.monotonic(), time.time()

        # The open session's next utterance is translated (one said while the web process
        # reconnects may be answered with an error: never with silence).
        deadline = back + 60
        while await next_result(live, 30) is None:
            assert time.monotonic() < deadline, "the open session got no result again"
        back_to_result.append(time.monotonic() - back)
        fresh = await LiveClient.connect(stack.ws_url, {"mode": "en->ru"})
        first = await next_result(fresh, 30)
        assert first is not None and first["seq"] == 0, fresh.received.messages
        await fresh.close()
        await live.close()

        deadline = time.monotonic() + 60
        while left := [s for s in statuses(stack, ids).values() if s not in ("done", "failed")]:
            assert time.monotonic() < deadline, f"round {round_}: uploads still {left}"
            await asyncio.sleep(0.5)
        assert set(statuses(stack, ids).values()) == {"done"}, statuses(stack, ids)
        assert worker.poll() is None, f"round {round_}: the worker exited ({worker.returncode})"
        assert stack.procs["worker"] is worker
        consuming = consuming_again_after(stack.log_text("worker"), back_at)
        assert consuming is not None, f"round {round_}: the worker did not connect again"
        back_to_consuming.append(consuming)
    log = stack.log_text("worker")
    assert "Unrecoverable error" not in log
    # The project's transport is the one the worker runs (CELERY_BROKER_TRANSPORT is honoured).
    assert "transport:   translation.messaging.redis_transport:Transport" in log
    record_property("broker_back_to_consuming_s", [round(s, 1) for s in back_to_consuming])
    record_property("broker_back_to_live_result_s", [round(s, 1) for s in back_to_result])
    print(f"\nbroker back → worker consuming: {[f'{s:.1f}' for s in back_to_consuming]} s")
    print(f"broker back → live result: {[f'{s:.1f}' for s in back_to_result]} s")
