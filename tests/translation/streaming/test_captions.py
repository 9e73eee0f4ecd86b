"""Live captions: the pure per-session rules (translation/streaming/captions.py), and the
consumer with the embedded worker thread and the in-memory channel layer (partials, then the
final)."""

from __future__ import annotations

import asyncio
import itertools
import json

import numpy as np
import pytest
from channels.testing import WebsocketCommunicator

from rutrans_site.asgi import application
from translation.events import PartialReply
from translation.protocol.messages import PartialMessage, StablePrefix
from translation.streaming import live_captions
from translation.streaming.captions import (
    ANSWER_GRACE_S,
    Agreed,
    CaptionState,
    LineAgreement,
    PartialRequest,
    partial_message,
)

ORIGIN = (b"origin", b"http://127.0.0.1")
CONTROL = {"mode": "en->ru", "sample_rate": 16_000, "channels": 1}
LONG_TEXT = (
    "The weather is lovely today, so we will walk along the river and look at the boats "
    "until the sun goes down behind the hills."
)


def state(**kw) -> CaptionState:
    return CaptionState(interval_s=kw.pop("interval_s", 1.0), expires_s=kw.pop("expires_s", 2.0))


def reply(
    seq: int, part: int, *, text: str | None = None, source_text: str = "", **extra
) -> PartialReply:
    """A worker's reply: its partial (`text` "p<part>" unless given), or `skipped`."""
    if "skipped" not in extra:
        extra["partial"] = partial_message(
            seq=seq, part=part, src="en", tgt="ru", text=f"p{part}" if text is None else text,
            source_text=source_text, start_s=0.0, end_s=1.0, speech_s=1.0, timings={},
        )  # fmt: skip
    return PartialReply(seq=seq, part=part, **extra)


# --- the rules ----------------------------------------------------------------------------------


def tick(captions, *, seq=0, stream_s, speech_s, now=None, has_speech=True):
    """One frame: poll, and when it says so, the request with the speech seconds."""
    if not captions.poll(seq=seq, has_speech=has_speech, stream_s=stream_s):
        return None
    now = stream_s if now is None else now
    return captions.request(seq=seq, speech_s=speech_s, stream_s=stream_s, now=now)


def test_first_partial_after_one_interval_of_speech_then_each_interval_of_new_speech():
    captions = state()
    assert tick(captions, stream_s=0.5, speech_s=0.0, has_speech=False) is None
    assert tick(captions, stream_s=2.0, speech_s=0.1) is None  # speech seen from 2.0
    assert tick(captions, stream_s=2.98, speech_s=0.9) is None  # not looked at yet
    assert tick(captions, stream_s=3.0, speech_s=0.95) is None  # looked at: too little
    assert tick(captions, stream_s=3.1, speech_s=0.99) is None  # within the recheck
    first = tick(captions, stream_s=3.2, speech_s=1.1)
    assert first == PartialRequest(seq=0, part=1, src=None)
    captions.sent(first, now=3.2)
    assert captions.partial_to_show(reply(0, 1), final_arrived=False).text == "p1"
    assert tick(captions, stream_s=4.1, speech_s=2.0) is None
    assert tick(captions, stream_s=4.2, speech_s=2.1) == PartialRequest(seq=0, part=2, src=None)


def test_the_silence_that_ends_an_utterance_asks_for_no_partial():
    captions = state()
    tick(captions, stream_s=0.0, speech_s=0.0)
    first = tick(captions, stream_s=1.0, speech_s=1.0)
    captions.sent(first, now=1.0)
    captions.partial_to_show(reply(0, 1), final_arrived=False)
    # Speech stopped at 1.3 s; the stream goes on in silence until the cut.
    for step in range(1, 10):
        assert tick(captions, stream_s=2.0 + step / 10, speech_s=1.3) is None
    assert captions.open[0].summary() == {"due": 1, "sent": 1, "skipped": 0}


def test_a_tick_while_one_partial_is_out_is_skipped_until_it_answers_or_expires():
    captions = state(expires_s=2.0)
    tick(captions, stream_s=0.0, speech_s=0.0)
    first = tick(captions, stream_s=1.0, speech_s=1.0)
    captions.sent(first, now=1.0)
    assert tick(captions, stream_s=2.0, speech_s=2.0) is None  # still out
    assert tick(captions, stream_s=3.0, speech_s=3.0) is None
    # Never answered (expired in the queue): the slot frees after expiry + grace.
    later = tick(captions, stream_s=4.0, speech_s=4.0, now=1.0 + 2.0 + ANSWER_GRACE_S)
    assert later == PartialRequest(seq=0, part=4, src=None)
    assert captions.open[0].summary() == {"due": 4, "sent": 1, "skipped": 2}


