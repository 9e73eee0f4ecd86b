"""Long translations on the real stack (Daphne, a Celery worker, Redis, PostgreSQL) at
TTS_SAMPLE_RATE=48000, where one WAV of the whole translation would be several MB: a 60 s
utterance comes back sentence by sentence in WAVs of at most 256 KiB, the first before the
last is synthesized, and the session stays open; a 60 s upload works and its job WebSocket
stays small too.

The voice is the real Silero engine on the tiny test model (40 ms per character), paced to
take RUTRANS_TEST_TTS_DELAY_S per sentence like a real model; the translator is a double whose
Russian text grows with the audio (20 characters per second), since the tiny Canary's random
output is short."""

from __future__ import annotations

import asyncio
import io
import json
import time

import numpy as np
import pytest
import soundfile as sf
import websockets

from tests.speech import speech_16k
from tests.stack import real_stack
from tests.translation.api.test_api_e2e import http, upload, wait_until_finished
from tests.wsclient import LiveClient, to_pcm16
from translation.protocol.messages import MAX_MESSAGE_BYTES

pytestmark = [pytest.mark.services, pytest.mark.timeout(300)]

DB_NAME = "rutrans_long_audio"
REDIS_DB = 10
LONG_S = 60.0
TTS_DELAY_S = 0.3
TTS_RATE = 48_000
# One run-on sentence, no punctuation: espeak reads it without pauses, so the whole minute is
# one utterance (cut by the flush), whatever the segmenter does at pauses.
MONOLOGUE = (
    "and so we walked along the river for a long time looking at the boats and talking about "
    "the books we had read during the winter and the people we had met in the city "
)


@pytest.fixture(scope="module")
def long_stack(tmp_path_factory, model_env):
    env = {
        **model_env,
        "RUTRANS_TRANSLATOR": "tests.doubles.ProportionalTranslator",
        "RUTRANS_SYNTHESIZER": "tests.doubles.PacedSynthesizer",
        "RUTRANS_TEST_TTS_DELAY_S": str(TTS_DELAY_S),
        "TTS_SAMPLE_RATE": str(TTS_RATE),
        "UTTERANCE_MAX_S": "90",
    }
    data_dir = tmp_path_factory.mktemp("long-audio-stack")
    with real_stack(data_dir, name=DB_NAME, redis_db=REDIS_DB, extra_env=env) as stack:
        yield stack


@pytest.fixture(scope="module")
def minute_of_speech() -> np.ndarray:
    """60 s of continuous English speech, 16 kHz mono."""
    once = speech_16k(MONOLOGUE * 3, "en")
    audio = np.tile(once, int(np.ceil(LONG_S * 16_000 / len(once))))
    return np.ascontiguousarray(audio[: int(LONG_S * 16_000)])


async def test_a_60_s_utterance_streams_back_in_small_pieces(long_stack, minute_of_speech):
    client = await LiveClient.connect(long_stack.ws_url, {"mode": "en->ru"})
    await client.stream(to_pcm16(minute_of_speech, 16_000), realtime=False)
    await client.flush()
    [(result, wav, first_audio_at)] = await client.wait_results(1, 120)

    assert result["seq"] == 0 and result["timings"]["audio_s"] == pytest.approx(LONG_S, abs=0.1)
    pieces = client.received.pieces[0]
    end = client.received.ends[0]
    assert end["pieces"] == len(pieces) and "error" not in end
    assert client.received.max_message_bytes <= MAX_MESSAGE_BYTES
    assert max(len(frame) for frame, _ in pieces) <= MAX_MESSAGE_BYTES

    # All the audio arrived: every piece a playable 48 kHz WAV, together what the row stored.
    audio, sr = sf.read(io.BytesIO(wav), dtype="float32")
    sentences = result["text"].count(".")
    assert sr == TTS_RATE and len(audio) / sr > 40.0  # > 3.8 MB as one WAV
    status, _, stored = http("GET", f"{long_stack.http_url}/api/translations/{result['id']}/audio")
    assert status == 200
    stored_audio, stored_sr = sf.read(io.BytesIO(stored), dtype="float32")
    assert stored_sr == TTS_RATE and len(stored_audio) == len(audio)

    # Streamed: the first piece came while the later sentences were still being synthesized
    # (each takes TTS_DELAY_S), not after all of them.
    last_piece_at = pieces[-1][1]
    assert sentences >= 15 and len(pieces) >= 2 * 6
    assert last_piece_at - first_audio_at >= 0.5 * TTS_DELAY_S * (sentences / 3)
    assert first_audio_at < result["_received_at"] + 3 * TTS_DELAY_S + 2.0
    timings = result["timings"]
    assert timings["first_audio_ms"] < timings["total_ms"] - 1000 * TTS_DELAY_S

    # The session is still open and translates the next utterance.
    await client.stream(to_pcm16(speech_16k("Thank you very much.", "en"), 16_000))
    await client.flush()
    results = await client.wait_results(2, 60)
    assert [m["seq"] for m, _, _ in results] == [0, 1]
    assert client.received.max_message_bytes <= MAX_MESSAGE_BYTES
    await client.close()
    print(
        f"\n60 s utterance at {TTS_RATE} Hz: {len(pieces)} WAV pieces, largest "
        f"{max(len(f) for f, _ in pieces)} B, {len(audio) / sr:.1f} s of speech; first piece "
        f"{(first_audio_at - result['_received_at']) * 1000:.0f} ms after the text, last "
        f"{(last_piece_at - first_audio_at):.1f} s after the first"
    )


async def watch_job(ws_url: str, job_id: str) -> list[str | bytes]:
    """Every message of /ws/jobs/<id> until the server closes it."""
    messages: list[str | bytes] = []
    origin = ws_url.replace("ws://", "http://")
    async with websockets.connect(f"{ws_url}/ws/jobs/{job_id}", origin=origin) as ws:
        try:
            async for message in ws:
                messages.append(message)
        except websockets.ConnectionClosed:
            pass
    return messages


async def test_a_60_s_upload_at_48_khz(long_stack, minute_of_speech):
    stereo_48k = np.repeat(
        np.interp(
            np.arange(int(LONG_S * 48_000)) / 3, np.arange(len(minute_of_speech)), minute_of_speech
        ).astype(np.float32)[:, None],
        2,
        axis=1,
    )
    data = io.BytesIO()
    sf.write(data, stereo_48k, 48_000, format="WAV", subtype="PCM_16")
    status, _, created = await asyncio.to_thread(
        upload, long_stack, data.getvalue(), "minute.wav", mode="en->ru"
    )
    assert status == 202, created
    started = time.monotonic()
    messages = await asyncio.wait_for(watch_job(long_stack.ws_url, created["id"]), 120)
    job = wait_until_finished(created["status_url"], timeout_s=60)
    assert job["status"] == "done" and job["has_audio"], job
    assert all(isinstance(m, str) and len(m.encode()) <= MAX_MESSAGE_BYTES for m in messages)
    assert json.loads(messages[-1])["status"] == "done"

    status, headers, wav = http("GET", f"{long_stack.http_url}/api/translations/{job['id']}/audio")
    assert status == 200
    audio, sr = sf.read(io.BytesIO(wav), dtype="float32")
    assert sr == TTS_RATE and len(audio) / sr > 40.0 and len(wav) > 4 * MAX_MESSAGE_BYTES
    print(
        f"\n60 s upload at {TTS_RATE} Hz: {len(wav)} B WAV over HTTP, "
        f"{len(messages)} job messages (largest {max(len(m) for m in messages)} B), "
        f"{time.monotonic() - started:.1f} s"
    )
