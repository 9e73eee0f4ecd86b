"""Honest overload on real processes (translation/jobs/capacity.py): ONE Celery worker that
translates slower than real time (tests.doubles.SlowTranslator) and a continuous talker. The
admitted session is told `busy` once its translations fall MAX_QUEUE_LAG_S behind, a session
that connects meanwhile is refused with close code 1013 and the reason, and every utterance of
the admitted session is still answered (late), with `clear` once the worker has caught up."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from tests.doubles import DOUBLES_ENV
from tests.speech import continuous_read_speech
from tests.stack import real_stack
from tests.wsclient import LiveClient, silence_pcm, to_pcm16

pytestmark = [pytest.mark.services, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def slow_stack(tmp_path_factory):
    env = {
        **DOUBLES_ENV,
        "RUTRANS_TRANSLATOR": "tests.doubles.SlowTranslator",
        "MAX_QUEUE_LAG_S": "3",
        "LIVE_CAPTIONS": "false",
    }
    data_dir = tmp_path_factory.mktemp("overload-stack")
    with real_stack(data_dir, name="rutrans_overload", redis_db=10, extra_env=env) as stack:
        yield stack


async def try_to_join(ws_url: str) -> tuple[dict, int, str]:
    """A new session while the worker is behind: (the status it got, close code, reason)."""
    origin = ws_url.replace("ws://", "http://")
    async with websockets.connect(ws_url + "/ws/translate", origin=origin) as ws:
        told = json.loads(await ws.recv())
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    return told, closed.value.rcvd.code, closed.value.rcvd.reason


async def test_behind_sessions_are_told_new_ones_refused_and_no_utterance_lost(slow_stack):
    audio, _ = continuous_read_speech()
    talker = await LiveClient.connect(slow_stack.ws_url, {"mode": "en->ru"})
    streaming = asyncio.create_task(talker.stream(to_pcm16(audio, 16_000) + silence_pcm(2.0)))

    busy = await talker.wait_for(lambda m: m.get("state") == "busy", 40)
    assert busy["lag_s"] > 3 and busy["queued"] >= 1 and "behind" in busy["message"]
    told, code, reason = await try_to_join(slow_stack.ws_url)
    assert (told["type"], told["state"], code) == ("status", "refused", 1013)
    assert reason == told["message"] and reason.startswith("translator busy")
    assert told["retry_after_s"] >= 5

    await streaming
    clear = await talker.wait_for(lambda m: m.get("state") == "clear", 120)
    queued = [m["seq"] for m in talker.received.messages if m.get("state") == "queued"]
    results = await talker.wait_results(len(queued), 30)
    await talker.close()

    assert len(queued) >= 4  # the five read sentences, cut at their ends
    assert sorted(m["seq"] for m, _, _ in results) == queued  # every utterance answered
    assert talker.received.errors == []
    # Told before the late answers came, cleared once they all had.
    late = [m for m, _, _ in results if m["_received_at"] > busy["_received_at"]]
    assert late and clear["_received_at"] >= busy["_received_at"]
    assert clear["lag_s"] <= 3

    # The talker gone and the worker caught up: a new session is admitted again (the web
    # process counts the talker's disconnect at once; its reading is at most 1 s old).
    deadline = asyncio.get_running_loop().time() + 5
    while True:
        try:
            after = await LiveClient.connect(slow_stack.ws_url, {"mode": "en->ru"})
            break
        except AssertionError:  # refused (the `ready` check): the reading is not fresh yet
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.5)
    await after.close()
