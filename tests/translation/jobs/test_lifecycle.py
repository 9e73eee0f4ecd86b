"""The end of a run outlives a database outage (translation/jobs/lifecycle.py `written`)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import IntegrityError, OperationalError
from django.utils import timezone

from tests.translation.jobs.test_states import outcome, row_of
from translation.jobs import lifecycle, transient_audio
from translation.jobs.liveness import this_worker
from translation.models import Translation

Status = Translation.Status


class Outage:
    """A write that fails `times` times as an unreachable server does, then goes through."""

    def __init__(self, times: int, write) -> None:
        self.left, self.write, self.calls = times, write, 0

    def __call__(self):
        self.calls += 1
        if self.left:
            self.left -= 1
            raise OperationalError("connection to server at 127.0.0.1, port 5432 failed")
        return self.write()


@pytest.mark.django_db  # the retry asks the connection whether it is still usable
def test_a_write_is_tried_again_through_a_short_outage(settings):
    settings.DB_OUTAGE_HOLD_S, settings.DB_RETRY_S = 5.0, 0.01
    write = Outage(3, lambda: "written")
    assert lifecycle.written(write) == "written" and write.calls == 4


@pytest.mark.django_db  # the retry asks the connection whether it is still usable
def test_past_the_hold_the_outage_is_raised(settings):
    settings.DB_OUTAGE_HOLD_S, settings.DB_RETRY_S = 0.05, 0.01
    write = Outage(10_000, lambda: "never")
    with pytest.raises(OperationalError):
        lifecycle.written(write)
    assert 2 <= write.calls < 10_000


def test_other_database_errors_are_not_retried(settings):
    settings.DB_OUTAGE_HOLD_S, settings.DB_RETRY_S = 5.0, 0.01
    calls = []

    def duplicate():
        calls.append(1)
        raise IntegrityError("duplicate key")

    with pytest.raises(IntegrityError):
        lifecycle.written(duplicate)
    assert len(calls) == 1


@pytest.mark.django_db
def test_a_run_that_ends_during_an_outage_is_recorded_done_once_it_is_over(settings, monkeypatch):
    """The translation is not failed, retried or run again: its row is done when the database
    is back (before: the task failed and the row stayed `running` until a retry ran it anew),
    and says when the run ended, not when the database took it (the workers' rate reads it:
    a run that looked 20 s long made admission refuse everyone after an outage)."""
    settings.DB_OUTAGE_HOLD_S, settings.DB_RETRY_S = 5.0, 0.25
    row = row_of()
    assert lifecycle.start_translation(str(row.pk), worker=this_worker()) is not None
    real = lifecycle._record_done
    failing = {"left": 2}

    def record_done(*args):
        if failing["left"]:
            failing["left"] -= 1
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args)

    monkeypatch.setattr(lifecycle, "_record_done", record_done)
    ended = timezone.now()
    done = lifecycle.finish_translation(str(row.pk), outcome(), worker=this_worker())
    written_at = timezone.now()
    assert done is not None and done.status == Status.DONE and done.attempts == 1
    assert failing["left"] == 0  # two failed tries, then the real write
    stored = Translation.objects.get(pk=row.pk)
    assert stored.text == "т" and (written_at - ended).total_seconds() >= 0.5
    assert stored.finished_at is not None
    assert (stored.finished_at - ended).total_seconds() < 0.1


# --- a live utterance cut while the database is away ----------------------------------------


def deferred(**fields) -> Translation:
    """An utterance as `submit_utterance` defers it: an unsaved row and its input, cached."""
    row = Translation(source="live", session_id="s1", seq=4, store_audio=False, **fields)
    row.created_at = timezone.now() - timedelta(seconds=12)
    transient_audio.put_input(row.pk, b"RIFF-wav")
    transient_audio.put_deferred_row(row)
    return row


@pytest.mark.django_db
def test_a_deferred_row_runs_while_the_database_is_away_and_is_written_once_it_is_back(
    settings, monkeypatch
):
    settings.DB_OUTAGE_HOLD_S, settings.DB_RETRY_S = 5.0, 0.01
    row = deferred(reply_channel="chan!1")
    real_start = lifecycle._start

    def unreachable(*args):
        raise OperationalError("connection refused")

    monkeypatch.setattr(lifecycle, "_start", unreachable)
    running = lifecycle.start_translation(str(row.pk), worker=this_worker())
    assert running is not None and running.status == Status.RUNNING and running._state.adding
    assert not Translation.objects.filter(pk=row.pk).exists()

    monkeypatch.setattr(lifecycle, "_start", real_start)
    done = lifecycle.finish_translation(str(row.pk), outcome(), worker=this_worker())
    assert done is not None and done.status == Status.DONE
    stored = Translation.objects.get(pk=row.pk)
    assert (stored.session_id, stored.seq, stored.text) == ("s1", 4, "т")
    assert abs((stored.created_at - row.created_at).total_seconds()) < 0.01  # when spoken
    assert stored.worker == this_worker()  # who ran it and when, as for any other row
    assert stored.started_at is not None and stored.started_at <= stored.finished_at
    assert transient_audio.is_deferred(stored)
    assert transient_audio.deferred_row(row.pk) is None  # written exactly once: gone
    with pytest.raises(transient_audio.AudioUnavailable):
        transient_audio.get_input(row.pk)
    assert lifecycle.finish_translation(str(row.pk), outcome(), worker=this_worker()) is None


@pytest.mark.django_db
def test_a_deferred_row_reaching_a_worker_after_the_outage_is_written_when_it_starts():
    row = deferred()
    started = lifecycle.start_translation(str(row.pk), worker=this_worker())
    assert started is not None and not started._state.adding
    assert (started.status, started.attempts) == (Status.RUNNING, 1)
    assert Translation.objects.filter(pk=row.pk).count() == 1


@pytest.mark.django_db
def test_a_row_the_database_holds_waits_for_it_then_its_task_retries(settings, monkeypatch):
    settings.DB_OUTAGE_HOLD_S, settings.DB_RETRY_S = 0.05, 0.01

    def unreachable(*args):
        raise OperationalError("connection refused")

    monkeypatch.setattr(lifecycle, "_start", unreachable)
    with pytest.raises(OperationalError):
        lifecycle.start_translation(str(uuid.uuid4()), worker=this_worker())
