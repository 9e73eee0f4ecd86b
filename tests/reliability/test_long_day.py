"""A day of operation on the real stack (Daphne + Celery worker), each test counting the
utterances sent, answered and stored, which must be equal: PostgreSQL really stopped and started
under live sessions, the media disk at its floor, a worker stopped (SIGTERM, a deploy) while it
holds a batch. A PostgreSQL and a Redis of this module's own: the shared ones are never touched.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import psycopg
import pytest

from tests.doubles import DOUBLES_ENV
from tests.reliability.test_service_faults import speak, upload
from tests.services import PrivatePostgres, PrivateRedis
from tests.stack import Stack, start_stack
from tests.wsclient import LiveClient

pytestmark = [pytest.mark.services, pytest.mark.timeout(240)]

OUTAGE_S = 10.0


@pytest.fixture(scope="module")
def servers():
    postgres = PrivatePostgres().create()
    redis_server = PrivateRedis().start()
    yield postgres, redis_server
    redis_server.stop()
    postgres.destroy()


@pytest.fixture
def make_stack(tmp_path, servers):
    """A stack on the module's servers with these settings; stopped at the test's end."""
    postgres, redis_server = servers
    stacks: list[Stack] = []

    def make(**env: str) -> Stack:
        stack = start_stack(
            tmp_path / f"stack{len(stacks)}",
            database_url=postgres.url,
            redis_url=redis_server.url,
            extra_env={**DOUBLES_ENV, "RESULT_TIMEOUT_S": "60", "MAX_QUEUE_LAG_S": "3600", **env},
        )
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop_all()


def stored(postgres: PrivatePostgres, session: str) -> list[tuple[int, str, bool]]:
    """(seq, status, store_audio) of a live session's history rows."""
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        return conn.execute(
            "SELECT seq, status, store_audio FROM translation_translation "
            "WHERE session_id = %s ORDER BY seq",
            (session,),
        ).fetchall()


async def say(client: LiveClient, timeout: float = 30) -> dict:
    """One utterance, answered: its result."""
    answered = len(client.received.results)
    await speak(client)
    results = await client.wait_results(answered + 1, timeout)
    return results[-1][0]


def notices(client: LiveClient) -> list[tuple[str, int]]:
    return [
        (m["state"], m["seq"])
        for m in client.received.messages
        if m.get("state") in ("history_paused", "recording_paused")
    ]


async def all_stored(postgres, clients, *, store_audio: bool, timeout: float = 30) -> float:
    """Wait until each session's rows are its answered utterances, each done once; seconds."""
    started = time.monotonic()
    for client in clients:
        expected = [(seq, "done", store_audio) for seq in range(len(client.received.results))]
        while (rows := stored(postgres, client.session)) != expected:
            assert time.monotonic() - started < timeout, (client.session, rows, expected)
            await asyncio.sleep(0.25)
    return time.monotonic() - started


async def test_postgres_stopped_for_10_s_under_two_live_sessions_loses_no_phrase(
    servers, make_stack, record_property
):
    postgres, _ = servers
    stack = make_stack()
    talkers = [await LiveClient.connect(stack.ws_url, {"mode": "en->ru"}) for _ in range(2)]
    for client in talkers:
        await say(client)

    postgres.stop()
    stopped = time.monotonic()
    late = []
    for _ in range(2):  # two phrases each, spoken while the database is away
        for client in talkers:
            began = time.monotonic()
            await say(client)
            late.append(time.monotonic() - began)
    await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped)))
    postgres.start()
    back = time.monotonic()
    for client in talkers:
        await say(client)
    newcomer = await LiveClient.connect(stack.ws_url, {"mode": "en->ru"})
    await say(newcomer)
    everyone = [*talkers, newcomer]
    stored_after_s = await all_stored(postgres, everyone, store_audio=True)

    for client in everyone:
        assert client.ws.close_code is None and client.received.errors == []
    assert [notices(client) for client in talkers] == [[("history_paused", 1)]] * 2
    assert notices(newcomer) == []
    sent = [4, 4, 1]
    assert [len(client.received.results) for client in everyone] == sent
    assert [len(stored(postgres, client.session)) for client in everyone] == sent
    record_property("outage_answer_s_max", round(max(late), 2))
    print(
        f"\nPostgreSQL stopped {OUTAGE_S:.0f} s: sent {sum(sent)}, answered {sum(sent)}, "
        f"stored {sum(sent)}; answers while down took {min(late):.2f}–{max(late):.2f} s; "
        f"every row stored {time.monotonic() - back:.1f} s after the restart "
        f"(the last wait {stored_after_s:.1f} s)"
    )
    for client in everyone:
        await client.close()


async def test_a_full_disk_refuses_uploads_and_live_speech_goes_on_without_recordings(
    servers, make_stack
):
    postgres, _ = servers
    stack = make_stack(MEDIA_MIN_FREE_MB=str(2**40))  # more than any disk has
    status, body = upload(stack)
    assert status == 507 and body["error"]["code"] == "disk_full", body
    client = await LiveClient.connect(stack.ws_url, {"mode": "en->ru"})
    for _ in range(3):
        assert (await say(client))["text"].startswith("en->ru")
    await all_stored(postgres, [client], store_audio=False)
    assert notices(client) == [("recording_paused", 0)] and client.received.errors == []
    media = stack.data_dir / "media"
    assert not media.exists() or [p for p in media.rglob("*") if p.is_file()] == []
    print("\ndisk at its floor: upload 507; sent 3, answered 3, stored 3 (text only), no file")
    await client.close()


async def test_a_worker_stopped_mid_batch_finishes_it_and_the_next_worker_does_the_rest(
    servers, make_stack, record_property
):
    """A deploy: SIGTERM to a worker whose batch (three sessions' utterances) is inside the
    model. It takes no new work, finishes the batch and exits; the next worker answers what
    comes after; no session sees an error."""
    stack = make_stack(
        RUTRANS_TRANSLATOR="tests.doubles.FaultyTranslator",
        RUTRANS_TEST_TRANSLATE_DELAY_S="3",
        BATCH_WAIT_MS="1500",
        BATCH_MAX="3",
    )
    clients = [await LiveClient.connect(stack.ws_url, {"mode": "en->ru"}) for _ in range(3)]
    for client in clients:
        await speak(client)
    await asyncio.sleep(2.5)  # the three are one batch, inside the slow model call
    old = stack.procs["worker"]
    saved = dict(stack.env)
    stack.env["RUTRANS_TEST_TRANSLATE_DELAY_S"] = "0"
    stack.start_worker("worker2")  # the new release, up before the old one stops
    stack.env.clear()
    stack.env.update(saved)

    os.killpg(old.pid, signal.SIGTERM)
    stopping = time.monotonic()
    for client in clients:  # the held batch is answered by the worker that held it
        (message, wav, _), *_ = await client.wait_results(1, 30)
        assert message["seq"] == 0 and wav
    for client in clients:  # what comes next goes to the new worker
        assert (await say(client))["seq"] == 1
    exit_code = await asyncio.to_thread(old.wait, 60)
    exited_s = time.monotonic() - stopping
    assert exit_code == 0, stack.log_text("worker")[-2000:]
    for client in clients:
        assert client.received.errors == [] and len(client.received.results) == 2
    await all_stored(servers[0], clients, store_audio=True)
    record_property("worker_sigterm_exit_s", round(exited_s, 1))
    print(
        f"\nworker SIGTERM mid-batch: sent 6, answered 6, stored 6; the batch was finished and "
        f"the worker exited {exited_s:.1f} s after the signal (code 0)"
    )
    for client in clients:
        await client.close()