def test_a_worker_skip_frees_the_slot_and_counts_as_skipped():
    captions = state()
    tick(captions, stream_s=0.0, speech_s=0.0)
    first = tick(captions, stream_s=1.0, speech_s=1.0)
    captions.sent(first, now=1.0)
    skipped = reply(0, 1, skipped="finals waiting")
    assert captions.partial_to_show(skipped, final_arrived=False) is None
    assert tick(captions, stream_s=2.0, speech_s=2.0, now=1.1) == PartialRequest(0, 2, None)
    assert captions.open[0].skipped == 1


def test_a_declined_dispatch_frees_the_slot():
    captions = state()
    tick(captions, stream_s=0.0, speech_s=0.0)
    first = tick(captions, stream_s=1.0, speech_s=1.0)
    captions.sent(first, now=1.0)
    captions.declined(first)
    assert captions.out is None
    assert captions.open[0].summary() == {"due": 1, "sent": 0, "skipped": 1}


def test_partials_after_their_final_or_older_than_the_shown_one_are_dropped():
    captions = state()
    tick(captions, seq=3, stream_s=0.0, speech_s=0.0)
    assert captions.partial_to_show(reply(3, 2), final_arrived=False).part == 2
    assert captions.partial_to_show(reply(3, 1), final_arrived=False) is None  # overtaken
    assert captions.partial_to_show(reply(3, 2), final_arrived=False) is None  # duplicate
    assert captions.partial_to_show(reply(3, 3), final_arrived=True) is None  # the final is there
    assert captions.late == 3


def test_a_cut_ends_the_utterance_and_reports_its_counters_once():
    captions = state()
    tick(captions, stream_s=0.0, speech_s=0.0)
    request = tick(captions, stream_s=1.0, speech_s=1.0)
    captions.sent(request, now=1.0)
    captions.partial_to_show(reply(0, 1, src="ru"), final_arrived=False)
    # The segmenter cut seq 0; speech goes on in seq 1, whose count starts afresh.
    assert tick(captions, seq=1, stream_s=1.5, speech_s=0.2) is None
    assert captions.take_ended() == [(0, {"due": 1, "sent": 1, "skipped": 0})]
    assert captions.take_ended() == []
    assert tick(captions, seq=1, stream_s=2.4, speech_s=0.9) is None
    assert tick(captions, seq=1, stream_s=2.5, speech_s=1.0) == PartialRequest(1, 1, None)
    # A partial of seq 0 still out after the cut is shown while its final is not there.
    assert captions.partial_to_show(reply(0, 2), final_arrived=False).part == 2


def test_auto_mode_reuses_the_language_of_the_utterances_first_partial():
    captions = state()
    tick(captions, stream_s=0.0, speech_s=0.0)
    first = tick(captions, stream_s=1.0, speech_s=1.0)
    captions.sent(first, now=1.0)
    captions.partial_to_show(reply(0, 1, src="ru"), final_arrived=False)
    assert tick(captions, stream_s=2.0, speech_s=2.0).src == "ru"


def test_interval_and_expiry_must_be_positive():
    with pytest.raises(ValueError):
        CaptionState(interval_s=0, expires_s=2)


def test_partial_message_shape():
    partial = partial_message(
        seq=2,
        part=3,
        src="en",
        tgt="ru",
        text="привет",
        source_text=None,
        start_s=1.23456,
        end_s=4.5,
        speech_s=3.0,
        timings={"ast_ms": 5.0},
    )
    assert json.loads(partial.wire()) == {
        "type": "partial",
        "seq": 2,
        "part": 3,
        "src": "en",
        "tgt": "ru",
        "text": "привет",
        "source_text": "",
        "start_s": 1.235,
        "end_s": 4.5,
        "speech_s": 3.0,
        "timings": {"ast_ms": 5.0},
        "stable": {"source_text": 0, "text": 0},  # a worker commits nothing: the session does
    }


# --- the consumer, embedded ----------------------------------------------------------------------


async def connect(control):
    comm = WebsocketCommunicator(application, "/ws/translate", headers=[ORIGIN])
    connected, _ = await comm.connect()
    assert connected
    # The VAD model loads off the loop first: allow for a busy machine.
    assert (await comm.receive_json_from(timeout=10))["state"] == "ready"
    await comm.send_to(text_data=json.dumps(control))
    return comm


