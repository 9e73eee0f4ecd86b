"""A task thread holds no pooled database connection while the models run: WORKER_CONCURRENCY
threads wait for their batch together, and the pool (DB_POOL_MAX_SIZE) has far fewer."""

from __future__ import annotations

import threading

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.utils import timezone

from tests.speech import speech_like
from translation.audio.wav import wav_bytes_from_float32
from translation.models import Translation
from workers import runtime, services

pytestmark = pytest.mark.django_db(transaction=True)


class Watched:
    """The pipeline, noting whether the calling thread holds a connection while it translates."""

    def __init__(self, pipeline) -> None:
        self.pipeline = pipeline
        self.held: list[bool] = []

    def translate(self, *args, **kwargs):
        self.held.append(connection.connection is not None)
        return self.pipeline.translate(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.pipeline, name)


def test_the_connection_goes_back_to_the_pool_while_the_models_run(
    engines, settings, tmp_path, monkeypatch
):
    assert settings.DATABASES["default"]["OPTIONS"]["pool"]  # the test settings keep the pool
    settings.MEDIA_ROOT = tmp_path / "media"
    row = Translation(
        source="upload", requested_src="en", requested_tgt="ru", enqueued_at=timezone.now()
    )
    row.input_audio.save("a.wav", ContentFile(wav_bytes_from_float32(speech_like(1.0), 16_000)))
    watched = Watched(runtime.get_pipeline())
    monkeypatch.setattr(services.runtime, "get_pipeline", lambda: watched)

    task = threading.Thread(
        target=services.complete_translation, args=(str(row.id),), kwargs={"worker": "w1"}
    )
    task.start()
    task.join(30)

    assert watched.held == [False]
    assert Translation.objects.get(pk=row.pk).status == "done"
