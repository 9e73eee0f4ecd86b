"""Uploads end to end on real processes: HTTP to Daphne, the job through Redis to a real Celery
worker, history in PostgreSQL, the status pushed over `/ws/jobs/<id>`."""

from __future__ import annotations

import asyncio
import io
import json
import time
import urllib.error
import urllib.request
import uuid

import numpy as np
import psycopg
import pytest
import soundfile as sf
import websockets

from tests.speech import speak
from tests.stack import real_stack
from translation.audio.pcm import resample_float32

pytestmark = [pytest.mark.services, pytest.mark.timeout(300)]

DB_NAME = "rutrans_api_e2e"
REDIS_DB = 13
EN_TEXT = "The weather is lovely today, so we will walk to the river."
RU_TEXT = "Сегодня хорошая погода, поэтому мы пойдём гулять к реке."


@pytest.fixture(scope="module")
def api_stack(tmp_path_factory, model_env):
    data_dir = tmp_path_factory.mktemp("api-stack")
    with real_stack(data_dir, name=DB_NAME, redis_db=REDIS_DB, extra_env=model_env) as stack:
        yield stack


# --- HTTP and audio helpers ---------------------------------------------------------------------


def http(method: str, url: str, *, body: bytes | None = None, headers=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def upload(stack, data: bytes, filename: str, **fields: str):
    """POST multipart/form-data, as a browser's fetch() with FormData does."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="audio"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    status, headers, content = http(
        "POST",
        stack.http_url + "/api/translations",
        body=b"".join(parts),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    return status, headers, json.loads(content)


def get_json(url: str) -> tuple[int, dict]:
    status, _, content = http("GET", url)
    return status, json.loads(content)


def wait_until_finished(status_url: str, timeout_s: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status, job = get_json(status_url)
        assert status == 200
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job not finished after {timeout_s} s: {job}")


def encoded(audio: np.ndarray, sr: int, **kwargs) -> bytes:
    out = io.BytesIO()
    sf.write(out, audio, sr, **kwargs)
    return out.getvalue()


def speech_as(text: str, lang: str, sr: int, channels: int) -> tuple[np.ndarray, float]:
    audio, speech_sr = speak(text, lang)
    audio = resample_float32(audio, speech_sr, sr) if sr != speech_sr else np.array(audio)
    if channels > 1:
        audio = np.repeat(audio[:, None], channels, axis=1)
    return audio, len(audio) / sr


FORMATS = {
    "wav-48k-stereo": (48_000, 2, {"format": "WAV", "subtype": "PCM_16"}, "talk.wav"),
    "flac-16k-mono": (16_000, 1, {"format": "FLAC", "subtype": "PCM_16"}, "talk.flac"),
    "ogg-vorbis-44k-stereo": (44_100, 2, {"format": "OGG", "subtype": "VORBIS"}, "talk.ogg"),
}


def db_row(stack, job_id: str) -> tuple:
    with psycopg.connect(stack.env["DATABASE_URL"]) as conn:
        return conn.execute(
            "SELECT source, status, worker, requested_src, requested_tgt "
            "FROM translation_translation WHERE id = %s",
            (job_id,),
        ).fetchone()


# --- Tests --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FORMATS))
@pytest.mark.parametrize(("text", "lang", "mode"), [(EN_TEXT, "en", "en->ru")])
def test_upload_is_translated_by_the_worker(api_stack, name, text, lang, mode):
    sr, channels, fmt, filename = FORMATS[name]
    audio, seconds = speech_as(text, lang, sr, channels)
    status, headers, accepted = upload(api_stack, encoded(audio, sr, **fmt), filename, mode=mode)
    assert status == 202, accepted
    job_id = accepted["id"]
    assert accepted["status_url"] == f"{api_stack.http_url}/api/translations/{job_id}"
    assert accepted["ws_url"] == f"{api_stack.ws_url}/ws/jobs/{job_id}"
    assert headers["Location"] == accepted["status_url"]

    job = wait_until_finished(accepted["status_url"])
    assert job["status"] == "done", job
    assert (job["src"], job["tgt"]) == ("en", "ru")
    assert isinstance(job["text"], str) and job["text"]
    assert job["duration_s"] == pytest.approx(seconds, abs=0.08)
    assert {"queue_ms", "ast_ms", "tts_ms"} <= job["timings"].keys()
    assert job["finished_at"] and job["has_audio"] is True

    status, headers, wav = http("GET", accepted["audio_url"])
    assert status == 200 and headers["Content-Type"] == "audio/wav"
    info = sf.info(io.BytesIO(wav))
    assert info.subtype == "PCM_16" and info.samplerate in (8000, 16000, 24000, 48000)
    assert info.frames > 0

    source, db_status, worker, src, tgt = db_row(api_stack, job_id)
    assert (source, db_status, src, tgt) == ("upload", "done", "en", "ru")
    assert worker.startswith("worker-")


def test_a_recording_longer_than_one_utterance_is_read_whole(api_stack):
    """~75 s (a long pause between sentences): the worker gets all of its speech, and the
    20 s silences cut to short pauses (translation/audio/vad.py)."""
    sr = 16_000
    sentence, _ = speech_as(RU_TEXT, "ru", sr, 1)
    pause = np.zeros(20 * sr, dtype=np.float32)
    audio = np.concatenate([sentence, pause, sentence, pause, sentence, pause, sentence])
    status, _, accepted = upload(
        api_stack, encoded(audio, sr, format="FLAC"), "long.flac", mode="ru->en"
    )
    assert status == 202
    job = wait_until_finished(accepted["status_url"], timeout_s=180)
    assert job["status"] == "done", job
    seconds = len(audio) / sr
    assert job["duration_s"] == pytest.approx(seconds, abs=0.01)
    assert (job["src"], job["tgt"]) == ("ru", "en")
    # What the translator itself was given: the four sentences, the silences cut short.
    with psycopg.connect(api_stack.env["DATABASE_URL"]) as conn:
        (meta,) = conn.execute(
            "SELECT meta FROM translation_translation WHERE id = %s", (accepted["id"],)
        ).fetchone()
    assert meta["speech"]["spans"] == 4
    heard = meta["speech"]["model_input_s"]
    assert 4 * len(sentence) / sr <= heard < 4 * len(sentence) / sr + 3 * 0.4 + 4 * 0.4
    if "audio_s" in meta["ast"]:  # the real Canary engine (tiny model)
        assert meta["ast"]["audio_s"] == pytest.approx(heard, abs=0.01)
    else:  # the scripted double says how much it heard
        assert job["text"] == f"ru->en {heard:.2f} s"


def test_errors_over_http(api_stack):
    base = api_stack.http_url + "/api/translations"
    status, _, body = upload(api_stack, b"<!DOCTYPE html><html></html>", "page.wav")
    assert status == 400 and body["error"]["code"] == "invalid_audio"
    status, _, body = upload(api_stack, b"\x00" * 64, "x.wav", mode="klingon")
    assert status == 400 and "klingon" in body["error"]["message"]
    assert get_json(f"{base}/{uuid.uuid4()}")[0] == 404
    status, body = get_json(base)
    assert status == 403 and body["error"]["code"] == "not_authenticated"
    status, _, schema = http("GET", api_stack.http_url + "/api/schema?format=json")
    assert status == 200 and "/api/translations" in json.loads(schema)["paths"]
    status, _, page = http("GET", api_stack.http_url + "/api/docs")
    assert status == 200 and b"swagger-ui" in page
    # The docs page's script is served by the app itself.
    script = page.decode().split('src="', 2)[1].split('"', 1)[0]
    assert http("GET", api_stack.http_url + script)[0] == 200


async def job_socket(url: str, origin: str):
    return await websockets.connect(url, origin=origin, open_timeout=10)


async def next_message(ws, timeout_s: float = 60.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout_s))


async def assert_closed(ws) -> None:
    with pytest.raises(websockets.ConnectionClosedOK):
        await asyncio.wait_for(ws.recv(), 10)


async def test_status_stream_queued_running_done_then_closed(api_stack):
    """The worker is stopped while the job is submitted, so every state is seen."""
    api_stack.stop("worker")
    try:
        audio, _ = speech_as(EN_TEXT, "en", 48_000, 2)
        status, _, accepted = await asyncio.to_thread(
            upload, api_stack, encoded(audio, 48_000, format="WAV"), "talk.wav", mode="en->ru"
        )
        assert status == 202
        ws = await job_socket(accepted["ws_url"], api_stack.http_url)
        queued = await next_message(ws, 10)
        assert (queued["type"], queued["id"], queued["status"]) == ("job", accepted["id"], "queued")
    finally:
        await asyncio.to_thread(api_stack.start_worker)

    running = await next_message(ws)
    done = await next_message(ws)
    assert [running["status"], done["status"]] == ["running", "done"]
    assert done["text"] and done["has_audio"] and done["finished_at"]
    await assert_closed(ws)
    _, rest = await asyncio.to_thread(get_json, accepted["status_url"])
    assert rest == {key: done[key] for key in rest}

    # Late: the current (final) state at once, then the close.
    late = await job_socket(accepted["ws_url"], api_stack.http_url)
    started = time.monotonic()
    assert await next_message(late, 5) == done
    assert time.monotonic() - started < 1.0
    await assert_closed(late)


async def test_status_stream_for_an_unknown_job(api_stack):
    job_id = uuid.uuid4()
    ws = await job_socket(f"{api_stack.ws_url}/ws/jobs/{job_id}", api_stack.http_url)
    assert await next_message(ws, 5) == {"type": "error", "error": f"no such job {job_id}"}
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd.code == 4404


async def test_status_stream_refuses_a_foreign_origin(api_stack):
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(
            f"{api_stack.ws_url}/ws/jobs/{uuid.uuid4()}", origin="http://evil.example"
        )