async def messages_until_result(comm, timeout=20) -> list[dict]:
    seen = []
    while True:
        message = await comm.receive_output(timeout)
        if message.get("text"):
            seen.append(json.loads(message["text"]))
            if seen[-1]["type"] == "result":
                return seen


async def stream_speech(comm, audio: np.ndarray, *, pause_every_s: float = 1.0) -> None:
    """20 ms frames as fast as they go, with a short pause each second of audio so that the
    partial (instant with the test doubles) comes back before the next is due."""
    frame = 320
    pcm = (audio * 32767).astype("<i2").tobytes()
    for i, offset in enumerate(range(0, len(audio), frame)):
        await comm.send_to(bytes_data=pcm[offset * 2 : (offset + frame) * 2])
        if (i + 1) % int(pause_every_s * 50) == 0:
            await asyncio.sleep(0.3)


pytestmark_db = pytest.mark.django_db(transaction=True)


@pytestmark_db
@pytest.mark.timeout(60)
async def test_partials_come_before_the_final_and_grow(engines, speech, monkeypatch):
    engines.LIVE_CAPTIONS = True
    # Frames go in as fast as they can here: a busy test machine's loop lag must not shed them.
    monkeypatch.setattr(live_captions, "LOOP_LAG_LIMIT_MS", float("inf"))
    comm = await connect(CONTROL)
    configured = await comm.receive_json_from()
    assert configured["state"] == "configured" and configured["captions"] is True
    audio = speech.speech_16k(LONG_TEXT, "en")
    await stream_speech(comm, audio)
    await comm.send_to(text_data="__flush__")
    seen = await messages_until_result(comm)
    partials = [m for m in seen if m["type"] == "partial"]
    assert len(partials) >= 3, seen
    assert [p["seq"] for p in partials] == [0] * len(partials)
    assert [p["part"] for p in partials] == sorted({p["part"] for p in partials})
    # The doubles describe the audio they got: each partial covers more of it.
    seconds = [float(p["source_text"].split()[2]) for p in partials]
    assert seconds == sorted(seconds) and seconds[0] >= 1.0
    assert all(p["text"].startswith("en->ru") and p["tgt"] == "ru" for p in partials)
    assert {"queue_ms", "ast_ms", "push_ms"} <= partials[0]["timings"].keys()
    assert all(PartialMessage.model_validate(p).type == "partial" for p in partials)
    result = seen[-1]
    assert result["seq"] == 0 and result["timings"]["audio_s"] >= seconds[-1]
    # The utterance's counters follow with the next frame.
    await comm.send_to(bytes_data=bytes(640))
    summary: dict = {}
    while summary.get("state") != "captions":
        message = await comm.receive_output(5)
        summary = json.loads(message["text"]) if message.get("text") else {}
    assert summary["seq"] == 0 and summary["due"] >= len(partials)
    await comm.disconnect()


@pytestmark_db
@pytest.mark.timeout(60)
async def test_client_can_turn_captions_off(engines, speech):
    engines.LIVE_CAPTIONS = True
    comm = await connect({**CONTROL, "captions": False})
    assert (await comm.receive_json_from())["captions"] is False
    await stream_speech(comm, speech.speech_16k(LONG_TEXT, "en"))
    await comm.send_to(text_data="__flush__")
    seen = await messages_until_result(comm)
    assert [m for m in seen if m["type"] == "partial"] == []
    await comm.disconnect()


@pytestmark_db
@pytest.mark.timeout(30)
async def test_server_setting_off_means_no_captions_whatever_the_client_asks(engines):
    engines.LIVE_CAPTIONS = False
    comm = await connect({**CONTROL, "captions": True})
    assert (await comm.receive_json_from())["captions"] is False
    await comm.send_to(text_data=json.dumps({**CONTROL, "captions": "yes"}))
    error = await comm.receive_json_from()
    assert error == {"type": "error", "error": 'captions must be true or false (got "yes")'}
    await comm.disconnect()


def test_a_busy_system_skips_the_due_partial():
    captions = state()
    tick(captions, stream_s=0.0, speech_s=0.0)
    assert captions.poll(seq=0, has_speech=True, stream_s=1.0)
    assert captions.request(seq=0, speech_s=1.0, stream_s=1.0, now=1.0, busy=True) is None
    assert captions.open[0].summary() == {"due": 1, "sent": 0, "skipped": 1}
    # The next interval of new speech, no longer busy: asked for.
    assert tick(captions, stream_s=2.0, speech_s=2.0) == PartialRequest(0, 2, None)


