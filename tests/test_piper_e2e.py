"""Piper voices end to end on real processes (Daphne, a Celery worker, Redis, PostgreSQL): a
live session and an upload, each spoken by the tiny Piper voice through the production voice
router, and the audio that comes back is what that voice says for the translation."""

from __future__ import annotations

import io
import time
from types import SimpleNamespace

import numpy as np
import psycopg
import pytest
import soundfile as sf

from tests.speech import speech_16k
from tests.stack import real_stack
from tests.translation.api.test_api_e2e import encoded, get_json, http, upload
from tests.wsclient import LiveClient, silence_pcm, to_pcm16

pytestmark = [pytest.mark.services, pytest.mark.models, pytest.mark.timeout(300)]

DENIS = "piper:ru_RU-denis-medium"
LESSAC = "piper:en_US-lessac-medium"
EN_TEXT = "The weather is lovely today, so we will walk to the river."
RU_TEXT = "Сегодня хорошая погода, поэтому мы пойдём гулять к реке."


@pytest.fixture(scope="module")
def piper_stack(tmp_path_factory, tiny_models):
    """The tiny real-format models (never the doubles: the voice is the point), with a Piper
    voice as the server's default Russian voice."""
    env = {**tiny_models, "TTS_VOICE_RU": DENIS}
    data_dir = tmp_path_factory.mktemp("piper-stack")
    with real_stack(data_dir, name="rutrans_piper_e2e", redis_db=10, extra_env=env) as stack:
        yield stack


@pytest.fixture(scope="module")
def tiny_piper(tiny_models):
    """What the worker's pipeline should say, computed here with the same production code
    on the same tiny voices."""
    from pathlib import Path

    from workers.engines.voices import VoiceRouter
    from workers.pipeline import SpokenTranslation, TranslationPipeline

    settings = SimpleNamespace(
        SILERO_CACHE_DIR=Path(tiny_models["SILERO_CACHE_DIR"]),
        PIPER_VOICES_DIR=Path(tiny_models["PIPER_VOICES_DIR"]),
        TTS_SAMPLE_RATE=24000,
        TTS_VOICE_RU=DENIS,
        TTS_VOICE_EN="en_0",
        MODEL_DEVICE="cpu",
    )
    pipeline = TranslationPipeline(
        translator=None,  # type: ignore[arg-type]  # only `speak` is used
        synthesizer=VoiceRouter.from_settings(settings),
        identifier=None,
    )

    def say(text: str, lang: str, voice: str) -> np.ndarray:
        spoken = SpokenTranslation.of(pipeline.speak(text, lang=lang, voice=voice))
        assert spoken.audio is not None, spoken.error
        return spoken.audio

    return say


def assert_same_speech(received: np.ndarray, expected: np.ndarray) -> None:
    """The same waveform, up to the 16-bit WAV quantisation."""
    assert len(received) == len(expected)
    assert np.abs(received - expected).max() <= 2 / 32768


async def test_a_live_session_is_spoken_by_the_default_piper_voice(piper_stack, tiny_piper):
    client = await LiveClient.connect(piper_stack.ws_url, {"mode": "en->ru"})
    await client.stream(to_pcm16(speech_16k(EN_TEXT, "en"), 16_000) + silence_pcm(2.4))
    [(message, wav, _)] = await client.wait_results(1, 30)
    await client.close()
    assert client.received.errors == []
    assert (message["src"], message["tgt"], message["tts_failed"]) == ("en", "ru", False)
    assert wav is not None
    audio, sr = sf.read(io.BytesIO(wav), dtype="float32")
    assert sr == 24000
    assert_same_speech(audio, tiny_piper(message["text"], "ru", DENIS))

    with psycopg.connect(piper_stack.env["DATABASE_URL"]) as conn:
        status, voice = conn.execute(
            "SELECT status, voice FROM translation_translation WHERE id = %s", (message["id"],)
        ).fetchone()
    assert (status, voice) == ("done", "")  # no voice asked for: the server's default spoke


async def test_a_session_may_pick_another_piper_voice(piper_stack, tiny_piper):
    client = await LiveClient.connect(
        piper_stack.ws_url, {"mode": "ru->en", "voice": {"en": LESSAC}}
    )
    await client.stream(to_pcm16(speech_16k(RU_TEXT, "ru"), 16_000) + silence_pcm(2.4))
    [(message, wav, _)] = await client.wait_results(1, 30)
    await client.close()
    audio, _ = sf.read(io.BytesIO(wav), dtype="float32")
    assert_same_speech(audio, tiny_piper(message["text"], "en", LESSAC))


def test_an_upload_is_spoken_by_the_piper_voice_it_asks_for(piper_stack, tiny_piper):
    audio = speech_16k(RU_TEXT, "ru")
    status, _, accepted = upload(
        piper_stack, encoded(audio, 16_000, format="WAV"), "talk.wav", mode="ru->en", voice=LESSAC
    )
    assert status == 202, accepted
    deadline = time.monotonic() + 90
    while (job := get_json(accepted["status_url"])[1])["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job["status"] == "done" and job["voice"] == LESSAC, job
    status, headers, wav = http("GET", accepted["audio_url"])
    assert status == 200 and headers["Content-Type"] == "audio/wav"
    spoken, sr = sf.read(io.BytesIO(wav), dtype="float32")
    assert sr == 24000
    assert_same_speech(spoken, tiny_piper(job["text"], "en", LESSAC))
