"""Storing and queueing a live utterance (translation/jobs/submit.py): the database away, the
disk full."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.db import OperationalError

from tests.speech import speech_like
from translation.audio.wav import wav_bytes_from_float32
from translation.history import storage
from translation.jobs import submit, transient_audio
from translation.models import Translation
from translation.protocol.control import SessionConfig


def speak(seq: int = 0, **stream_times: float) -> Translation:
    """Half a second of a live utterance, submitted as the consumer does."""
    return submit.submit_utterance(
        session_id="s1",
        seq=seq,
        reply_channel="chan!x",
        audio=np.zeros(8_000, dtype=np.float32),
        config=SessionConfig(src="en", tgt="ru"),
        **stream_times,
    )


@pytest.mark.django_db
def test_an_utterance_cut_while_the_database_is_away_is_queued_with_its_row_deferred(
    settings, monkeypatch, database_watch
):
    """Translated all the same: the row and its input wait in the cache, the task is queued at
    once (no commit to wait for), and nothing is written to the media storage."""
    settings.STORE_AUDIO = True
    queued: list[str] = []
    monkeypatch.setattr(submit, "enqueue_translation", queued.append)

    def unreachable(self, *args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(Translation, "save", unreachable)
    row = speak(2, stream_start_s=3.0, stream_end_s=3.5)
    assert row._state.adding and transient_audio.is_deferred(row)
    assert queued == [str(row.pk)]
    kept = transient_audio.deferred_row(row.pk)
    assert kept is not None
    assert (kept.session_id, kept.seq, kept.stream_start_s, kept.store_audio) == (
        "s1",
        2,
        3.0,
        True,
    )
    assert kept.created_at is not None and not kept.input_audio  # its input is in the cache
    assert transient_audio.get_input(row.pk)[:4] == b"RIFF"
    # The next utterance does not wait for a connection: the outage is known.
    assert database_watch.away
    monkeypatch.setattr(Translation, "save", lambda *a, **k: pytest.fail("tried the database"))
    second = speak(3)
    assert transient_audio.is_deferred(second) and queued == [str(row.pk), str(second.pk)]


# --- the media disk full ---------------------------------------------------------------------


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.fixture
def media(settings, tmp_path, monkeypatch) -> Path:
    settings.MEDIA_ROOT, settings.STORE_AUDIO = tmp_path / "media", True
    monkeypatch.setattr(submit, "enqueue_translation", lambda row_id: None)
    return settings.MEDIA_ROOT


@pytest.mark.django_db(transaction=True)
def test_at_the_disk_floor_a_live_utterance_is_translated_without_its_recording(settings, media):
    settings.MEDIA_MIN_FREE_MB = 2**40  # more than any disk has
    row = speak()
    stored = Translation.objects.get(pk=row.pk)
    assert not stored.store_audio and not stored.input_audio and files_under(media) == []
    assert "disk is nearly full" in stored.meta[submit.RECORDING_SKIPPED]
    assert submit.history_notice(stored) == "recording_paused"
    assert transient_audio.get_input(row.pk)[:4] == b"RIFF"  # the worker reads it here
    settings.MEDIA_MIN_FREE_MB = 0  # space again: recordings are kept again
    again = speak(1)
    assert again.store_audio and submit.history_notice(again) is None
    assert files_under(media) == [f"inputs/{again.pk}.wav"]


class FillsUp:
    """A file system that fills while a file is written: part of it lands, then ENOSPC."""

    def __init__(self, monkeypatch) -> None:
        real_save = FileSystemStorage._save

        def save(storage, name, content):
            real_save(storage, name, ContentFile(content.read()[:100]))
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(FileSystemStorage, "_save", save)


@pytest.mark.django_db(transaction=True)
def test_a_disk_that_fills_mid_write_leaves_no_half_file(settings, media, monkeypatch):
    settings.MEDIA_MIN_FREE_MB = 0
    FillsUp(monkeypatch)
    row = speak()
    stored = Translation.objects.get(pk=row.pk)
    assert not stored.store_audio and "No space left" in stored.meta[submit.RECORDING_SKIPPED]
    assert files_under(media) == []  # the 100 bytes written are gone
    with pytest.raises(storage.MediaFull):
        submit.submit_upload(
            data=wav_bytes_from_float32(speech_like(1.0), 16_000),
            filename="talk.wav",
            config=SessionConfig(src="en", tgt="ru"),
        )
    assert files_under(media) == [] and Translation.objects.filter(source="upload").count() == 0
