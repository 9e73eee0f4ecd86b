"""The upload API in-process (Django test client, the real PostgreSQL): status codes, the one
error shape, what is stored and dispatched; and the `/ws/jobs/<id>` status stream."""

from __future__ import annotations

import io
import json
import uuid

import numpy as np
import pytest
import soundfile as sf
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connections
from django.test import Client

from tests.speech import speech_like
from translation.jobs import selectors, submit
from translation.jobs.consumer import JOB_NOT_FOUND_CLOSE_CODE
from translation.models import Translation
from translation.protocol.control import parse_control
from workers.services import complete_translation

URL = "/api/translations"


def encode(audio: np.ndarray, sr: int, *, format: str = "WAV", subtype: str | None = None) -> bytes:
    out = io.BytesIO()
    sf.write(out, audio, sr, format=format, subtype=subtype)
    return out.getvalue()


def upload_file(data: bytes, name: str = "speech.wav") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def assert_error(response, status: int, code: str | None = None, *, contains: str = "") -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) <= {"code", "message", "fields"} and error["message"]
    if code is not None:
        assert error["code"] == code, error
    assert contains.lower() in error["message"].lower(), error
    return error


@pytest.fixture
def post(client, dispatched, django_capture_on_commit_callbacks):
    """POST an upload as an anonymous user, running the on-commit dispatch."""

    def send(data: bytes | None, name: str = "speech.wav", **fields):
        form = dict(fields)
        if data is not None:
            form["audio"] = upload_file(data, name)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(URL, form)

    return send


@pytest.fixture
def staff_client(django_user_model) -> Client:
    user = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    client = Client()
    client.force_login(user)
    return client


def make_row(**fields) -> Translation:
    defaults = {"source": Translation.Source.UPLOAD, "requested_src": "en", "requested_tgt": "ru"}
    return Translation.objects.create(**{**defaults, **fields})


# --- POST /api/translations ----------------------------------------------------------------------


@pytest.mark.django_db
def test_upload_while_the_translators_are_far_behind_is_a_503_with_retry_after(
    post, dispatched, monkeypatch, settings
):
    import time

    from translation.jobs import backlog, capacity

    def behind() -> backlog.QueueReading:
        now = time.time()
        return backlog.QueueReading(
            read_at=now,
            queued=40,
            queued_audio_s=300.0,
            oldest_queued_at=now - 90.0,
            rate=None,
            workers=0,
            speech_share=None,
            talking_sessions=0,
        )

    monkeypatch.setattr(capacity, "monitor", capacity.CapacityMonitor(read=behind))
    settings.UPLOAD_MAX_QUEUE_LAG_S = 60.0
    data = encode(speech_like(2.0, 48_000, channels=2), 48_000, subtype="PCM_16")
    response = post(data, "interview.wav", mode="en->ru")

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    error = response.json()["error"]
    assert error["code"] == "busy" and "90 s behind" in error["message"]
    assert dispatched == [] and not Translation.objects.exists()


