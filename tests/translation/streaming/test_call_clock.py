"""Issue 29 through the /ws/translate consumer in-process (embedded engines, PostgreSQL): a
call's utterances on the wall clock when a lane stalls and sends its backlog at once, joins
late, reconnects, or talks over the other lane.

Each test prints (and records with `record_property`) its offsets, spoken against transcript
time on the call's clock: `pytest -s tests/translation/streaming/test_call_clock.py`. An
utterance's audio starts `PREROLL_S` before its speech where there was audio before it: its
spoken time is where that audio was spoken."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from tests.translation.streaming.test_calls import CALL, _get, lane
from tests.translation.streaming.test_consumer import connect, next_of_type, pcm16k
from translation.models import Call, Translation

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(90)]

FRAME_S = 0.064  # the page's frames
FRAME_BYTES = round(16_000 * FRAME_S) * 2
PREROLL_S = 0.3  # an utterance starts this much before its speech (the segmenter's preroll)


def padded(speech, text: str, *, lead_s: float, tail_s: float) -> bytes:
    """`text` spoken after `lead_s` of silence and before `tail_s` of it, 16 kHz PCM."""
    audio = speech.speech_16k(text, "en")
    silence = [np.zeros(round(s * 16_000), np.float32) for s in (lead_s, tail_s)]
    return pcm16k(np.concatenate([silence[0], audio, silence[1]]))


async def send_paced(comm, pcm: bytes, *, t0: float, at_s: float, stall=None) -> None:
    """Frames at their real-time pace from `at_s` after t0, then a flush. `stall` (from, to),
    seconds after t0: frames due in it are held and sent at once when it ends (a busy tab)."""
    for i, offset in enumerate(range(0, len(pcm), FRAME_BYTES)):
        due = at_s + (i + 1) * FRAME_S
        if stall is not None and stall[0] <= due < stall[1]:
            due = stall[1]
        delay = t0 + due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await comm.send_to(bytes_data=pcm[offset : offset + FRAME_BYTES])
    await comm.send_to(text_data="__flush__")


async def call_clock_now() -> float:
    """Now, in seconds on the call's clock (since the call was created)."""
    created = (await Call.objects.aget(pk=CALL)).created_at
    return (timezone.now() - created).total_seconds()


async def call_rows() -> list[Translation]:
    return [
        row async for row in Translation.objects.filter(call_id=CALL).order_by("stream_start_s")
    ]


def report(record_property, case: str, pairs: list[tuple[str, float, float]]) -> None:
    """The offsets table: (lane, spoken, transcript) seconds on the call's clock."""
    lines = [f"{case}: lane  spoken_s  transcript_s  offset_s"]
    for speaker, spoken, placed in pairs:
        lines.append(f"{case}: {speaker:<5} {spoken:8.3f}  {placed:12.3f}  {placed - spoken:+8.3f}")
        record_property(f"{case}:{speaker}@{spoken:.2f}", round(placed - spoken, 3))
    print("\n" + "\n".join(lines))


async def test_a_lane_that_stalls_2_s_then_sends_its_backlog_keeps_its_spoken_times(
    engines, speech, record_property
):
    """A lane sends without a break, but its frames stall for 2 s (the speech's start among
    them) and then arrive at once: the utterance is placed when it was spoken, not when its
    frames came; at worst it may be the stall late (ARCHITECTURE, 'Stream times')."""
    me = await connect(lane("me", "en->ru"))
    t0, call_t0 = time.monotonic(), await call_clock_now()
    lead_s, stall = 0.6, (0.3, 2.3)
    pcm = padded(speech, "Good morning everyone", lead_s=lead_s, tail_s=1.2)
    await send_paced(me, pcm, t0=t0, at_s=0.0, stall=stall)
    await next_of_type(me, "result")
    await me.disconnect()
    [row] = await call_rows()
    spoken = call_t0 + lead_s - PREROLL_S  # where its audio (the preroll's too) was spoken
    report(record_property, "stall_2s", [("me", spoken, row.stream_start_s)])
    stall_s = stall[1] - stall[0]
    assert row.stream_start_s - spoken <= stall_s  # the bound
    assert abs(row.stream_start_s - spoken) < 0.5  # and in fact: the backlog kept its times


