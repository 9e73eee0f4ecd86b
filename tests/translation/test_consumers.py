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


async def test_result_json_then_wav_and_history_row(engines, speech):
    comm = await connect(CONTROL)
    await speak_and_flush(comm, speech)
    queued = await next_of_type(comm, "status")
    assert queued["state"] == "queued" and queued["seq"] == 0
    result = await next_of_type(comm, "result")
    wav = await comm.receive_from(10)
    assert isinstance(wav, bytes)
    audio, sr = sf.read(io.BytesIO(wav))
    assert sr == 24_000 and len(audio) == int(24_000 * 0.01 * len(result["text"]))
    assert result["text"].startswith("en->ru") and result["source_text"].startswith("en speech")
    row = await Translation.objects.aget(pk=result["id"])
    assert (row.status, row.source, row.seq, row.text) == ("done", "live", 0, result["text"])
    assert row.input_audio.name.endswith(".wav") and row.output_audio.name.endswith(".wav")
    assert {"queue_ms", "ast_ms", "tts_ms", "total_ms", "endpoint_ms"} <= row.timings.keys()
    await comm.disconnect()


async def test_tts_failure_still_gives_the_text(engines, speech):
    engines.RUTRANS_SYNTHESIZER = "tests.doubles.FailingSynthesizer"
    comm = await connect(CONTROL)
    await speak_and_flush(comm, speech)
    result = await next_of_type(comm, "result")
    assert result["tts_failed"] is True and result["text"].startswith("en->ru")
    assert "voice model crashed" in result["error"]
    assert await comm.receive_nothing(0.5)  # no binary frame after a failed TTS
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
            "BACKEND": "channels_redis.core.RedisChannelLayer",
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
        assert result["seq"] == 0
        await comm.disconnect()
    finally:
        channel_layers.backends.clear()