@pytest.mark.django_db
def test_upload_is_stored_queued_and_dispatched(post, dispatched):
    data = encode(speech_like(2.0, 48_000, channels=2), 48_000, subtype="PCM_16")
    response = post(data, "interview.wav", mode="en->ru", voice="kseniya")

    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"id", "status", "queue_lag_s", "status_url", "audio_url", "ws_url"}
    assert body["status"] == "queued" and body["queue_lag_s"] == 0.0
    assert body["status_url"] == f"http://testserver/api/translations/{body['id']}"
    assert body["audio_url"] == body["status_url"] + "/audio"
    assert body["ws_url"] == f"ws://testserver/ws/jobs/{body['id']}"
    assert response["Location"] == body["status_url"]
    assert dispatched == [body["id"]]

    row = Translation.objects.get(pk=body["id"])
    assert (row.source, row.status) == ("upload", "queued")
    assert (row.requested_src, row.requested_tgt) == ("en", "ru")
    assert row.meta["voices"] == {"ru": "kseniya"}
    assert row.duration_s == pytest.approx(2.0, abs=0.001)
    assert row.meta["upload"]["filename"] == "interview.wav"
    assert row.meta["upload"]["sample_rate"] == 48_000
    # The models' input: 16 kHz mono PCM_16, the whole recording (continuous speech).
    with row.input_audio.open("rb") as fh:
        info = sf.info(io.BytesIO(fh.read()))
    assert (info.samplerate, info.channels, info.subtype) == (16_000, 1, "PCM_16")
    audio = selectors.load_input_audio(row)
    assert len(audio) == 32_000
    assert np.corrcoef(audio, speech_like(2.0, 16_000))[0, 1] > 0.95
    assert row.meta["speech"]["spans"] == 1 and row.meta["speech"]["speech_ms"] > 1500


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("format", "subtype", "sr", "channels"),
    [
        ("WAV", "PCM_U8", 8_000, 1),
        ("WAV", "PCM_16", 22_050, 1),
        ("WAV", "PCM_24", 44_100, 2),
        ("WAV", "PCM_32", 96_000, 1),
        ("WAV", "FLOAT", 48_000, 2),
        ("WAV", "DOUBLE", 32_000, 1),
        ("WAV", "PCM_16", 48_000, 6),
        ("FLAC", "PCM_16", 16_000, 1),
        ("FLAC", "PCM_24", 48_000, 2),
        ("OGG", "VORBIS", 44_100, 2),
        ("OGG", "OPUS", 48_000, 1),
        ("MP3", "MPEG_LAYER_III", 44_100, 2),
    ],
)
def test_any_format_rate_and_layout_is_accepted(post, dispatched, format, subtype, sr, channels):
    data = encode(speech_like(1.5, sr, channels), sr, format=format, subtype=subtype)
    response = post(data, f"clip.{format.lower()}", mode="ru->en")
    assert response.status_code == 202, response.json()
    row = Translation.objects.get(pk=response.json()["id"])
    # Lossy codecs pad a little.
    assert row.duration_s == pytest.approx(1.5, abs=0.08)
    assert len(selectors.load_input_audio(row)) == pytest.approx(24_000, abs=0.08 * 16_000)
    assert dispatched == [str(row.id)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "src", "tgt", "voices"),
    [
        ({}, "auto", "", {}),
        ({"mode": "auto"}, "auto", "", {}),
        ({"mode": "ru->en"}, "ru", "en", {}),
        ({"src": "en"}, "en", "ru", {}),
        ({"src": "auto", "tgt": "en"}, "auto", "en", {}),
        ({"mode": "en->ru", "src": "ru", "tgt": "en"}, "en", "ru", {}),  # mode wins
        ({"mode": "ru->en", "voice": "en_3"}, "ru", "en", {"en": "en_3"}),
    ],
)
def test_direction_and_voice(post, fields, src, tgt, voices):
    response = post(encode(speech_like(0.5, 16_000), 16_000), **fields)
    assert response.status_code == 202
    row = Translation.objects.get(pk=response.json()["id"])
    assert (row.requested_src, row.requested_tgt, row.meta["voices"]) == (src, tgt, voices)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "code", "contains"),
    [
        ({"mode": "klingon"}, "invalid_choice", "unknown mode 'klingon'"),
        ({"src": "de"}, "invalid_choice", "src"),
        ({"src": "en", "tgt": "en"}, "invalid_direction", "nothing to translate"),
        ({"mode": "en->ru", "voice": "hal9000"}, "invalid_choice", "unknown voice 'hal9000'"),
    ],
)
def test_bad_direction_or_voice_is_400(post, dispatched, fields, code, contains):
    response = post(encode(speech_like(0.5, 16_000), 16_000), **fields)
    assert_error(response, 400, code, contains=contains)
    assert dispatched == [] and not Translation.objects.exists()


