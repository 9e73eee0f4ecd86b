"""End to end on real processes: a WebSocket client streams speech in real time to Daphne,
utterances go through Redis to a real Celery worker and come back over the Redis channel layer;
history in PostgreSQL. The same again for the embedded single-process default."""

from __future__ import annotations

import asyncio
import io
import json
import statistics
import time

import numpy as np
import psycopg
import pytest
import soundfile as sf

from tests.speech import continuous_read_speech, speech_16k
from tests.stack import real_stack, start_stack
from tests.wsclient import LiveClient, silence_pcm, to_pcm16

pytestmark = [pytest.mark.services, pytest.mark.timeout(300)]

SILENCE_S = 0.9
EN_TEXT = "The weather is lovely today, so we will walk to the river."
RU_TEXT = "Сегодня хорошая погода, поэтому мы пойдём гулять к реке."


@pytest.fixture(scope="module")
def engine_env(request):
    """The engines the worker runs: the tiny real-format models when the worker extra is
    installed (the production loading code), else the test doubles."""
    return request.getfixturevalue("model_env")


@pytest.fixture(scope="module")
def live_stack(tmp_path_factory, engine_env):
    data_dir = tmp_path_factory.mktemp("real-stack")
    with real_stack(data_dir, name="rutrans_e2e", redis_db=14, extra_env=engine_env) as stack:
        yield stack


@pytest.fixture(scope="module")
def embedded_stack(tmp_path_factory, engine_env):
    stack = start_stack(
        tmp_path_factory.mktemp("embedded"), database_url=None, redis_url=None, extra_env=engine_env
    )
    yield stack
    stack.stop_all()


def speech_pcm(text: str, lang: str) -> tuple[bytes, float]:
    """Trimmed speech as 48 kHz stereo PCM: its last frame is the true end of speech."""
    audio = speech_16k(text, lang)
    return to_pcm16(audio, 16_000), len(audio) / 16_000


def wav_of(result) -> tuple[np.ndarray, int]:
    _, wav, _ = result
    assert wav is not None, "no WAV after the result"
    audio, sr = sf.read(io.BytesIO(wav), dtype="float32")
    assert sf.info(io.BytesIO(wav)).subtype == "PCM_16"
    return audio, sr


async def translate_once(stack, text, lang, mode):
    client = await LiveClient.connect(stack.ws_url, {"mode": mode})
    pcm, _ = speech_pcm(text, lang)
    speech_sent = await client.stream(pcm)
    await client.stream(silence_pcm(SILENCE_S + 1.5))
    results = await client.wait_results(1, 15)
    await client.close()
    return results, speech_sent


@pytest.mark.parametrize(
    ("text", "lang", "mode"), [(EN_TEXT, "en", "en->ru"), (RU_TEXT, "ru", "ru->en")]
)
async def test_speech_then_silence_is_translated_without_flush(live_stack, text, lang, mode):
    results, speech_sent = await translate_once(live_stack, text, lang, mode)
    assert len(results) == 1
    message, _, received_at = results[0]
    assert message["seq"] == 0 and (message["src"], message["tgt"]) == tuple(mode.split("->"))
    assert isinstance(message["text"], str) and message["text"]
    assert {"endpoint_ms", "queue_ms", "ast_ms", "tts_ms", "push_ms"} <= message["timings"].keys()
    audio, sr = wav_of(results[0])
    assert sr in (8000, 16000, 24000, 48000) and len(audio) > 0
    assert received_at - speech_sent <= SILENCE_S + 1.5

    with psycopg.connect(live_stack.env["DATABASE_URL"]) as conn:
        status, text_db, worker = conn.execute(
            "SELECT status, text, worker FROM translation_translation WHERE id = %s",
            (message["id"],),
        ).fetchone()
    assert (status, text_db) == ("done", message["text"]) and worker.startswith("worker-")


async def test_two_utterances_in_one_stream_arrive_in_order(live_stack):
    client = await LiveClient.connect(live_stack.ws_url, {"mode": "en->ru"})
    first, first_s = speech_pcm("Good morning, everyone.", "en")
    second, second_s = speech_pcm(
        "Please open the window, it is getting very warm in this room.", "en"
    )
    await client.stream(first + silence_pcm(1.5) + second + silence_pcm(SILENCE_S + 1.5))
    results = await client.wait_results(2, 15)
    await client.close()
    assert [m["seq"] for m, _, _ in results] == [0, 1]
    # Each utterance holds its own sentence: the second is the longer one.
    durations = [m["timings"]["audio_s"] for m, _, _ in results]
    assert abs(durations[0] - first_s) < 0.6 and abs(durations[1] - second_s) < 0.6


async def test_comma_pause_in_a_short_sentence_is_not_cut(live_stack):
    client = await LiveClient.connect(live_stack.ws_url, {"mode": "en->ru"})
    head, _ = speech_pcm("Please translate this sentence,", "en")
    tail, _ = speech_pcm("into Russian for my friend.", "en")
    await client.stream(head + silence_pcm(0.4) + tail + silence_pcm(SILENCE_S + 1.5))
    results = await client.wait_results(1, 15)
    await asyncio.sleep(0.5)  # a second result would be here by now
    await client.close()
    assert len(client.received.results) == 1 and results[0][0]["seq"] == 0


SENTENCE_LAG_S = 3.0
"""Continuous speech: the most a sentence may wait (its end → its translation's audio)."""


def result_for(sentence_end_s: float, results):
    """The result holding a sentence's end: results are contiguous and in order, so the first
    whose [start_s, end_s] reaches past it."""
    return next((r for r in results if r[0]["end_s"] >= sentence_end_s), None)


