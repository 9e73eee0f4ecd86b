"""Worker faults on the real stack (Daphne + Celery workers, Redis database 10, PostgreSQL):
a worker killed with SIGKILL mid-task (a live utterance, an upload: another worker finishes it,
recovered on the heartbeat within 60 s, with the default timeouts), a task delivered twice while
its worker is alive, a model that cannot load, a lost task, a client that leaves mid-task.
Nothing is lost, no row stays `queued`/`running` for ever and no job produces two results."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import time
import uuid
from datetime import timedelta

import psycopg
import pytest
import redis
import soundfile
from celery import Celery
from django.core.management import call_command
from django.utils import timezone

from tests.doubles import DOUBLES_ENV
from tests.services import drop_postgres_database, fresh_postgres_database, fresh_redis_database
from tests.speech import speech_16k
from tests.stack import start_stack
from tests.translation.api.test_api_e2e import upload
from tests.wsclient import LiveClient, to_pcm16

pytestmark = [pytest.mark.services, pytest.mark.timeout(120)]

DB_NAME = "rutrans_rel_faults"
REDIS_DB = 10
# From a kill to the job's end: the bound. With the default timeouts (heartbeat expiry
# 15 s + one sweep interval 10 s) the re-queue comes at most 25 s after the kill.
RECOVERED_WITHIN_S = 60
SLOW_S = "30"  # a translation slow enough to kill mid-run


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory):
    env = {
        **DOUBLES_ENV,
        "RUTRANS_TRANSLATOR": "tests.doubles.FaultyTranslator",
        "RESULT_TIMEOUT_S": "90",
        # These tests stop the only worker and leave rows queued on purpose; capacity admission
        # (tests/translation/jobs/) would rightly refuse the next session, so it is out of reach.
        "MAX_QUEUE_LAG_S": "3600",
        "UPLOAD_MAX_QUEUE_LAG_S": "3600",
        "ADMISSION_MAX_LOAD": "1000",
        "ADMISSION_MAX_LOOP_LAG_MS": "60000",
    }
    stack = start_stack(
        tmp_path_factory.mktemp("worker-faults"),
        database_url=fresh_postgres_database(DB_NAME),
        redis_url=fresh_redis_database(REDIS_DB),
        extra_env=env,
        with_worker=False,
    )
    stack.faults = {
        "killed": 0,
        "duplicates": 0,
        "load_failures": 0,
        "lost_tasks": 0,
        "disconnects": 0,
    }
    yield stack
    stack.stop_all()
    drop_postgres_database(DB_NAME)


def restart_worker(stack, sig: int = signal.SIGTERM, **env: str):
    """Stop the worker (SIGTERM, or SIGKILL of the whole process group) and start a fresh one
    with these extra environment variables."""
    stack.stop("worker", sig)
    base = {k: v for k, v in stack.env.items() if not k.startswith(("RUTRANS_TEST_", "STALE_"))}
    stack.env.clear()
    stack.env.update(base, **env)
    return stack.start_worker()


def row(stack, translation_id: str) -> dict:
    with psycopg.connect(stack.env["DATABASE_URL"], autocommit=True) as conn:
        cur = conn.execute(
            "SELECT status, attempts, error, text FROM translation_translation WHERE id = %s",
            (translation_id,),
        )
        status, attempts, error, text = cur.fetchone()
    return {"status": status, "attempts": attempts, "error": error, "text": text}


def wait_row(stack, translation_id: str, predicate, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        current = row(stack, translation_id)
        if predicate(current):
            return current
        assert time.monotonic() < deadline, f"row {translation_id} is still {current}"
        time.sleep(0.1)


async def send_utterance(client: LiveClient) -> dict:
    """Speech + flush; returns the `queued` status (with the row id)."""
    already = sum(1 for m in client.received.messages if m.get("state") == "queued")
    await client.stream(to_pcm16(speech_16k("Thank you very much.", "en"), 16_000), realtime=False)
    await client.flush()
    await client.wait_for(lambda m: m.get("state") == "queued" and m["seq"] == already, 10)
    return [m for m in client.received.messages if m.get("state") == "queued"][already]


def start_second_worker(stack, **env: str):
    """Another worker beside `worker`: the stack's environment without the fault injection
    of `worker` (so it is fast), plus `env`."""
    saved = dict(stack.env)
    base = {k: v for k, v in saved.items() if not k.startswith("RUTRANS_TEST_")}
    stack.env.clear()
    stack.env.update(base, **env)
    try:
        return stack.start_worker("worker2")
    finally:
        stack.env.clear()
        stack.env.update(saved)


async def test_worker_killed_mid_utterance_another_worker_finishes_it(fault_stack, record_property):
    restart_worker(fault_stack, RUTRANS_TEST_TRANSLATE_DELAY_S=SLOW_S)
    client = await LiveClient.connect(fault_stack.ws_url, {"mode": "en->ru"})
    queued = await send_utterance(client)
    running = wait_row(fault_stack, queued["id"], lambda r: r["status"] == "running", 15)
    assert running["attempts"] == 1
    start_second_worker(fault_stack)  # idle, fast
    try:
        killed_at = time.monotonic()
        fault_stack.stop("worker", signal.SIGKILL)  # mid-task: never acknowledged
        fault_stack.faults["killed"] += 1
        assert row(fault_stack, queued["id"])["status"] == "running"

        results = await client.wait_results(1, RECOVERED_WITHIN_S)
        recovered_s = time.monotonic() - killed_at
        message, wav, _ = results[0]
        assert message["seq"] == 0 and message["id"] == queued["id"] and wav
        assert message["text"].startswith("en->ru")
        done = row(fault_stack, queued["id"])
        assert done["status"] == "done" and done["attempts"] == 2
        await asyncio.sleep(2.0)
        assert len(client.received.results) == 1 and client.received.errors == []
        assert "re-queued" in fault_stack.log_text("worker2") + fault_stack.log_text("daphne")
        await client.close()
    finally:
        fault_stack.stop("worker2")
    record_property("live_recovered_after_kill_s", round(recovered_s, 1))
    print(f"\nlive utterance: killed worker's job done {recovered_s:.1f} s after the kill")


async def test_worker_killed_mid_batch_loses_no_row(fault_stack, record_property):
    """Three sessions' utterances in ONE batch (the batcher waits for company) when the worker
    is killed: every row is recovered as a lone one is, each session gets its own result once."""
    restart_worker(
        fault_stack, RUTRANS_TEST_TRANSLATE_DELAY_S=SLOW_S, BATCH_WAIT_MS="3000", BATCH_MAX="3"
    )
    clients = [
        await LiveClient.connect(fault_stack.ws_url, {"mode": mode})
        for mode in ("en->ru", "ru->en", "en->ru")
    ]
    queued = [await send_utterance(client) for client in clients]
    for q in queued:
        assert wait_row(fault_stack, q["id"], lambda r: r["status"] == "running", 15)
    await asyncio.sleep(4.0)  # the batch (all three) is inside the slow model call
    assert "batching:" in fault_stack.log_text("worker")
    start_second_worker(fault_stack)
    try:
        killed_at = time.monotonic()
        fault_stack.stop("worker", signal.SIGKILL)
        fault_stack.faults["killed"] += 1
        for client, q, mode in zip(clients, queued, ("en->ru", "ru->en", "en->ru"), strict=True):
            (message, wav, _), *_ = await client.wait_results(1, RECOVERED_WITHIN_S)
            assert message["id"] == q["id"] and message["seq"] == 0 and wav
            assert message["text"].startswith(mode)
            assert row(fault_stack, q["id"])["attempts"] == 2
        recovered_s = time.monotonic() - killed_at
        await asyncio.sleep(2.0)
        for client in clients:
            assert len(client.received.results) == 1 and client.received.errors == []
            await client.close()
    finally:
        fault_stack.stop("worker2")
    record_property("batch_recovered_after_kill_s", round(recovered_s, 1))
    print(f"\nbatch of 3: the killed worker's rows done {recovered_s:.1f} s after the kill")


def speech_wav(text: str = "Thank you very much.") -> bytes:
    out = io.BytesIO()
    soundfile.write(out, speech_16k(text, "en"), 16_000, format="WAV", subtype="PCM_16")
    return out.getvalue()


def test_worker_killed_mid_upload_another_worker_finishes_it(fault_stack, record_property):
    restart_worker(fault_stack, RUTRANS_TEST_TRANSLATE_DELAY_S=SLOW_S)
    status, _, job = upload(fault_stack, speech_wav(), "talk.wav", mode="en->ru")
    assert status == 202, job
    wait_row(fault_stack, job["id"], lambda r: r["status"] == "running", 15)
    start_second_worker(fault_stack)
    try:
        killed_at = time.monotonic()
        fault_stack.stop("worker", signal.SIGKILL)
        fault_stack.faults["killed"] += 1
        done = wait_row(
            fault_stack, job["id"], lambda r: r["status"] in ("done", "failed"), RECOVERED_WITHIN_S
        )
        recovered_s = time.monotonic() - killed_at
        assert done["status"] == "done" and done["attempts"] == 2, done
        assert done["text"].startswith("en->ru")
    finally:
        fault_stack.stop("worker2")
    record_property("upload_recovered_after_kill_s", round(recovered_s, 1))
    print(f"\nupload: killed worker's job done {recovered_s:.1f} s after the kill")


async def test_a_task_delivered_twice_runs_once_while_its_worker_lives(fault_stack):
    restart_worker(fault_stack, RUTRANS_TEST_TRANSLATE_DELAY_S="6")
    client = await LiveClient.connect(fault_stack.ws_url, {"mode": "en->ru"})
    queued = await send_utterance(client)
    wait_row(fault_stack, queued["id"], lambda r: r["status"] == "running", 15)
    start_second_worker(fault_stack)
    try:
        # What the broker does after a visibility timeout shorter than the task, or a re-queue
        # racing a worker that was only slow: a second message for a row that is running.
        # A client app of its own, never the process's current app (the product's is).
        broker = Celery(broker=fault_stack.env["REDIS_URL"], set_as_current=False)
        broker.send_task("translation.translate", args=[queued["id"]], queue="gpu")
        broker.close()
        fault_stack.faults["duplicates"] += 1
        deadline = time.monotonic() + 10
        # Either worker may take it: the other one skips it (start_translation), or its own
        # (a threads pool has free threads) sees that one of its threads runs it.
        while "skipping a duplicate" not in fault_stack.log_text("worker2") and (
            "already runs in this worker" not in fault_stack.log_text("worker")
        ):
            assert time.monotonic() < deadline, fault_stack.log_text("worker2")[-2000:]
            await asyncio.sleep(0.2)
        results = await client.wait_results(1, 15)
        assert results[0][0]["id"] == queued["id"]
        await asyncio.sleep(1.0)
        assert len(client.received.results) == 1 and client.received.errors == []
        assert row(fault_stack, queued["id"])["attempts"] == 1  # the duplicate never started
        await client.close()
    finally:
        fault_stack.stop("worker2")


async def test_client_leaving_mid_task_still_completes_the_row(fault_stack):
    restart_worker(fault_stack, RUTRANS_TEST_TRANSLATE_DELAY_S="1.5")
    client = await LiveClient.connect(fault_stack.ws_url, {"mode": "en->ru"})
    queued = await send_utterance(client)
    wait_row(fault_stack, queued["id"], lambda r: r["status"] == "running", 10)
    await client.close()  # gone while the worker translates
    fault_stack.faults["disconnects"] += 1
    done = wait_row(fault_stack, queued["id"], lambda r: r["status"] in ("done", "failed"), 15)
    assert done["status"] == "done" and done["text"].startswith("en->ru")
    assert fault_stack.procs["worker"].poll() is None
    assert "Traceback" not in fault_stack.log_text("worker")


async def test_model_that_cannot_load_errors_per_utterance_then_recovers(fault_stack, tmp_path):
    flag = tmp_path / "weights-broken"
    flag.touch()
    worker = restart_worker(fault_stack, RUTRANS_TEST_LOAD_FAIL_FLAG=str(flag))
    client = await LiveClient.connect(fault_stack.ws_url, {"mode": "en->ru"})
    await send_utterance(client)
    await client.wait_results(1, 15)
    error = client.received.errors[0]
    assert error["seq"] == 0 and "could not load the translator" in error["error"]
    assert "weights are unreadable" in error["error"]
    fault_stack.faults["load_failures"] += 1

    flag.unlink()  # the model can load again: the worker retries after its back-off (10 s)
    deadline = time.monotonic() + 30
    while not client.received.results:
        assert time.monotonic() < deadline, client.received.messages
        await asyncio.sleep(1.0)
        queued = await send_utterance(client)
        await client.wait_results(queued["seq"] + 1, 15)
    message = client.received.results[0][0]
    assert message["text"].startswith("en->ru")
    # Every utterance was answered: errors until the model loaded, then results.
    answered = [e["seq"] for e in client.received.errors] + [
        m["seq"] for m, _, _ in client.received.results
    ]
    assert sorted(answered) == list(range(len(answered)))
    assert worker.poll() is None and fault_stack.procs["worker"] is worker  # never restarted
    await client.close()


async def test_a_queued_translation_whose_task_was_taken_and_lost_is_sent_again(fault_stack):
    fault_stack.stop("worker")
    client = await LiveClient.connect(fault_stack.ws_url, {"mode": "en->ru"})
    queued = await send_utterance(client)
    # A worker took the message off the queue and died before it started the row (or the
    # broker lost it): the row is `queued` and nothing waits for it in Redis.
    broker = redis.Redis.from_url(fault_stack.env["REDIS_URL"])
    taken = broker.lpop("gpu")
    assert taken and queued["id"].encode() in taken
    fault_stack.faults["lost_tasks"] += 1
    lost_at = time.monotonic()
    restart_worker(fault_stack)
    results = await client.wait_results(1, RECOVERED_WITHIN_S)
    assert results[0][0]["id"] == queued["id"] and results[0][1]
    done = row(fault_stack, queued["id"])
    assert done["status"] == "done" and done["attempts"] == 1
    assert client.received.errors == []
    await client.close()
    print(f"\nlost queued task: sent again and done {time.monotonic() - lost_at:.1f} s later")


async def test_lost_task_is_failed_by_the_sweeper_and_the_session_told(fault_stack):
    fault_stack.stop("worker")
    client = await LiveClient.connect(fault_stack.ws_url, {"mode": "en->ru"})
    queued = await send_utterance(client)
    # The broker loses the task (e.g. Redis flushed): nobody will ever run this row.
    broker = redis.Redis.from_url(fault_stack.env["REDIS_URL"])
    lost = broker.keys("gpu*")
    assert lost and broker.delete(*lost)
    fault_stack.faults["lost_tasks"] += 1
    assert row(fault_stack, queued["id"])["status"] == "queued"
    # Its re-sends from the database are used up (any web or worker sweeper would re-send it
    # otherwise: test_lost_queued_task_is_sent_again), so only the stale pass is left.
    with psycopg.connect(fault_stack.env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            "UPDATE translation_translation SET meta = meta || '{\"resent\": 99}'::jsonb "
            "WHERE id = %s",
            (queued["id"],),
        )

    # The last resort, not the re-send from the database (test_lost_queued_task_is_sent_again):
    # this worker re-sends only rows queued for over 600 s, so a slow restart cannot let the
    # re-send win the race against the 2 s stale pass.
    restart_worker(
        fault_stack,
        STALE_TRANSLATION_S="2",
        STALE_SWEEP_INTERVAL_S="0.5",
        WORKER_DEAD_AFTER_S="600",
    )
    await client.wait_results(1, 15)
    error = client.received.errors[0]
    assert error["seq"] == 0 and "marked failed" in error["error"]
    failed = row(fault_stack, queued["id"])
    assert failed["status"] == "failed" and "no worker finished" in failed["error"]
    # The session goes on, with a worker whose stale pass is back to its default (a 2 s one
    # could fail the next row too while the worker works through what earlier tests left).
    restart_worker(fault_stack)
    await send_utterance(client)
    results = await client.wait_results(2, 15)
    assert [m["seq"] for m, _, _ in results] == [1], client.received.messages
    await client.close()
    print(f"\nworker faults injected: {json.dumps(fault_stack.faults)}")


# --- the sweeper service and command, in-process ------------------------------------------------


def make_row(
    *, status: str, age_s: float, source: str = "upload", worker: str = "", attempts: int = 0
):
    from translation.models import Translation

    created = Translation.objects.create(
        id=uuid.uuid4(),
        source=source,
        status=status,
        reply_channel="" if source == "upload" else "nowhere.channel!x",
        seq=0 if source == "live" else None,
        worker=worker,
        attempts=attempts,
    )
    then = timezone.now() - timedelta(seconds=age_s)
    Translation.objects.filter(pk=created.pk).update(
        created_at=then, started_at=then if status == "running" else None
    )
    return created.pk


@pytest.mark.django_db(transaction=True)
def test_sweep_stale_fails_only_old_unfinished_rows_and_tells_watchers(capsys):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from translation.jobs.delivery import job_group
    from translation.models import Translation

    old_queued = make_row(status="queued", age_s=600)
    old_running = make_row(status="running", age_s=600, source="live")
    fresh_running = make_row(status="running", age_s=5)
    old_done = make_row(status="done", age_s=600)
    layer = get_channel_layer()
    watcher = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(job_group(old_queued), watcher)

    call_command("sweep_stale", "--older-than", "300")

    statuses = dict(Translation.objects.values_list("pk", "status"))
    assert statuses == {
        old_queued: "failed",
        old_running: "failed",
        fresh_running: "running",
        old_done: "done",
    }
    assert "2 stuck translation(s) marked failed" in capsys.readouterr().out
    event = async_to_sync(layer.receive)(watcher)
    assert event["job"]["status"] == "failed" and "no worker finished" in event["job"]["error"]
    assert Translation.objects.get(pk=old_running).finished_at is not None


# --- recovery, in-process (embedded liveness: only this process's identity is alive) ------------


@pytest.fixture
def enqueued(monkeypatch):
    """The ids re-queued by recovery (instead of running them on the embedded worker)."""
    sent: list[str] = []
    monkeypatch.setattr("translation.jobs.recovery.enqueue_translation", sent.append)
    return sent


def outcome():
    from translation.events import Outcome

    return Outcome(
        src="en",
        tgt="ru",
        text="привет",
        source_text="hi",
        wav=None,
        tts_failed=True,
        timings={},
        meta={},
    )


@pytest.mark.django_db(transaction=True)
def test_recovery_requeues_dead_workers_rows_and_fails_them_after_the_last_attempt(
    enqueued, settings
):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from translation.jobs.delivery import job_group
    from translation.jobs.liveness import this_worker
    from translation.jobs.recovery import recover_translations
    from translation.models import Translation

    settings.TRANSLATION_MAX_ATTEMPTS = 2
    first_run = make_row(status="running", age_s=5, worker="gpu@a#dead1", attempts=1)
    last_run = make_row(status="running", age_s=5, worker="gpu@a#dead1", attempts=2)
    alive = make_row(status="running", age_s=5, worker=this_worker(), attempts=1)
    queued = make_row(status="queued", age_s=5)
    layer = get_channel_layer()
    watcher = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(job_group(last_run), watcher)

    recovery = recover_translations()

    assert [r.pk for r in recovery.requeued] == [first_run]
    assert [r.pk for r in recovery.failed] == [last_run]
    assert enqueued == [str(first_run)]
    statuses = dict(Translation.objects.values_list("pk", "status"))
    assert statuses == {first_run: "queued", last_run: "failed", alive: "running", queued: "queued"}
    assert Translation.objects.get(pk=first_run).meta["recovered"] == ["gpu@a#dead1"]
    event = async_to_sync(layer.receive)(watcher)
    assert event["job"]["status"] == "failed"
    assert (
        "stopped (it was killed" in event["job"]["error"] and "2 attempts" in event["job"]["error"]
    )
    assert recover_translations() == type(recovery)([], [])  # nothing left to do


@pytest.mark.django_db(transaction=True)
def test_start_skips_a_row_running_on_a_live_worker_and_takes_over_a_dead_ones(settings):
    from translation.jobs.lifecycle import start_translation
    from translation.jobs.liveness import this_worker
    from translation.models import Translation

    settings.TRANSLATION_MAX_ATTEMPTS = 2
    mine = make_row(status="running", age_s=1, worker=this_worker(), attempts=1)
    assert start_translation(str(mine), worker="gpu@b#other") is None  # a duplicate: skipped
    assert Translation.objects.get(pk=mine).attempts == 1

    orphan = make_row(status="running", age_s=1, worker="gpu@a#dead1", attempts=1)
    started = start_translation(str(orphan), worker="gpu@b#other")  # redelivered: taken over
    assert started is not None and (started.worker, started.attempts) == ("gpu@b#other", 2)

    exhausted = make_row(status="running", age_s=1, worker="gpu@a#dead1", attempts=2)
    assert start_translation(str(exhausted), worker="gpu@b#other") is None
    assert Translation.objects.get(pk=exhausted).status == "failed"


@pytest.mark.django_db(transaction=True)
def test_only_the_current_run_records_the_outcome():
    from translation.jobs.lifecycle import fail_translation, finish_translation, start_translation
    from translation.models import Translation

    pk = make_row(status="queued", age_s=1)
    start_translation(str(pk), worker="gpu@a#1")
    Translation.objects.filter(pk=pk).update(status="queued")  # recovery re-queued it
    start_translation(str(pk), worker="gpu@b#2")  # ... and another worker started it again
    assert finish_translation(str(pk), outcome(), worker="gpu@a#1") is None  # superseded
    assert fail_translation(str(pk), "boom", worker="gpu@a#1") is None
    assert Translation.objects.get(pk=pk).status == "running"
    done = finish_translation(str(pk), outcome(), worker="gpu@b#2")
    assert done is not None and done.status == "done" and done.text == "привет"
    assert finish_translation(str(pk), outcome(), worker="gpu@b#2") is None  # idempotent

    requeued = make_row(status="queued", age_s=1, worker="gpu@a#1", attempts=1)
    # A worker thought dead that finishes before anyone restarted the row: its result stands,
    # and the re-queued message will find the row done.
    assert finish_translation(str(requeued), outcome(), worker="gpu@a#1").status == "done"
    assert start_translation(str(requeued), worker="gpu@b#2") is None