@pytest.mark.django_db
def test_missing_audio_field_is_400(post, dispatched):
    error = assert_error(post(None, mode="en->ru"), 400, "required", contains="audio")
    assert list(error["fields"]) == ["audio"]
    assert dispatched == []


@pytest.mark.django_db
def test_empty_file_is_400(post, dispatched):
    assert_error(post(b"", mode="en->ru"), 400, "invalid_audio", contains="empty")
    assert dispatched == [] and not Translation.objects.exists()


@pytest.mark.django_db
def test_not_audio_is_400_naming_the_problem(post, dispatched):
    error = assert_error(post(b"%PDF-1.7 not audio at all" * 20, "doc.wav"), 400, "invalid_audio")
    assert "could not read the file as audio" in error["message"]
    assert dispatched == []


@pytest.mark.django_db
def test_too_long_is_400(post, dispatched, settings):
    settings.UPLOAD_MAX_DURATION_S = 1.0
    response = post(encode(speech_like(2.5, 16_000), 16_000), mode="en->ru")
    assert_error(response, 400, "invalid_audio", contains="2.5 s long; the limit is 1 s")
    assert dispatched == [] and not Translation.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("seconds", [3.0, 30.0], ids=["read-then-stopped", "content-length"])
def test_too_large_is_413(post, dispatched, settings, seconds):
    """A file a little over the limit is stopped while it is read; a much larger body is
    refused from its Content-Length before the body is parsed."""
    settings.UPLOAD_MAX_BYTES = 64_000
    data = encode(speech_like(seconds, 16_000), 16_000)  # 96 kB / 960 kB
    error = assert_error(post(data, mode="en->ru"), 413, "too_large")
    assert "64000 bytes" in error["message"]
    assert dispatched == [] and not Translation.objects.exists()


@pytest.mark.django_db
def test_not_multipart_is_415(client):
    response = client.post(URL, data=b'{"mode": "en->ru"}', content_type="application/json")
    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.django_db
def test_database_down_is_503(post, monkeypatch):
    def unreachable(**kwargs):
        raise OperationalError("connection to server at 127.0.0.1:5432 failed")

    monkeypatch.setattr(submit, "submit_upload", unreachable)
    data = encode(speech_like(0.5, 16_000), 16_000)
    error = assert_error(post(data), 503, "database_unavailable")
    assert "database" in error["message"] and "try again" in error["message"]


@pytest.mark.django_db
def test_database_down_on_status_is_503(client, monkeypatch):
    def unreachable(translation_id):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(selectors, "get_translation", unreachable)
    assert_error(client.get(f"{URL}/{uuid.uuid4()}"), 503, "database_unavailable")


@pytest.mark.django_db
def test_csrf_is_enforced_for_logged_in_users_only(django_user_model, dispatched):
    data = encode(speech_like(0.5, 16_000), 16_000)
    anonymous = Client(enforce_csrf_checks=True)
    assert anonymous.post(URL, {"audio": upload_file(data)}).status_code == 202

    user = django_user_model.objects.create_user("someone", password="pw")
    logged_in = Client(enforce_csrf_checks=True)
    logged_in.force_login(user)
    assert_error(logged_in.post(URL, {"audio": upload_file(data)}), 403, contains="CSRF")
    token = "k" * 32  # a CSRF secret, as a page's cookie would hold it
    logged_in.cookies["csrftoken"] = token
    response = logged_in.post(URL, {"audio": upload_file(data)}, headers={"X-CSRFToken": token})
    assert response.status_code == 202


# --- GET /api/translations/<id> and its audio ---------------------------------------------------


@pytest.mark.django_db
def test_status_of_a_queued_job(client):
    row = make_row(duration_s=2.0)
    response = client.get(f"{URL}/{row.id}")
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "id": str(row.id),
        "status": "queued",
        "source": "upload",
        "src": "en",
        "tgt": "ru",
        "voice": None,
        "source_text": "",
        "text": "",
        "tts_failed": False,
        "error": "",
        "timings": {},
        "duration_s": 2.0,
        "has_audio": False,
        "created_at": row.created_at.isoformat(),
        "finished_at": None,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", ["", "/audio"])
