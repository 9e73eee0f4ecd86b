"""No disk shared between web and worker: recordings in an S3 bucket (moto's server in the
pytest process) on the real stack (Daphne, a Celery worker, Redis, PostgreSQL).

The worker has a MEDIA_ROOT of its own (an empty folder of its own, not the web's) and, where
this host lets us (root and `unshare`), runs in a mount namespace of its own with an empty
tmpfs over the web's media folder: whatever it reads or writes can only go through the bucket.
An upload through the REST API ends done with a downloadable translated WAV, and live
utterances (one kept, one kept nowhere: `store_audio: false` travels through Redis) get their
results. Both processes draw PostgreSQL connections from a pool of DB_POOL_MAX_SIZE."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
import soundfile as sf

from rutrans_site.scaled import worker_command
from tests.services import drop_postgres_database, fresh_postgres_database, fresh_redis_database
from tests.speech import speech_16k
from tests.stack import ROOT, Stack, _wait_for, start_stack
from tests.translation.api.test_api_e2e import http, upload, wait_until_finished
from tests.wsclient import LiveClient, silence_pcm, to_pcm16

pytestmark = [pytest.mark.services, pytest.mark.timeout(300)]

DB_NAME = "rutrans_object_storage"
REDIS_DB = 8
POOL = 4


def can_hide_a_folder() -> bool:
    """Root with `unshare`: the worker can get a mount namespace of its own."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "--", "sh", "-c", "mount -t tmpfs none /mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


def start_worker_without_the_webs_disk(stack: Stack, web_media: Path, own_dir: Path) -> str:
    """The worker, with MEDIA_ROOT in `own_dir` and (when possible) an empty tmpfs over the
    web's media folder; returns how it was isolated, for the report."""
    env = stack.env | {"MEDIA_ROOT": str(own_dir / "media"), "RUTRANS_DATA_DIR": str(own_dir)}
    command = [*worker_command(f"s3-worker-{uuid.uuid4().hex[:6]}@%h"), "--without-gossip"]
    isolation = "own MEDIA_ROOT"
    if can_hide_a_folder():
        env["HIDDEN_MEDIA"] = str(web_media)
        hide = 'mount -t tmpfs -o size=1m rutrans-not-the-web "$HIDDEN_MEDIA" && exec "$@"'
        command = ["unshare", "--mount", "--", "sh", "-c", hide, "sh", *command]
        isolation += " + tmpfs over the web's media folder"
    log = stack.data_dir / "worker.log"
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    stack.procs["worker"], stack.logs["worker"] = proc, log
    _wait_for(lambda: b"models preloaded" in log.read_bytes(), "celery worker", proc, 120)
    return isolation


@pytest.fixture(scope="module")
def s3_stack(tmp_path_factory, model_env, local_s3):
    data_dir = tmp_path_factory.mktemp("s3-stack")
    worker_dir = tmp_path_factory.mktemp("s3-worker")
    bucket = local_s3.new_bucket("rutrans-e2e")
    web_media = data_dir / "media"
    web_media.mkdir(parents=True)
    env = {**model_env, **local_s3.env(bucket), "DB_POOL_MAX_SIZE": str(POOL)}
    stack = start_stack(
        data_dir,
        database_url=fresh_postgres_database(DB_NAME),
        redis_url=fresh_redis_database(REDIS_DB),
        extra_env=env,
        with_worker=False,
    )
    try:
        stack.isolation = start_worker_without_the_webs_disk(stack, web_media, worker_dir)
        stack.bucket, stack.s3 = bucket, local_s3
        stack.media_dirs = [web_media, worker_dir / "media"]
        yield stack
    finally:
        stack.stop_all()
        drop_postgres_database(DB_NAME)


def files_in(folders: list[Path]) -> list[Path]:
    found = [p for folder in folders if folder.exists() for p in folder.rglob("*")]
    return sorted(p for p in found if p.is_file())


def row(stack, row_id: str) -> tuple:
    with psycopg.connect(stack.env["DATABASE_URL"]) as conn:
        return conn.execute(
            "SELECT status, text, input_audio, output_audio, store_audio "
            "FROM translation_translation WHERE id = %s",
            (row_id,),
        ).fetchone()


def server_connections(stack) -> int:
    name = stack.env["DATABASE_URL"].rsplit("/", 1)[1]
    with psycopg.connect(stack.env["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres") as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)
        ).fetchone()
    return count


def test_an_upload_is_translated_by_a_worker_that_only_shares_the_bucket(s3_stack):
    stack = s3_stack
    data = io.BytesIO()
    sf.write(data, speech_16k("The weather is lovely today.", "en"), 16_000, format="WAV")
    code, _, accepted = upload(stack, data.getvalue(), "speech.wav", mode="en->ru")
    assert code == 202, accepted
    job = wait_until_finished(accepted["status_url"])
    assert job["status"] == "done" and job["text"] and job["has_audio"] is True, (
        job,
        stack.isolation,
        stack.log_text("worker")[-3000:],
    )
    code, headers, content = http("GET", accepted["audio_url"])
    assert code == 200 and headers["Content-Type"] == "audio/wav"
    assert sf.info(io.BytesIO(content)).samplerate == 24_000
    status, _, input_audio, output_audio, store = row(stack, accepted["id"])
    assert (status, store) == ("done", True)
    keys = stack.s3.keys(stack.bucket)
    assert {input_audio, output_audio} <= set(keys)
    assert stack.s3.read(stack.bucket, output_audio) == content
    assert any(key.startswith(f"uploads/{accepted['id']}/") for key in keys)
    assert files_in(stack.media_dirs) == []


async def test_live_utterances_kept_in_the_bucket_or_nowhere(s3_stack):
    stack = s3_stack
    before = set(stack.s3.keys(stack.bucket))
    speech = to_pcm16(speech_16k("Good morning, everyone.", "en"), 16_000) + silence_pcm(2.5)

    kept = await LiveClient.connect(stack.ws_url, {"mode": "en->ru"})
    await kept.stream(speech)
    [(message, wav, _)] = await kept.wait_results(1, 60)
    await kept.close()
    assert message["text"] and wav is not None and sf.info(io.BytesIO(wav)).frames > 0
    status, text, input_audio, output_audio, store = row(stack, message["id"])
    assert (status, text, store) == ("done", message["text"], True)
    assert {input_audio, output_audio} <= set(stack.s3.keys(stack.bucket)) - before

    # Kept nowhere: the input waits in the Django cache (Redis), the WAV only goes to the page.
    before = set(stack.s3.keys(stack.bucket))
    transient = await LiveClient.connect(stack.ws_url, {"mode": "en->ru", "store_audio": False})
    await transient.stream(speech)
    [(message, wav, _)] = await transient.wait_results(1, 60)
    await transient.close()
    assert message["text"] and wav is not None
    status, _, input_audio, output_audio, store = row(stack, message["id"])
    assert (status, store, input_audio, output_audio) == ("done", False, "", "")
    assert set(stack.s3.keys(stack.bucket)) == before

    assert files_in(stack.media_dirs) == []
    # Two processes (Daphne, the worker with its task threads): at most a pool each.
    assert server_connections(stack) <= 2 * POOL
