"""Storing and queueing a live utterance (translation/jobs/submit.py), the database away."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import OperationalError

from translation.jobs import lifecycle, submit, transient_audio
from translation.models import Translation
from translation.streaming.protocol import SessionConfig


class QuietWatch(lifecycle.DatabaseWatch):
    """This test's own outage flag: no thread of its own tries the database."""

    def _wait_for_it(self) -> None:
        pass


@pytest.fixture(autouse=True)
def database_watch(monkeypatch) -> lifecycle.DatabaseWatch:
    watch = QuietWatch()
    monkeypatch.setattr(lifecycle, "database", watch)
    return watch


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
    row = submit.submit_utterance(
        session_id="s1",
        seq=2,
        reply_channel="chan!x",
        audio=np.zeros(8_000, dtype=np.float32),
        config=SessionConfig(src="en", tgt="ru"),
        stream_start_s=3.0,
        stream_end_s=3.5,
    )
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
    second = submit.submit_utterance(
        session_id="s1",
        seq=3,
        reply_channel="chan!x",
        audio=np.zeros(8_000, dtype=np.float32),
        config=SessionConfig(src="en", tgt="ru"),
    )
    assert transient_audio.is_deferred(second) and queued == [str(row.pk), str(second.pk)]
