"""Keep no audio (STORE_AUDIO=0) on the real stack: Daphne, a Celery worker, Redis, PostgreSQL.
Live utterances and uploads are translated and their text kept, while nothing is written
under the media folder; the input travels through Redis and an upload's WAV is downloadable
once."""

from __future__ import annotations

import io
from pathlib import Path

import psycopg
import pytest
import soundfile as sf

from tests.speech import speech_16k
from tests.stack import real_stack
from tests.translation.api.test_api_e2e import get_json, http, upload, wait_until_finished
from tests.wsclient import LiveClient, silence_pcm, to_pcm16

pytestmark = [pytest.mark.services, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def no_audio_stack(tmp_path_factory, model_env):
    data_dir = tmp_path_factory.mktemp("no-audio-stack")
    env = {**model_env, "STORE_AUDIO": "0"}
    with real_stack(data_dir, name="rutrans_no_audio", redis_db=9, extra_env=env) as stack:
        yield stack


def media_files(stack) -> list[Path]:
    media = Path(stack.data_dir) / "media"
    return sorted(p for p in media.rglob("*") if p.is_file()) if media.exists() else []


def row(stack, row_id: str) -> tuple:
    with psycopg.connect(stack.env["DATABASE_URL"]) as conn:
        return conn.execute(
            "SELECT status, text, source_text, input_audio, output_audio, store_audio "
            "FROM translation_translation WHERE id = %s",
            (row_id,),
        ).fetchone()


async def test_live_utterances_and_uploads_keep_no_file(no_audio_stack):
    stack = no_audio_stack
    # Live: the result and its spoken translation arrive; the row keeps only text.
    client = await LiveClient.connect(stack.ws_url, {"mode": "en->ru"})
    speech = speech_16k("Good morning, everyone.", "en")
    await client.stream(to_pcm16(speech, 16_000) + silence_pcm(2.5))
    [(message, wav, _)] = await client.wait_results(1, 60)
    await client.close()
    assert message["text"] and wav is not None and sf.info(io.BytesIO(wav)).frames > 0
    status, text, source_text, input_audio, output_audio, store = row(stack, message["id"])
    assert (status, text, store) == ("done", message["text"], False)
    assert source_text and input_audio == "" and output_audio == ""

    # Upload: done, downloadable once, then gone.
    data = io.BytesIO()
    sf.write(data, speech_16k("The weather is lovely today.", "en"), 16_000, format="WAV")
    code, _, accepted = upload(stack, data.getvalue(), "speech.wav", mode="en->ru")
    assert code == 202, accepted
    job = wait_until_finished(accepted["status_url"])
    assert job["status"] == "done" and job["text"] and job["has_audio"] is True
    code, headers, content = http("GET", accepted["audio_url"])
    assert code == 200 and headers["Content-Type"] == "audio/wav"
    assert sf.info(io.BytesIO(content)).samplerate == 24_000
    code, _, _ = http("GET", accepted["audio_url"])
    assert code == 404
    assert get_json(accepted["status_url"])[1]["has_audio"] is False
    code, _, transcript = http("GET", accepted["status_url"] + "/transcript?format=txt")
    assert code == 200 and job["text"] in transcript.decode()
    _, _, _, input_audio, output_audio, store = row(stack, accepted["id"])
    assert (input_audio, output_audio, store) == ("", "", False)

    assert media_files(stack) == []  # not one recording on disk