async def test_continuous_real_speech_every_sentence_within_seconds(live_stack, record_property):
    """Five read sentences with their natural 0.2-0.6 s gaps only, no flush (issue 11): each
    sentence's translation audio arrives within SENTENCE_LAG_S of the sentence's end."""
    audio, sentences = continuous_read_speech()
    client = await LiveClient.connect(live_stack.ws_url, {"mode": "en->ru"})
    started = time.monotonic()  # frame i goes out at started + i × 20 ms (or later)
    await client.stream(to_pcm16(audio, 16_000) + silence_pcm(2.0))
    last_end = sentences[-1][1]
    deadline = time.monotonic() + 15
    while not any(m["end_s"] >= last_end for m, _, _ in client.received.results):
        assert time.monotonic() < deadline, client.received.messages
        await asyncio.sleep(0.05)
    await client.close()

    results = client.received.results
    assert [m["seq"] for m, _, _ in results] == list(range(len(results)))
    assert client.received.errors == []
    lags = []
    for _, end in sentences:
        found = result_for(end, results)
        assert found is not None, (end, [(m["start_s"], m["end_s"]) for m, _, _ in results])
        lags.append(found[2] - (started + end))
    record_property("sentence_lag_s", json.dumps([round(float(lag), 2) for lag in lags]))
    print(f"\nper-sentence lag (s): {[round(float(lag), 2) for lag in lags]}")
    assert len(results) >= 4  # one result per sentence, give or take one joined pair
    assert max(lags) <= SENTENCE_LAG_S, lags


async def test_flush_mid_speech_cuts_there(live_stack):
    client = await LiveClient.connect(live_stack.ws_url, {"mode": "en->ru"})
    pcm, total_s = speech_pcm(EN_TEXT, "en")
    half = len(pcm) // 2 // 4 * 4
    await client.stream(pcm[:half])
    await client.flush()
    results = await client.wait_results(1, 15)
    assert results[0][0]["timings"]["audio_s"] < total_s * 0.5 + 0.35
    await client.close()


async def test_pure_silence_gives_no_result(live_stack):
    client = await LiveClient.connect(live_stack.ws_url, {"mode": "auto"})
    await client.stream(silence_pcm(2.5), realtime=False)
    await client.flush()
    flushed = await client.wait_for(lambda m: m.get("state") == "flushed", 5)
    assert flushed["utterance"] is False
    assert client.received.results == [] and client.received.errors == []
    await client.close()


async def test_invalid_input_keeps_the_session_usable(live_stack):
    client = await LiveClient.connect(live_stack.ws_url, None)
    await client.ws.send(b"\x00" * 640)  # audio before control
    await client.ws.send("{broken")
    await client.send_json({"mode": "klingon"})
    await client.send_json({"mode": "en->ru"})
    await client.wait_for(lambda m: m.get("state") == "configured", 5)
    await client.ws.send(b"\x01\x02\x03")  # not whole stereo samples
    errors = [e["error"] for e in client.received.errors]
    await client.wait_for(lambda m: "frame dropped" in m.get("error", ""), 5)
    pcm, _ = speech_pcm("Thank you very much.", "en")
    await client.stream(pcm)
    await client.flush()
    results = await client.wait_results(1, 15)
    assert results[0][0]["seq"] == 0
    errors = [e["error"] for e in client.received.errors]
    assert any("control message" in e for e in errors)
    assert any("invalid JSON" in e for e in errors)
    assert any('mode must be one of auto, en->ru, ru->en (got "klingon")' in e for e in errors)
    await client.close()


async def test_flush_to_wav_latency_over_20_utterances(live_stack, record_property):
    """The figure for the closing note: end of flush → WAV received, 20 utterances."""
    client = await LiveClient.connect(live_stack.ws_url, {"mode": "en->ru"})
    pcm, _ = speech_pcm("Hello there, how are you?", "en")
    latencies = []
    for i in range(20):
        await client.stream(pcm, realtime=False)
        await client.flush()
        flushed_at = time.monotonic()
        results = await client.wait_results(i + 1, 10)
        latencies.append((results[i][2] - flushed_at) * 1000)
    await client.close()
    assert [m["seq"] for m, _, _ in client.received.results] == list(range(20))
    figures = {"median_ms": statistics.median(latencies), "max_ms": max(latencies)}
    record_property("flush_to_wav_ms", json.dumps(figures))
    print(f"\nflush → WAV over 20 utterances: {figures}")
    assert figures["median_ms"] < 1000


async def test_session_gone_does_not_break_the_worker(live_stack):
    client = await LiveClient.connect(live_stack.ws_url, {"mode": "en->ru"})
    pcm, _ = speech_pcm("I have to go now.", "en")
    await client.stream(pcm, realtime=False)
    await client.flush()
    queued = await client.wait_for(lambda m: m.get("state") == "queued", 5)
    await client.close()  # gone before the result
    deadline = time.monotonic() + 15
    with psycopg.connect(live_stack.env["DATABASE_URL"], autocommit=True) as conn:
        while time.monotonic() < deadline:
            (status,) = conn.execute(
                "SELECT status FROM translation_translation WHERE id = %s", (queued["id"],)
            ).fetchone()
            if status in ("done", "failed"):
                break
            time.sleep(0.2)
    assert status == "done"
    results, _ = await translate_once(live_stack, "Still here.", "en", "en->ru")
    assert len(results) == 1


async def test_embedded_default_translates_in_one_process(embedded_stack):
    results, speech_sent = await translate_once(embedded_stack, EN_TEXT, "en", "en->ru")
    assert len(results) == 1
    message, _, received_at = results[0]
    assert (message["src"], message["tgt"]) == ("en", "ru")
    wav_of(results[0])
    assert received_at - speech_sent <= SILENCE_S + 1.5
    assert (embedded_stack.data_dir / "rutrans.sqlite3").exists()