@pytest.mark.parametrize("job_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_unknown_job_is_404(client, job_id, suffix):
    assert_error(client.get(f"{URL}/{job_id}{suffix}"), 404, "not_found", contains="no translation")


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["queued", "running"])
def test_audio_before_done_is_409(client, status):
    row = make_row(status=status)
    response = client.get(f"{URL}/{row.id}/audio")
    assert_error(response, 409, "not_ready", contains=f"still {status}")


@pytest.mark.django_db
def test_audio_of_a_failed_job_is_409_with_the_reason(client):
    row = make_row(status="failed", error="could not load the translator model")
    assert_error(client.get(f"{URL}/{row.id}/audio"), 409, "failed", contains="could not load")


@pytest.mark.django_db
def test_audio_when_speech_synthesis_failed_is_404(client):
    row = make_row(status="done", text="Привет", tts_failed=True, error="speech synthesis failed")
    assert_error(client.get(f"{URL}/{row.id}/audio"), 404, "not_found", contains="no audio")


@pytest.mark.django_db
def test_job_completed_by_the_worker_service(post, client, engines):
    """The worker's own code path (doubles for the models): queued → done, then the WAV."""
    response = post(encode(speech_like(2.0, 44_100, 2), 44_100), mode="en->ru")
    job_id = response.json()["id"]
    complete_translation(job_id, worker="test-worker")

    body = client.get(f"{URL}/{job_id}").json()
    assert body["status"] == "done" and body["has_audio"] is True
    assert (body["src"], body["tgt"]) == ("en", "ru")
    assert body["text"] == "en->ru 2.00 s"  # the scripted translator saw the whole file
    assert body["source_text"] == "en speech 2.00 s"
    assert {"ast_ms", "tts_ms", "queue_ms"} <= body["timings"].keys()
    assert body["finished_at"] is not None

    audio = client.get(f"{URL}/{job_id}/audio")
    assert audio.status_code == 200 and audio["Content-Type"] == "audio/wav"
    assert f'filename="translation-{job_id}.wav"' in audio["Content-Disposition"]
    wav = b"".join(audio.streaming_content)
    info = sf.info(io.BytesIO(wav))
    assert (info.samplerate, info.subtype) == (24_000, "PCM_16")
    assert info.frames == int(24_000 * 0.01 * len(body["text"]))


@pytest.mark.django_db
def test_failure_in_the_worker_is_reported(post, client, engines, settings):
    settings.RUTRANS_TRANSLATOR = "tests.doubles.UnloadableTranslator"
    job_id = post(encode(speech_like(1.0, 16_000), 16_000), mode="en->ru").json()["id"]
    complete_translation(job_id, worker="test-worker")
    body = client.get(f"{URL}/{job_id}").json()
    assert body["status"] == "failed" and "CUDA out of memory" in body["error"]
    assert_error(client.get(f"{URL}/{job_id}/audio"), 409, "failed", contains="out of memory")


# --- Staff only: the history listing and the original input ------------------------------------


@pytest.mark.django_db
def test_listing_is_403_for_anonymous_and_non_staff(client, django_user_model):
    assert_error(client.get(URL), 403, "not_authenticated")
    user = django_user_model.objects.create_user("plain", password="pw")
    client.force_login(user)
    assert_error(client.get(URL), 403, "permission_denied")


@pytest.mark.django_db
def test_listing_for_staff_is_paginated_and_filtered(staff_client):
    for i in range(55):
        make_row(status="done" if i % 5 == 0 else "queued")
    make_row(source="live", status="done")

    page1 = staff_client.get(URL).json()
    assert page1["count"] == 56 and len(page1["results"]) == 50
    assert page1["next"].endswith("?page=2") and page1["previous"] is None
    page2 = staff_client.get(URL, {"page": 2}).json()
    assert len(page2["results"]) == 6
    ids = [job["id"] for job in page1["results"] + page2["results"]]
    assert len(set(ids)) == 56

    done = staff_client.get(URL, {"status": "done", "source": "upload"}).json()
    assert done["count"] == 11
    assert {(j["status"], j["source"]) for j in done["results"]} == {("done", "upload")}
    assert_error(staff_client.get(URL, {"status": "lost"}), 400, contains="status")
    assert_error(staff_client.get(URL, {"page": 9}), 404, "not_found")