async def test_a_lane_that_joins_40_s_into_the_call_starts_at_40_s(
    engines, speech, record_property
):
    """The call's clock is its row's creation time: moved 40 s back, as if the first lane had
    joined 40 s ago, the late lane's first words lie ~40 s into the call."""
    me = await connect(lane("me", "en->ru"))
    await Call.objects.filter(pk=CALL).aupdate(created_at=timezone.now() - timedelta(seconds=40))
    them = await connect(lane("them", "ru->en"))
    t0, call_t0 = time.monotonic(), await call_clock_now()
    await send_paced(them, pcm16k(speech.speech_16k("Sorry I am late", "en")), t0=t0, at_s=0.3)
    await next_of_type(them, "result")
    await them.disconnect()
    await me.disconnect()
    [row] = await call_rows()
    spoken = call_t0 + 0.3
    report(record_property, "late_join_40s", [("them", spoken, row.stream_start_s)])
    assert 40 <= row.stream_start_s < 41.5
    assert abs(row.stream_start_s - spoken) < 0.5


async def test_a_reconnected_lane_never_overlaps_its_own_earlier_utterances(
    engines, speech, record_property
):
    """The first connection sends 3 s of speech in a burst (faster than real time: its stream
    runs ahead of the wall clock) and drops; the new connection talks at once: its utterance
    starts after the earlier one ends, though the wall clock says less time went by."""
    first = await connect(lane("me", "en->ru"))
    t0, call_t0 = time.monotonic(), await call_clock_now()
    burst = padded(speech, "Good morning everyone, shall we begin", lead_s=0.2, tail_s=0.3)
    await first.send_to(bytes_data=burst)
    await first.send_to(text_data="__flush__")
    await next_of_type(first, "result")
    await first.disconnect()

    second = await connect(lane("me", "en->ru"))
    at_s = time.monotonic() - t0 + 0.1
    await send_paced(second, pcm16k(speech.speech_16k("Can you hear me", "en")), t0=t0, at_s=at_s)
    await next_of_type(second, "result")
    await second.disconnect()
    before, after = await call_rows()
    assert before.session_id != after.session_id
    report(
        record_property,
        "reconnect",
        [("me", call_t0, before.stream_start_s), ("me", call_t0 + at_s, after.stream_start_s)],
    )
    assert after.stream_start_s >= before.stream_end_s
    # The burst ran ahead of the wall clock: the rule, not the clock, placed the second one.
    assert before.stream_end_s > call_t0 + at_s


async def test_two_lanes_speaking_at_once_overlap_as_two_cues(
    engines, speech, client, record_property
):
    """Both lanes talk over each other (0.3 s and 0.9 s into the call, each ~1.5 s long):
    two cues, each at its own time, overlapping, in the call's SRT, VTT and JSON."""
    me = await connect(lane("me", "en->ru"))
    them = await connect(lane("them", "ru->en"))
    t0, call_t0 = time.monotonic(), await call_clock_now()
    turns = [(me, 0.3, "Good morning everyone"), (them, 0.9, "Thank you very much")]
    await asyncio.gather(
        *(
            send_paced(comm, pcm16k(speech.speech_16k(text, "en")), t0=t0, at_s=at_s)
            for comm, at_s, text in turns
        )
    )
    for comm in (me, them):
        await next_of_type(comm, "result")
    await me.disconnect()
    await them.disconnect()
    rows = await call_rows()
    report(
        record_property,
        "overlap",
        [
            (r.speaker, call_t0 + at_s, r.stream_start_s)
            for r, (_, at_s, _) in zip(rows, turns, strict=True)
        ],
    )
    assert [r.speaker for r in rows] == ["me", "them"]
    for row, (_comm, at_s, _text) in zip(rows, turns, strict=True):
        assert abs(row.stream_start_s - (call_t0 + at_s)) < 0.5
    assert rows[1].stream_start_s < rows[0].stream_end_s  # they overlap: not serialised

    url = f"/api/calls/{CALL}/transcript?format="
    cues = json.loads((await _get(client, url + "json")).content)["utterances"]
    assert [c["speaker"] for c in cues] == ["me", "them"]
    assert cues[1]["start_s"] < cues[0]["end_s"]
    vtt = (await _get(client, url + "vtt")).content.decode()
    srt = (await _get(client, url + "srt")).content.decode()
    assert vtt.count(" --> ") == srt.count(" --> ") == 2
    assert vtt.index("<v me>") < vtt.index("<v them>")
