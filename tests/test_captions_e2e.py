"""Live captions end to end on real processes: a client streams a 6 s sentence at real-time
pace to Daphne; partial translations of the open utterance go through the `captions` queue to
a real Celery worker (tiny real-format models) and come back before the final, which is not
held up by them. Latency figures: benchmarks/captions_load.py (docs/PERFORMANCE.md)."""

from __future__ import annotations

import json
import statistics

import pytest

from tests.speech import speech_16k
from tests.stack import real_stack
from tests.wsclient import LiveClient, silence_pcm, to_pcm16

pytestmark = [pytest.mark.services, pytest.mark.timeout(300)]

# No commas: a clause pause would let the continuous-speech rule cut the sentence there (a
# 6 s utterance is what this test is about).
SENTENCE = (
    "The weather is lovely today so we will walk along the quiet river and look at the old "
    "boats and talk about the long warm summer."
)
SILENCE_S = 0.9
LEAD_S = 0.5


@pytest.fixture(scope="module")
def captions_stack(tmp_path_factory, model_env):
    data_dir = tmp_path_factory.mktemp("captions-stack")
    # A small generation bound: the random-weight model then says as much as the audio allows
    # (encoder frames + 2 tokens), so its transcript grows with the open utterance.
    env = {
        **model_env,
        "LIVE_CAPTIONS": "1",
        "TORCH_NUM_THREADS": "1",
        "CANARY_MAX_GENERATION_DELTA": "2",
    }
    with real_stack(data_dir, name="rutrans_captions_e2e", redis_db=13, extra_env=env) as stack:
        yield stack


async def speak(stack, *, captions: bool) -> tuple[LiveClient, float, float, float]:
    """One 6 s sentence at real-time pace after LEAD_S of silence, then silence until the
    final. Returns the client, when speech began and ended (client clock) and its length."""
    client = await LiveClient.connect(stack.ws_url, {"mode": "en->ru", "captions": captions})
    audio = speech_16k(SENTENCE, "en")
    await client.stream(silence_pcm(LEAD_S))
    speech_started = await client.stream(to_pcm16(audio[:320], 16_000))
    speech_ended = await client.stream(to_pcm16(audio[320:], 16_000))
    await client.stream(silence_pcm(SILENCE_S + 0.6))
    await client.wait_results(1, 20)
    return client, speech_started, speech_ended, len(audio) / 16_000


async def test_partials_arrive_before_the_final_in_order_and_growing(
    captions_stack, record_property
):
    client, speech_started, speech_ended, speech_s = await speak(captions_stack, captions=True)
    assert speech_s >= 5.5
    configured = next(m for m in client.received.messages if m.get("state") == "configured")
    assert configured["captions"] is True
    messages = [m for m in client.received.messages if m["type"] in ("partial", "result")]
    final_at = next(i for i, m in enumerate(messages) if m["type"] == "result")
    partials = messages[:final_at]
    assert all(m["type"] == "partial" for m in partials)
    assert [m for m in messages[final_at:] if m["type"] == "partial" and m["seq"] == 0] == []

    assert len(partials) >= 3, partials
    assert {p["seq"] for p in partials} == {0}
    parts = [p["part"] for p in partials]
    assert parts == sorted(parts) and len(set(parts)) == len(parts)
    ends = [p["end_s"] for p in partials]
    assert ends == sorted(ends)
    assert ends[0] - LEAD_S >= 0.9  # not before 1 s of speech
    # The source transcript grows with the audio (the tiny model's output grows with its
    # input up to its 64-token limit, reached after ~5 s).
    lengths = [len(p["source_text"]) for p in partials]
    assert all(lengths) and lengths == sorted(lengths) and lengths[-1] > lengths[0]
    assert all(p["text"] and (p["src"], p["tgt"]) == ("en", "ru") for p in partials)
    # Local agreement: what a partial commits, every later partial of its seq begins with.
    for i, earlier in enumerate(partials):
        assert set(earlier["stable"]) == {"source_text", "text"}
        for later in partials[i + 1 :]:
            for key in ("source_text", "text"):
                stable = earlier["stable"][key]
                assert later["stable"][key] >= stable
                assert later[key][:stable] == earlier[key][:stable], (key, earlier, later)

    final = messages[final_at]
    assert final["seq"] == 0 and final["text"]
    final_latency_s = client.received.results[0][2] - speech_ended
    assert final_latency_s <= SILENCE_S + 1.5

    # Caption latency: speech start → first partial text; audio sent → its partial shown.
    first_partial_s = partials[0]["_received_at"] - speech_started
    shown_after_s = [
        p["_received_at"] - (speech_started + p["end_s"] - LEAD_S - 0.02) for p in partials
    ]
    figures = {
        "partials": len(partials),
        "committed_chars": partials[-1]["stable"],
        "first_partial_s": round(first_partial_s, 3),
        "partial_lag_median_s": round(statistics.median(shown_after_s), 3),
        "final_after_speech_end_s": round(final_latency_s, 3),
    }
    record_property("captions", json.dumps(figures))
    print(f"\ncaptions: {figures}")
    await client.close()


async def test_a_client_without_captions_gets_none(captions_stack):
    client, _, _, _ = await speak(captions_stack, captions=False)
    configured = next(m for m in client.received.messages if m.get("state") == "configured")
    assert configured["captions"] is False
    assert [m for m in client.received.messages if m["type"] == "partial"] == []
    assert client.received.results[0][0]["seq"] == 0
    await client.close()