@pytest.mark.django_db
def test_original_input_for_staff_only(post, client, staff_client):
    data = encode(speech_like(1.0, 44_100, 2), 44_100, format="FLAC")
    job_id = post(data, "../../etc/talk.flac", mode="en->ru").json()["id"]
    assert_error(client.get(f"{URL}/{job_id}/input"), 403, "not_authenticated")

    response = staff_client.get(f"{URL}/{job_id}/input")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert 'filename="talk.flac"' in response["Content-Disposition"]
    assert_error(staff_client.get(f"{URL}/{uuid.uuid4()}/input"), 404, "not_found")


# --- /ws/jobs/<id> -------------------------------------------------------------------------------


@pytest.fixture
async def close_thread_connections():
    """The consumer's DB work runs on asgiref's thread; close its connection afterwards."""
    yield
    await sync_to_async(connections.close_all)()


async def job_socket(job_id: str) -> WebsocketCommunicator:
    from rutrans_site.asgi import application

    communicator = WebsocketCommunicator(
        application, f"/ws/jobs/{job_id}", headers=[(b"origin", b"http://localhost")]
    )
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def next_job(communicator: WebsocketCommunicator) -> dict:
    return json.loads(await communicator.receive_from(timeout=5))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_job_socket_reports_each_change_then_closes(engines, dispatched):
    data = encode(speech_like(1.0, 16_000), 16_000)
    row = await sync_to_async(submit.submit_upload)(
        data=data, filename="a.wav", config=parse_control({"mode": "en->ru"})
    )
    job_id = str(row.id)
    watcher = await job_socket(job_id)
    queued = await next_job(watcher)
    assert (queued["type"], queued["id"], queued["status"]) == ("job", job_id, "queued")
    assert queued["finished_at"] is None and "truncated" not in queued  # as GET has it, + type

    await sync_to_async(complete_translation)(job_id, worker="test-worker")
    running, done = await next_job(watcher), await next_job(watcher)
    assert [running["status"], done["status"]] == ["running", "done"]
    assert done["text"] == "en->ru 1.00 s" and done["has_audio"] is True
    assert (await watcher.receive_output(timeout=5))["type"] == "websocket.close"

    # A late watcher gets the final state at once, then the close.
    late = await job_socket(job_id)
    assert await next_job(late) == done
    assert (await late.receive_output(timeout=5))["type"] == "websocket.close"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_job_socket_reports_failure(engines, dispatched, settings):
    settings.RUTRANS_TRANSLATOR = "tests.doubles.UnloadableTranslator"
    row = await sync_to_async(submit.submit_upload)(
        data=encode(speech_like(0.5, 16_000), 16_000), filename="", config=parse_control({})
    )
    watcher = await job_socket(str(row.id))
    assert (await next_job(watcher))["status"] == "queued"
    await sync_to_async(complete_translation)(str(row.id), worker="test-worker")
    assert (await next_job(watcher))["status"] == "running"
    failed = await next_job(watcher)
    assert failed["status"] == "failed" and "could not load the translator" in failed["error"]
    assert (await watcher.receive_output(timeout=5))["type"] == "websocket.close"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_thread_connections")
async def test_job_socket_for_an_unknown_job_says_so_and_closes():
    job_id = str(uuid.uuid4())
    watcher = await job_socket(job_id)
    message = await next_job(watcher)
    assert message == {"type": "error", "error": f"no such job {job_id}"}
    closed = await watcher.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": JOB_NOT_FOUND_CLOSE_CODE}