# --- local agreement: committed words hold still ------------------------------------------------


def shown_lines(hypotheses: list[str]) -> list[Agreed]:
    line = LineAgreement()
    return [line.update(h) for h in hypotheses]


def committed(agreed: Agreed) -> str:
    return agreed.text[: agreed.stable]


def test_two_consecutive_hypotheses_commit_the_words_they_agree_on():
    shown = shown_lines(["the whether", "the weather is", "the weather is lovely to"])
    assert [committed(a) for a in shown] == ["", "the", "the weather is"]
    assert [a.text for a in shown] == ["the whether", "the weather is", "the weather is lovely to"]


def test_committed_text_is_never_retracted_and_stable_never_decreases():
    hypotheses = [
        "we will",
        "we will walk",
        "we will walk along",
        "see will walk along the",  # rewrites its start
        "we wil walk along the river",  # and again, differently
        "",  # nothing heard for a moment
        "we will walk along the river and",
        "we will walk along the river and look",
    ]
    shown = shown_lines(hypotheses)
    for earlier, later in itertools.combinations(shown, 2):
        assert later.text.startswith(committed(earlier)), (earlier, later)
        assert later.stable >= earlier.stable
    assert committed(shown[-1]) == "we will walk along the river and"


def test_a_hypothesis_that_rewrites_its_start_commits_nothing_new():
    line = LineAgreement()
    line.update("one two three")
    assert committed(line.update("one two three four")) == "one two three"
    rewritten = line.update("won two three four five")
    assert committed(rewritten) == "one two three"  # nothing new, though "four" was repeated
    assert rewritten.text == "one two three four five"  # its own words after the committed three
    assert line.rewrites == 1
    # The next one agrees with the rewritten one only on words the committed ones contradict:
    # still nothing new, until two consecutive hypotheses keep the committed words.
    assert committed(line.update("one two three four five six")) == "one two three"
    assert committed(line.update("one two three four five six seven")) == (
        "one two three four five six"
    )


def test_a_shorter_hypothesis_keeps_the_committed_words_on_screen():
    line = LineAgreement()
    line.update("a b c")
    line.update("a b c d")
    assert line.update("a b").text == "a b c"


def test_the_final_replaces_everything_and_its_contradictions_are_counted():
    captions = state()
    texts = [("we will", "мы"), ("we will walk", "мы пойдём"), ("we will walk on", "мы пойдём")]
    for part, (source, text) in enumerate(texts, start=1):
        event = reply(0, part, source_text=source, text=text)
        message = captions.partial_to_show(event, final_arrived=False)
    assert message.stable == StablePrefix(source_text=len("we will walk"), text=len("мы пойдём"))
    assert captions.settle(0, source_text="We will walk on.", text="Мы пойдём.") is True
    assert (captions.finals_after_commits, captions.finals_contradicting) == (1, 1)
    assert 0 not in captions.agreements  # forgotten: a late partial starts nothing
    for part, source in enumerate(["a b", "a b c"], start=1):
        event = reply(1, part, source_text=source, text=source)
        captions.partial_to_show(event, final_arrived=False)
    assert captions.settle(1, source_text="a b c d", text="a b c d") is False
    assert captions.settle(2, source_text="x", text="y") is None  # nothing was committed
    assert (captions.finals_after_commits, captions.finals_contradicting) == (2, 1)


def test_each_shown_partial_carries_its_stable_prefix_in_the_protocol_shape():
    captions = state()
    message = captions.partial_to_show(reply(0, 1), final_arrived=False)
    assert message.stable == StablePrefix(source_text=0, text=0)
    assert message.text == "p1"


def test_with_growth_the_wait_for_the_next_partial_grows_with_the_utterance():
    captions = CaptionState(interval_s=1.0, expires_s=2.0, growth=0.5)
    due = []
    for step in range(120):
        t = round(step * 0.1, 1)
        request = tick(captions, stream_s=t, speech_s=t)
        if request is not None:
            due.append(round(t, 1))
            captions.sent(request, now=t)
            captions.partial_to_show(reply(0, request.part), final_arrived=False)
    # After max(1 s, half the speech so far); the 100 ms frames round the last one up.
    assert due[:5] == [1.0, 2.0, 3.0, 4.5, 6.8] and len(due) == 6 and 10.2 <= due[5] <= 10.3
    with pytest.raises(ValueError, match="growth"):
        CaptionState(interval_s=1.0, expires_s=2.0, growth=-1.0)
