"""Issue 29 on the real stack (Daphne, a Celery worker, Redis, PostgreSQL): utterances placed
on the wall clock when lanes send frames only while they speak (push-to-talk, a client quiet
in silence), when a lane's frames stall and arrive in a burst, when a lane joins late, and
for a single push-to-talk session. Times are checked in the exported transcripts (SRT, WebVTT,
JSON), as a user would line them up with a recording of the meeting.

Each test prints its offsets (spoken against transcript time): `pytest -s
tests/test_call_clock_e2e.py`. A turn's spoken time is when its first frame's audio began, on
the client's clock mapped to the call's (the call row's creation time) or the session's (its
control message)."""

from __future__ import annotations

import asyncio
import io
import json
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import psycopg
import pytest
import srt
import webvtt

from tests.speech import speech_16k
from tests.stack import real_stack
from tests.wsclient import LiveClient

pytestmark = [pytest.mark.services, pytest.mark.timeout(300)]

DB_NAME = "rutrans_call_clock"
REDIS_DB = 7
FRAME_S = 0.064  # the page's frames: 16 kHz mono
FRAME_BYTES = round(16_000 * FRAME_S) * 2
LEAD_S = 0.2  # silence a turn starts with (the key goes down just before the words)
PREROLL_S = 0.3  # an utterance's audio starts this much before its speech, where there is audio
RESULT_TIMEOUT_S = 90
BOUND_S = 0.5  # the bound on spoken against transcript time


@pytest.fixture(scope="module")
def stack(tmp_path_factory, model_env):
    data_dir = tmp_path_factory.mktemp("call-clock")
    with real_stack(data_dir, name=DB_NAME, redis_db=REDIS_DB, extra_env=model_env) as stack:
        yield stack


@dataclass
class Turn:
    speaker: str
    text: str
    lang: str
    gap_s: float  # silence before it (no frames), after the previous turn's last frame
    spoken_s: float = 0.0  # filled in: when its audio began, on the call's (session's) clock


def turn_pcm(text: str, lang: str, *, lead_s: float = LEAD_S, tail_s: float = 0.0) -> bytes:
    audio = speech_16k(text, lang)
    pad = [np.zeros(round(s * 16_000), np.float32) for s in (lead_s, tail_s)]
    return (np.concatenate([pad[0], audio, pad[1]]) * 32767).astype("<i2").tobytes()


async def send_paced(client: LiveClient, pcm: bytes, *, stall=None) -> float:
    """Frames at their real-time pace, then the release (a flush); returns when (time.time())
    its audio began. `stall` (from, to) seconds into it: frames due meanwhile are held and go
    at once when it ends (a busy tab)."""
    began = time.time()
    for i, offset in enumerate(range(0, len(pcm), FRAME_BYTES)):
        due = (i + 1) * FRAME_S
        if stall is not None and stall[0] <= due < stall[1]:
            due = stall[1]
        delay = began + due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await client.ws.send(pcm[offset : offset + FRAME_BYTES])
    await client.flush()
    return began


async def lane(stack, call_id: str, speaker: str, mode: str) -> LiveClient:
    control = {"mode": mode, "sample_rate": 16_000, "channels": 1, "call": call_id}
    return await LiveClient.connect(stack.ws_url, control | {"speaker": speaker})


def call_created_at(stack, call_id: str) -> float:
    with psycopg.connect(stack.env["DATABASE_URL"]) as db:
        [(created,)] = db.execute(
            "SELECT created_at FROM translation_call WHERE id = %s", (call_id,)
        ).fetchall()
    return created.timestamp()


def fetch(stack, path: str) -> str:
    with urllib.request.urlopen(stack.http_url + path, timeout=10) as response:
        return response.read().decode()


def transcripts(stack, path: str) -> tuple[list, list, list[dict]]:
    """The transcript at `path` as SRT cues, WebVTT captions and JSON utterances."""
    cues = list(srt.parse(fetch(stack, path + "?format=srt")))
    captions = list(webvtt.from_buffer(io.StringIO(fetch(stack, path + "?format=vtt"))))
    return cues, captions, json.loads(fetch(stack, path + "?format=json"))["utterances"]


def vtt_seconds(clock: str) -> float:
    hours, minutes, secs = clock.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(secs)


def report(case: str, pairs: list[tuple[str, float, float]]) -> None:
    lines = [f"{case}: lane  spoken_s  transcript_s  offset_s"]
    lines += [f"{case}: {s:<5} {a:8.3f}  {b:12.3f}  {b - a:+8.3f}" for s, a, b in pairs]
    print("\n" + "\n".join(lines))


def assert_three_formats_agree(cues, captions, utterances) -> list[float]:
    """SRT, WebVTT and JSON list the same cues at the same times; returns their starts."""
    starts = [u["start_s"] for u in utterances]
    assert [c.start for c in cues] == [timedelta(seconds=round(s, 3)) for s in starts]
    assert [vtt_seconds(c.start) for c in captions] == pytest.approx(starts, abs=0.001)
    return starts


