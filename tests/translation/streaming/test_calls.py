"""Calls over /ws/translate in-process (embedded engines, PostgreSQL): two lanes of one call,
a lane that reconnects mid-call, and translation/streaming/calls.py's clock."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.translation.streaming.test_consumer import (
    CONTROL,
    connect,
    next_of_type,
    speak_and_flush,
)
from translation.models import Call, Translation
from translation.streaming.calls import CallLane, join_call, placed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(90)]

CALL = "0123456789abcdef" * 2


def lane(speaker: str, mode: str) -> dict:
    return {**CONTROL, "mode": mode, "call": CALL, "speaker": speaker}


async def say(comm, speech, text: str) -> tuple[dict, dict]:
    """Speak one utterance on a lane: its `queued` status and its result."""
    await speak_and_flush(comm, speech, text)
    queued = await next_of_type(comm, "status")
    assert queued["state"] == "queued"
    result = await next_of_type(comm, "result")
    await next_of_type(comm, "audio_end")
    return queued, result


async def test_two_lanes_of_one_call(engines, speech):
    me = await connect(lane("me", "en->ru"))
    them = await connect(lane("them", "ru->en"))
    first_queued, first = await say(me, speech, "Good morning, everyone.")
    second_queued, second = await say(them, speech, "Thank you, and good morning.")
    await me.disconnect()
    await them.disconnect()

    assert await Call.objects.acount() == 1
    rows = [
        row async for row in Translation.objects.filter(call_id=CALL).order_by("stream_start_s")
    ]
    assert [(r.speaker, r.src_lang, r.tgt_lang) for r in rows] == [
        ("me", "en", "ru"),
        ("them", "ru", "en"),
    ]
    assert rows[0].session_id != rows[1].session_id  # each lane is its own connection
    # One clock: the second lane's utterance came later, and its times say so.
    assert rows[0].stream_start_s < rows[1].stream_start_s
    assert (first["start_s"], second["start_s"]) == (rows[0].stream_start_s, rows[1].stream_start_s)
    assert second_queued["start_s"] == round(rows[1].stream_start_s, 3)
    assert first_queued["seq"] == second_queued["seq"] == 0


async def test_a_lane_goes_on_when_staff_delete_its_call_meanwhile(engines, speech):
    """Deleting a call from /history while a lane still talks loses none of its phrases: the
    next utterance is stored under the same call id again."""
    from asgiref.sync import sync_to_async

    from translation.history.retention import delete_call

    me = await connect(lane("me", "en->ru"))
    await say(me, speech, "Good morning, everyone.")
    assert await sync_to_async(delete_call)(CALL) == 1
    _, after = await say(me, speech, "Thank you very much.")
    await me.disconnect()
    assert after["text"]
    rows = [row async for row in Translation.objects.filter(call_id=CALL)]
    assert [(r.speaker, r.seq) for r in rows] == [("me", 1)]
    assert await Call.objects.filter(pk=CALL).aexists()


async def test_the_configured_status_names_the_lane(engines):
    comm = await connect()
    await comm.send_to(text_data=json.dumps(lane("them", "ru->en")))
    configured = await comm.receive_json_from()
    assert (configured["state"], configured["call"], configured["speaker"]) == (
        "configured",
        CALL,
        "them",
    )
    await comm.disconnect()


async def test_a_lane_that_reconnects_continues_the_call(engines, speech, client):
    them = await connect(lane("them", "ru->en"))
    first_connection = await connect(lane("me", "en->ru"))
    _, before = await say(first_connection, speech, "Good morning, everyone.")
    await first_connection.disconnect()  # the network drops the "me" lane mid-call

    second_connection = await connect(lane("me", "en->ru"))
    _, after = await say(second_connection, speech, "Can you hear me again?")
    await second_connection.disconnect()
    await them.disconnect()

    rows = [
        row
        async for row in Translation.objects.filter(call_id=CALL, speaker="me").order_by(
            "stream_start_s"
        )
    ]
    assert len(rows) == 2 and rows[0].session_id != rows[1].session_id
    # The new connection's stream continues after the old one's: nothing overlaps.
    assert rows[1].stream_start_s >= rows[0].stream_end_s
    assert after["start_s"] >= before["end_s"]  # never overlapping its earlier utterance
    # Both connections are in the call's transcript and in either session's transcript.
    call_cues = json.loads(
        (await _get(client, f"/api/calls/{CALL}/transcript?format=json")).content
    )["utterances"]
    assert [u["text"] for u in call_cues] == [before["text"], after["text"]]
    for row in rows:
        session = json.loads(
            (await _get(client, f"/api/sessions/{row.session_id}/transcript?format=json")).content
        )["utterances"]
        assert [u["text"] for u in session] == [before["text"], after["text"]]


async def test_a_connection_cannot_move_to_another_call(engines):
    comm = await connect(lane("me", "en->ru"))
    await comm.send_to(text_data=json.dumps({**lane("me", "en->ru"), "call": "f" * 32}))
    error = await comm.receive_json_from()
    assert error["type"] == "error" and "already a lane of another call" in error["error"]
    await comm.disconnect()


async def test_a_bad_call_is_refused_before_anything_is_recorded(engines):
    comm = await connect()
    await comm.send_to(text_data=json.dumps({**CONTROL, "call": "nope", "speaker": "me"}))
    error = await comm.receive_json_from()
    assert error == {
        "type": "error",
        "error": 'call must be a call\'s id: 32 lower-case hex characters, or null (got "nope")',
    }
    assert await Call.objects.acount() == 0
    await comm.disconnect()


async def _get(client, url: str):
    from asgiref.sync import sync_to_async

    return await sync_to_async(client.get)(url)


# --- translation/streaming/calls.py: the lane's offset on the call's clock -------------------


@pytest.mark.django_db
def test_the_first_lane_starts_the_clock_and_a_rejoin_never_goes_back():
    first = join_call(call_id=CALL, speaker="me")
    assert first.call_id == CALL and 0 <= first.offset_s < 1
    Call.objects.filter(pk=CALL).update(created_at=timezone.now() - timedelta(seconds=20))
    later = join_call(call_id=CALL, speaker="them")
    assert 20 <= later.offset_s < 21  # a lane joining 20 s in starts 20 s into the call
    # The "me" lane's audio ran ahead of the wall clock (30 s heard in 20 s of call): its
    # rejoin starts after what it already said.
    Translation.objects.create(call_id=CALL, speaker="me", stream_start_s=28.0, stream_end_s=30.0)
    assert join_call(call_id=CALL, speaker="me").offset_s == 30.0
    assert join_call(call_id=CALL, speaker="them").offset_s < 30.0  # lanes keep their own ends
    assert Call.objects.count() == 1


def test_a_backlog_from_before_the_join_is_placed_back_but_not_before_the_floor():
    """Audio the page held while it connected lies at negative stream times: placed when it was
    captured on the call's clock, yet never before the call began or the lane's last end."""
    lane = CallLane(call_id=CALL, speaker="me", offset_s=12.0, floor_s=11.5)
    assert placed(lane, -0.3, 1.2) == (11.7, 13.2)  # captured 0.3 s before the join
    assert placed(lane, -1.0, 0.5) == (11.5, 13.0)  # moved to the floor, its length kept
    assert placed(None, -0.4, 1.0) == (0.0, 1.4)  # a session alone: from its zero
    assert placed(None, 2.0, 3.0) == (2.0, 3.0)


async def send_turn(comm, pcm: bytes, at_s: float, t0: float) -> None:
    """A push-to-talk turn: 64 ms frames at their real-time pace from `at_s` after t0, then
    the key's release (a flush). No frame is sent before or after: the silence carries none."""
    import asyncio
    import time

    frame = 16_000 * 64 // 1000 * 2
    for i, offset in enumerate(range(0, len(pcm), frame)):
        delay = t0 + at_s + (i + 1) * 0.064 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await comm.send_to(bytes_data=pcm[offset : offset + frame])
    await comm.send_to(text_data="__flush__")


