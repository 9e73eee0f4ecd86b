"""The /ws/translate consumer in-process: embedded dispatch (worker thread), PostgreSQL
history, in-memory or real Redis channel layer."""

import io
import json

import numpy as np
import pytest
import soundfile as sf
from channels.testing import WebsocketCommunicator

from rutrans_site.asgi import application
from tests.services import require_redis
from translation.models import Translation

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

ORIGIN = (b"origin", b"http://127.0.0.1")


def pcm16k(audio: np.ndarray) -> bytes:
    return (audio * 32767).astype("<i2").tobytes()


async def connect(control=None):
    comm = WebsocketCommunicator(application, "/ws/translate", headers=[ORIGIN])
    connected, _ = await comm.connect()
    assert connected
    assert (await comm.receive_json_from())["state"] == "ready"
    if control is not None:
        await comm.send_to(text_data=json.dumps(control))
        assert (await comm.receive_json_from())["state"] == "configured"
    return comm


async def next_of_type(comm, kind, timeout=20):
    while True:
        message = await comm.receive_output(timeout)
        if message.get("text") and json.loads(message["text"])["type"] == kind:
            return json.loads(message["text"])


async def speak_and_flush(comm, speech, text="Good morning, everyone."):
    await comm.send_to(bytes_data=pcm16k(speech.speech_16k(text, "en")))
    await comm.send_to(text_data="__flush__")


CONTROL = {"mode": "en->ru", "sample_rate": 16_000, "channels": 1}


async def test_rejects_foreign_origin():
    comm = WebsocketCommunicator(
        application, "/ws/translate", headers=[(b"origin", b"http://evil.example")]
    )
    connected, _ = await comm.connect()
    assert not connected


async def test_result_json_then_wav_pieces_then_audio_end_and_history_row(engines, speech):
    comm = await connect(CONTROL)
    await speak_and_flush(comm, speech)
    queued = await next_of_type(comm, "status")
    assert queued["state"] == "queued" and queued["seq"] == 0
    result = await next_of_type(comm, "result")
    wav = await comm.receive_from(10)
    assert isinstance(wav, bytes)
    audio, sr = sf.read(io.BytesIO(wav))
    assert sr == 24_000 and len(audio) == int(24_000 * 0.01 * len(result["text"]))
    end = json.loads(await comm.receive_from(10))
    assert end["type"] == "audio_end" and (end["seq"], end["pieces"]) == (0, 1)
    assert "error" not in end and {"tts_ms", "total_ms", "first_audio_ms"} <= end["timings"].keys()
    assert result["text"].startswith("en->ru") and result["source_text"].startswith("en speech")
    assert {"queue_ms", "ast_ms", "push_ms"} <= result["timings"].keys()
    row = await Translation.objects.aget(pk=result["id"])
    assert (row.status, row.source, row.seq, row.text) == ("done", "live", 0, result["text"])
    assert row.input_audio.name.endswith(".wav") and row.output_audio.name.endswith(".wav")
    assert {"queue_ms", "ast_ms", "tts_ms", "total_ms", "endpoint_ms"} <= row.timings.keys()
    await comm.disconnect()


async def test_a_long_translation_comes_in_pieces_of_at_most_256_kib(engines, speech, settings):
    """Sentence by sentence (a very long sentence at its clauses), each a WAV of its own;
    the history row keeps the whole WAV."""
    engines.RUTRANS_TRANSLATOR = "tests.doubles.LongTranslator"
    comm = await connect(CONTROL)
    await speak_and_flush(comm, speech)
    result = await next_of_type(comm, "result")
    frames = []
    while True:
        message = await comm.receive_output(20)
        if message.get("bytes") is not None:
            frames.append(message["bytes"])
            continue
        end = json.loads(message["text"])
        break
    assert end == {**end, "type": "audio_end", "seq": 0, "pieces": len(frames)}
    assert max(len(f) for f in frames) <= 256 * 1024 and len(frames) >= 4
    pieces = [sf.read(io.BytesIO(f), dtype="float32") for f in frames]
    assert all(sr == 24_000 and len(a) > 0 for a, sr in pieces)
    row = await Translation.objects.aget(pk=result["id"])
    stored, stored_sr = sf.read(row.output_audio.path, dtype="float32")
    assert stored_sr == 24_000
    assert len(stored) == sum(len(a) for a, _ in pieces)
    await comm.disconnect()


async def test_a_session_is_told_of_an_utterance_its_history_could_not_keep(engines, speech):
    """The worker's `history.lost` event (the database away past the hold) becomes one
    `history_lost` status, at once, and the session goes on."""
    import asyncio

    from translation.jobs import delivery

    comm = await connect(CONTROL)
    await speak_and_flush(comm, speech)
    result = await next_of_type(comm, "result")
    row = await Translation.objects.aget(pk=result["id"])
    assert await asyncio.to_thread(delivery.tell_history_lost, row)
    status = await next_of_type(comm, "status")
    assert (status["state"], status["seq"]) == ("history_lost", 0)
    assert "not kept in the history" in status["message"]
    await comm.disconnect()