async def test_two_lanes_taking_turns_with_silence_that_carries_no_frames(stack):
    """Me, them, me, them, 1–3 s of unsent silence between the turns: the call's SRT, WebVTT
    and JSON list the turns in the order spoken, each within 0.5 s of when it was."""
    call_id = uuid.uuid4().hex
    lanes = {
        "me": await lane(stack, call_id, "me", "en->ru"),
        "them": await lane(stack, call_id, "them", "ru->en"),
    }
    created = call_created_at(stack, call_id)
    turns = [
        Turn("me", "Good morning everyone", "en", 0.3),
        Turn("them", "Добрый день, как дела?", "ru", 1.0),
        Turn("me", "Shall we begin now", "en", 2.0),
        Turn("them", "Да, пожалуйста, начинайте.", "ru", 3.0),
    ]
    try:
        for turn in turns:
            await asyncio.sleep(turn.gap_s)
            began = await send_paced(lanes[turn.speaker], turn_pcm(turn.text, turn.lang))
            turn.spoken_s = began - created
        for client in lanes.values():
            await client.wait_results(2, RESULT_TIMEOUT_S)
            assert client.received.errors == []
    finally:
        for client in lanes.values():
            await client.close()

    cues, captions, utterances = transcripts(stack, f"/api/calls/{call_id}/transcript")
    starts = assert_three_formats_agree(cues, captions, utterances)
    report("turns", [(t.speaker, t.spoken_s, s) for t, s in zip(turns, starts, strict=True)])
    assert [u["speaker"] for u in utterances] == [t.speaker for t in turns]
    assert [c.content.split(":")[0] for c in cues] == ["Me", "Them", "Me", "Them"]
    assert [c.voice for c in captions] == ["me", "them", "me", "them"]
    for turn, start in zip(turns, starts, strict=True):
        assert abs(start - turn.spoken_s) < BOUND_S, (turn, start)


async def test_a_lane_that_stalls_2_s_and_sends_its_backlog_at_once(stack):
    """The frames of 0.3–2.3 s (the speech's start among them) are held and arrive in one
    burst: the utterance keeps the time it was spoken at, at worst the stall late."""
    call_id = uuid.uuid4().hex
    me = await lane(stack, call_id, "me", "en->ru")
    created = call_created_at(stack, call_id)
    lead_s, stall = 0.6, (0.3, 2.3)
    try:
        pcm = turn_pcm("Good morning everyone", "en", lead_s=lead_s, tail_s=1.2)
        began = await send_paced(me, pcm, stall=stall)
        await me.wait_results(1, RESULT_TIMEOUT_S)
    finally:
        await me.close()
    _cues, _captions, utterances = transcripts(stack, f"/api/calls/{call_id}/transcript")
    [start] = [u["start_s"] for u in utterances]
    spoken = began - created + lead_s - PREROLL_S  # where its audio (the preroll's) was spoken
    report("stall_2s", [("me", spoken, start)])
    assert start - spoken <= stall[1] - stall[0]  # the bound
    assert abs(start - spoken) < BOUND_S  # and in fact: the backlog kept its times


async def test_a_lane_joining_40_s_into_the_call_starts_at_40_s(stack):
    """The call began 40 s ago (its row moved back, as if the first lane had joined then):
    the late lane's first words lie ~40 s into the call."""
    call_id = uuid.uuid4().hex
    me = await lane(stack, call_id, "me", "en->ru")
    with psycopg.connect(stack.env["DATABASE_URL"]) as db:
        db.execute(
            "UPDATE translation_call SET created_at = created_at - interval '40 seconds' "
            "WHERE id = %s",
            (call_id,),
        )
    them = await lane(stack, call_id, "them", "ru->en")
    created = call_created_at(stack, call_id)
    try:
        began = await send_paced(them, turn_pcm("Извините, я опоздал.", "ru"))
        await them.wait_results(1, RESULT_TIMEOUT_S)
    finally:
        await them.close()
        await me.close()
    _cues, _captions, utterances = transcripts(stack, f"/api/calls/{call_id}/transcript")
    [(speaker, start)] = [(u["speaker"], u["start_s"]) for u in utterances]
    report("late_join_40s", [(speaker, began - created, start)])
    assert speaker == "them" and 40 <= start < 41.5
    assert abs(start - (began - created)) < BOUND_S


async def test_a_push_to_talk_session_srt_matches_the_wall_clock(stack):
    """One session (no call), two presses 2.5 s apart, nothing sent between them: its SRT
    places each where it was spoken since the session started, not where its samples lie."""
    control_sent = time.time()
    client = await LiveClient.connect(
        stack.ws_url, {"mode": "en->ru", "sample_rate": 16_000, "channels": 1}
    )
    spoken = []
    try:
        for gap_s, text in ((0.5, "Good morning everyone"), (2.5, "Shall we begin now")):
            await asyncio.sleep(gap_s)
            spoken.append(await send_paced(client, turn_pcm(text, "en")) - control_sent)
        await client.wait_results(2, RESULT_TIMEOUT_S)
    finally:
        await client.close()
    cues, captions, utterances = transcripts(stack, f"/api/sessions/{client.session}/transcript")
    starts = assert_three_formats_agree(cues, captions, utterances)
    report("push_to_talk_session", [("me", a, b) for a, b in zip(spoken, starts, strict=True)])
    for when, start in zip(spoken, starts, strict=True):
        assert abs(start - when) < BOUND_S
    # By the samples alone the second press would start right where the first one ended.
    assert starts[1] - utterances[0]["end_s"] > 2.0