async def test_turns_of_two_lanes_that_send_only_while_speaking_keep_the_spoken_order(
    engines, speech
):
    """Issue 29: me, them, me, them, 2.5 s apart, each lane sending frames only while it
    speaks: the call's rows are in the order spoken, each within 0.5 s of when it was."""
    import asyncio
    import time

    from tests.translation.streaming.test_consumer import pcm16k

    me = await connect(lane("me", "en->ru"))
    them = await connect(lane("them", "ru->en"))
    call_created = (await Call.objects.aget(pk=CALL)).created_at
    t0 = time.monotonic()
    started = timezone.now()  # t0 on the call's clock: seconds since the call was created
    call_t0 = (started - call_created).total_seconds()
    turns = [
        (me, 0.3, "Good morning everyone"),
        (them, 2.8, "Thank you very much"),
        (me, 5.3, "Shall we begin now"),
        (them, 7.8, "Yes please go ahead"),
    ]
    for comm, at_s, text in turns:
        await send_turn(comm, pcm16k(speech.speech_16k(text, "en")), at_s, t0)
    for comm in (me, them):
        for _ in range(2):
            await next_of_type(comm, "result")
    await asyncio.sleep(1.0)
    await me.disconnect()
    await them.disconnect()
    rows = [
        row async for row in Translation.objects.filter(call_id=CALL).order_by("stream_start_s")
    ]
    assert [r.speaker for r in rows] == ["me", "them", "me", "them"]
    for row, (_comm, at_s, _text) in zip(rows, turns, strict=True):
        assert abs(row.stream_start_s - (call_t0 + at_s)) < 0.5, (row.stream_start_s, at_s)
