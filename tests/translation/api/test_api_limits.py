"""The upload API's limits per client (429 with Retry-After, the one error shape), the disk
guard (507), and jobs that keep no audio (STORE_AUDIO=0 or `store_audio=false`): nothing
written under the media folder, the translated WAV downloadable once."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import soundfile as sf
from django.test import Client

from tests.speech import speech_like
from tests.translation.api.test_api import URL, assert_error, encode, upload_file
from translation.models import Translation
from workers.services import complete_translation

pytestmark = pytest.mark.django_db

SPEECH_2S = encode(speech_like(2.0, 16_000), 16_000)


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def upload(dispatched, django_capture_on_commit_callbacks):
    """POST an upload from a given client (a Django test client, an address, headers)."""

    def send(client: Client | None = None, *, ip="10.0.0.5", data=SPEECH_2S, **extra):
        form = {"audio": upload_file(data), "mode": "en->ru", **extra.pop("form", {})}
        with django_capture_on_commit_callbacks(execute=True):
            return (client or Client()).post(URL, form, REMOTE_ADDR=ip, **extra)

    return send


def assert_throttled(response, code: str, contains: str) -> int:
    error = assert_error(response, 429, code, contains=contains)
    retry_after = int(response["Retry-After"])
    assert retry_after >= 1 and f"retry in {retry_after} s" in error["message"]
    return retry_after


def test_uploads_per_minute_per_ip(settings, upload, dispatched):
    settings.LIMIT_UPLOADS_PER_MINUTE = 2
    assert [upload().status_code for _ in range(2)] == [202, 202]
    retry = assert_throttled(upload(), "uploads_per_minute", "at most 2 a minute")
    assert 55 <= retry <= 60
    assert len(dispatched) == Translation.objects.count() == 2  # the refused one: nothing
    assert upload(ip="10.0.0.6").status_code == 202  # another client


def test_forwarded_for_is_ignored_unless_proxies_are_trusted(settings, upload):
    settings.LIMIT_UPLOADS_PER_MINUTE = 1
    settings.TRUSTED_PROXY_COUNT = 0
    assert upload(HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == 202
    # A new X-Forwarded-For does not make a new client: the address is the proxy's own.
    assert_throttled(upload(HTTP_X_FORWARDED_FOR="2.2.2.2"), "uploads_per_minute", "at most 1")
    settings.TRUSTED_PROXY_COUNT = 1  # behind one proxy: the header names the client
    assert upload(HTTP_X_FORWARDED_FOR="3.3.3.3").status_code == 202
    assert_throttled(upload(HTTP_X_FORWARDED_FOR="3.3.3.3"), "uploads_per_minute", "at most 1")
    assert upload(HTTP_X_FORWARDED_FOR="6.6.6.6, 4.4.4.4").status_code == 202
    assert Translation.objects.filter(client="ip:4.4.4.4").count() == 1


def test_signed_in_users_count_per_user_with_a_higher_limit(settings, upload, django_user_model):
    settings.LIMIT_UPLOADS_PER_MINUTE = 1
    settings.LIMIT_SIGNED_IN_FACTOR = 2
    settings.LIMIT_STAFF_FACTOR = 0
    assert upload().status_code == 202
    assert_throttled(upload(), "uploads_per_minute", "at most 1")  # this IP is done
    ann = Client(enforce_csrf_checks=False)
    user = django_user_model.objects.create_user("ann", password="pw")
    ann.force_login(user)
    # The same address, signed in: the user's own count, twice the anonymous limit.
    assert [upload(ann).status_code for _ in range(2)] == [202, 202]
    assert_throttled(upload(ann), "uploads_per_minute", "at most 2 a minute")
    assert upload(ann, ip="10.9.9.9").status_code == 429  # a user is one client anywhere
    staff = Client()
    staff.force_login(django_user_model.objects.create_user("sam", password="pw", is_staff=True))
    assert [upload(staff).status_code for _ in range(5)] == [202] * 5  # staff: no limit
    assert Translation.objects.filter(client=f"user:{user.pk}").count() == 2


def test_queued_jobs_per_client(settings, upload):
    settings.LIMIT_QUEUED_JOBS = 1
    first = upload()
    assert first.status_code == 202
    assert_throttled(upload(), "queued_jobs", "1 uploads waiting")
    assert upload(ip="10.0.0.7").status_code == 202
    Translation.objects.filter(pk=first.json()["id"]).update(status="done")
    assert upload().status_code == 202


def test_audio_seconds_per_hour_count_the_decoded_recording(settings, upload, media):
    settings.LIMIT_AUDIO_S_PER_HOUR = 3
    assert upload().status_code == 202  # 2 s of 3
    stored = files_under(media)
    retry = assert_throttled(upload(), "audio_seconds", "2 of 3 s this hour")
    assert 1 <= retry <= 3600
    assert Translation.objects.count() == 1 and files_under(media) == stored  # nothing kept
    short = encode(speech_like(1.0, 16_000), 16_000)
    assert upload(data=short).status_code == 202  # exactly the rest of the hour


def test_low_disk_refuses_uploads_with_507(settings, upload, media, dispatched):
    settings.MEDIA_MIN_FREE_MB = 2**40  # more than any disk has
    error = assert_error(upload(), 507, "disk_full", contains="disk is nearly full")
    assert "MEDIA_MIN_FREE_MB" in error["message"]
    assert Translation.objects.count() == 0 and dispatched == [] and files_under(media) == []
    # Keeping no audio writes nothing to disk: such an upload is not refused.
    assert upload(form={"store_audio": "false"}).status_code == 202


@pytest.mark.parametrize("how", ["setting", "form"])
def test_a_job_that_keeps_no_audio_writes_no_file_and_serves_its_wav_once(
    settings, upload, media, engines, how
):
    if how == "setting":
        settings.STORE_AUDIO = False
        response = upload()
    else:
        response = upload(form={"store_audio": "false"})
    assert response.status_code == 202
    job_id = response.json()["id"]
    row = Translation.objects.get(pk=job_id)
    assert row.store_audio is False and not row.input_audio
    assert "stored_as" not in row.meta["upload"]
    complete_translation(job_id, worker="test-worker")
    assert files_under(media) == []

    client = Client()
    body = client.get(f"{URL}/{job_id}").json()
    assert body["status"] == "done" and body["has_audio"] is True
    assert body["text"] == "en->ru 2.00 s" and body["source_text"] == "en speech 2.00 s"
    audio = client.get(f"{URL}/{job_id}/audio")
    assert audio.status_code == 200 and audio["Content-Type"] == "audio/wav"
    info = sf.info(io.BytesIO(audio.content))
    assert (info.samplerate, info.subtype) == (24_000, "PCM_16")
    assert info.frames == int(24_000 * 0.01 * len(body["text"]))
    # Fetched: gone.
    assert_error(client.get(f"{URL}/{job_id}/audio"), 404, "not_found", contains="downloaded")
    assert client.get(f"{URL}/{job_id}").json()["has_audio"] is False
    transcript = client.get(f"{URL}/{job_id}/transcript?format=txt")
    assert transcript.status_code == 200 and "en->ru 2.00 s" in transcript.content.decode()
    assert files_under(media) == []


def test_stored_audio_is_the_default_and_a_form_may_ask_for_it(settings, upload, media):
    settings.STORE_AUDIO = True
    for form in ({}, {"store_audio": "true"}):
        row = Translation.objects.get(pk=upload(form=form).json()["id"])
        assert row.store_audio is True and row.input_audio
    settings.STORE_AUDIO = False  # the server's choice wins over a client asking to keep
    row = Translation.objects.get(pk=upload(form={"store_audio": "true"}).json()["id"])
    assert row.store_audio is False


def test_expired_input_fails_the_job_with_a_clear_error(settings, upload, engines):
    from django.core.cache import cache

    settings.STORE_AUDIO = False
    job_id = upload().json()["id"]
    cache.delete(f"audio:input:{job_id}")
    complete_translation(job_id, worker="test-worker")
    row = Translation.objects.get(pk=job_id)
    assert row.status == "failed" and "input audio of this translation is gone" in row.error