async def test_tts_failure_still_gives_the_text(engines, speech):
    engines.RUTRANS_SYNTHESIZER = "tests.doubles.FailingSynthesizer"
    comm = await connect(CONTROL)
    await speak_and_flush(comm, speech)
    result = await next_of_type(comm, "result")
    assert result["text"].startswith("en->ru")
    end = json.loads(await comm.receive_from(10))  # no binary frame after a failed TTS
    assert (end["type"], end["pieces"]) == ("audio_end", 0)
    assert "voice model crashed" in end["error"]
    row = await Translation.objects.aget(pk=result["id"])
    assert row.tts_failed is True and "voice model crashed" in row.error
    await comm.disconnect()


async def test_model_load_failure_is_an_error_for_that_utterance(engines, speech):
    from workers import runtime

    engines.RUTRANS_TRANSLATOR = "tests.doubles.UnloadableTranslator"
    comm = await connect(CONTROL)
    await speak_and_flush(comm, speech)
    error = await next_of_type(comm, "error")
    assert error["seq"] == 0 and "out of memory" in error["error"]
    row = await Translation.objects.aget(seq=0)
    assert row.status == "failed" and "could not load the translator" in row.error
    # The model becomes loadable: the next utterance of the same session translates.
    engines.RUTRANS_TRANSLATOR = "tests.doubles.ScriptedTranslator"
    runtime.reset()
    await speak_and_flush(comm, speech)
    result = await next_of_type(comm, "result")
    assert result["seq"] == 1
    await comm.disconnect()


async def test_auto_mode_uses_language_id(engines, speech):
    comm = await connect({**CONTROL, "mode": "auto"})
    await speak_and_flush(comm, speech)
    result = await next_of_type(comm, "result")
    assert (result["src"], result["tgt"]) == ("en", "ru") and "lid_ms" in result["timings"]
    await comm.disconnect()


async def test_over_the_real_redis_channel_layer(engines, speech, settings):
    redis_url = require_redis()
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "translation.messaging.redis_layer.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": redis_url, "socket_timeout": 15}]},
        }
    }
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        comm = await connect(CONTROL)
        await speak_and_flush(comm, speech)
        result = await next_of_type(comm, "result")
        assert isinstance(await comm.receive_from(10), bytes)
        assert (await next_of_type(comm, "audio_end"))["pieces"] == 1
        assert result["seq"] == 0
        await comm.disconnect()
    finally:
        channel_layers.backends.clear()


# --- overload (translation/jobs/capacity.py) ---------------------------------------------------


class SwitchableQueue:
    """Readings for the monitor: calm, or a final queued `lag_s` ago."""

    def __init__(self) -> None:
        self.lag_s = 0.0

    def __call__(self):
        import time

        from translation.jobs.backlog import QueueReading

        now = time.time()
        return QueueReading(
            read_at=now,
            queued=3 if self.lag_s else 0,
            queued_audio_s=6.0 if self.lag_s else 0.0,
            oldest_queued_at=now - self.lag_s if self.lag_s else None,
            rate=None,
            workers=0,
            speech_share=None,
            talking_sessions=0,
        )


@pytest.fixture
def queue(monkeypatch):
    from translation.jobs import capacity

    readings = SwitchableQueue()
    monkeypatch.setattr(
        capacity, "monitor", capacity.CapacityMonitor(read=readings, refresh_s=0.05)
    )
    return readings


async def next_status(comm, state, timeout=5):
    while True:
        message = await next_of_type(comm, "status", timeout)
        if message["state"] == state:
            return message


async def test_a_busy_state_reaches_the_session_and_a_new_session_is_refused_with_1013(queue):
    admitted = await connect(CONTROL)
    queue.lag_s = 7.0
    busy = await next_status(admitted, "busy")
    assert busy["lag_s"] >= 7.0 and busy["queued"] == 3 and busy["captions_paused"] is True
    assert "behind" in busy["message"]

    refused = WebsocketCommunicator(application, "/ws/translate", headers=[ORIGIN])
    connected, _ = await refused.connect()
    assert connected  # accepted first, so the browser sees why it closes
    told = await refused.receive_json_from()
    assert told["type"] == "status" and told["state"] == "refused"
    assert told["retry_after_s"] >= 7 and told["message"].startswith("translator busy")
    close = await refused.receive_output(5)
    assert close["type"] == "websocket.close" and close["code"] == 1013
    assert close["reason"] == told["message"]
    assert len(close["reason"].encode()) <= 123

    queue.lag_s = 0.0
    clear = await next_status(admitted, "clear")
    assert clear["lag_s"] == 0.0 and clear["captions_paused"] is False
    later = await connect(CONTROL)  # caught up: admitted again
    await later.disconnect()
    await admitted.disconnect()
