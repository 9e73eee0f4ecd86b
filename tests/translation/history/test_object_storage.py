"""Recordings in an S3 bucket (moto's server, through django-storages): an upload and its
translation are objects in the bucket, read back byte-equal and streamed by the views; the
purge deletes them there; the local disk guard does not apply; nothing is written under
MEDIA_ROOT."""

from __future__ import annotations

import io
from datetime import timedelta

import numpy as np
import pytest
import soundfile as sf
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from tests.speech import speech_like
from translation.history import retention, storage
from translation.jobs import selectors, submit
from translation.models import Translation
from translation.protocol.control import SessionConfig
from workers.services import complete_translation

pytestmark = [pytest.mark.django_db, pytest.mark.services]

CONFIG = SessionConfig(src="en", tgt="ru")


def wav_of(audio: np.ndarray, sr: int) -> bytes:
    out = io.BytesIO()
    sf.write(out, audio, sr, format="WAV", subtype="PCM_16")
    return out.getvalue()


def files_under(root) -> list[str]:
    return sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def uploaded(
    s3_storage, dispatched, django_capture_on_commit_callbacks
) -> tuple[Translation, bytes]:
    """An upload through `submit_upload`, and the bytes uploaded."""
    data = wav_of(speech_like(2.0, 44_100), 44_100)
    with django_capture_on_commit_callbacks(execute=True):
        row = submit.submit_upload(data=data, filename="talk.wav", config=CONFIG)
    return row, data


def test_the_storage_is_the_bucket_not_the_media_folder(s3_storage, settings):
    assert not storage.storage_is_local()
    assert storage.free_bytes() is None and storage.media_size() is None
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    assert storage.storage_is_local() and storage.free_bytes() is not None


def test_an_upload_is_objects_in_the_bucket_read_back_byte_equal(uploaded, s3_storage, dispatched):
    row, original = uploaded
    stored_as = row.meta["upload"]["stored_as"]
    assert dispatched == [str(row.id)]
    assert s3_storage.keys() == sorted([f"inputs/{row.id}.wav", stored_as])
    assert stored_as == f"uploads/{row.id}/original.wav"
    assert s3_storage.read(stored_as) == original
    with default_storage.open(stored_as, "rb") as fh:
        assert fh.read() == original
    fresh = Translation.objects.get(pk=row.pk)
    model_input = selectors.load_input_audio(fresh)  # what the worker reads
    assert model_input.dtype == np.float32 and len(model_input) > 16_000
    assert s3_storage.read(f"inputs/{row.id}.wav") == fresh.input_audio.read()
    assert files_under(s3_storage.media_root) == []


def test_the_worker_writes_the_translation_there_and_the_views_stream_it(
    uploaded, s3_storage, engines, django_user_model
):
    row, original = uploaded
    complete_translation(str(row.id), worker="test-worker")
    done = Translation.objects.get(pk=row.pk)
    assert done.status == "done" and done.output_audio.name == f"outputs/{row.id}.wav"
    assert f"outputs/{row.id}.wav" in s3_storage.keys()

    client = Client()
    response = client.get(f"/api/translations/{row.id}/audio")
    assert response.status_code == 200 and response["Content-Type"] == "audio/wav"
    body = b"".join(response.streaming_content)
    assert body == s3_storage.read(f"outputs/{row.id}.wav")
    assert sf.info(io.BytesIO(body)).frames > 0

    staff = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(staff)
    response = client.get(f"/api/translations/{row.id}/input")
    assert response.status_code == 200 and b"".join(response.streaming_content) == original
    response = client.get(f"/history/{row.id}/output.wav")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == body
    assert files_under(s3_storage.media_root) == []


def test_retention_deletes_the_objects_and_keeps_the_text(uploaded, s3_storage, engines):
    row, _ = uploaded
    complete_translation(str(row.id), worker="test-worker")
    assert len(s3_storage.keys()) == 3
    Translation.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(days=40))

    report = retention.purge_history(
        audio_older_than=timedelta(days=30), rows_older_than=timedelta(days=365)
    )

    assert report.rows_audio_removed == 1 and len(report.files_deleted) == 3
    assert s3_storage.keys() == []
    kept = Translation.objects.get(pk=row.pk)
    assert kept.text and not kept.input_audio and not kept.output_audio
    assert "stored_as" not in kept.meta["upload"]


def test_orphans_in_the_bucket(s3_storage):
    """A row naming a missing object is cleared; a young object no row names is kept (its row
    may not be committed yet); staff deleting a row deletes its objects."""
    gone = Translation.objects.create(source="live", status="done", text="hello")
    gone.input_audio.name = f"inputs/{gone.id}.wav"  # never written
    gone.save()
    young = default_storage.save("outputs/not-yet-a-row.wav", ContentFile(b"RIFF"))
    kept = Translation.objects.create(source="live", status="done", text="hi", session_id="s1")
    kept.input_audio.save(f"{kept.id}.wav", ContentFile(b"RIFF-in"))

    orphans = retention.find_orphans()
    assert orphans.files_without_rows == []  # young: within ORPHAN_GRACE_S
    assert orphans.rows_missing_files == [(str(gone.id), f"inputs/{gone.id}.wav")]
    later = retention.find_orphans(now=timezone.now().timestamp() + retention.ORPHAN_GRACE_S + 5)
    assert later.files_without_rows == [young]

    retention.purge_history(audio_older_than=None, rows_older_than=None)
    assert not Translation.objects.get(pk=gone.pk).input_audio
    assert sorted(s3_storage.keys()) == sorted([young, f"inputs/{kept.id}.wav"])

    assert retention.delete_session("s1") == 1
    assert s3_storage.keys() == [young]


def test_the_disk_guard_does_not_refuse(s3_storage, settings, dispatched):
    settings.MEDIA_MIN_FREE_MB = 2**40  # far more than any disk: the local guard would refuse
    storage.require_free_space()
    data = wav_of(speech_like(1.0, 16_000), 16_000)
    row = submit.submit_upload(data=data, filename="a.wav", config=CONFIG)
    assert f"inputs/{row.id}.wav" in s3_storage.keys()

    from workers import diagnostics

    [check] = diagnostics.storage_checks(settings)
    assert check.ok and check.label == "media storage"
    assert s3_storage.name in check.found and s3_storage.s3.url in check.found
