"""The end of a run outlives a database outage (translation/jobs/lifecycle.py `written`)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, OperationalError

from tests.translation.jobs.test_states import outcome, row_of
from translation.jobs import lifecycle
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
    is back (before: the task failed and the row stayed `running` until a retry ran it anew)."""
    settings.DB_OUTAGE_HOLD_S, settings.DB_RETRY_S = 5.0, 0.01
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
    done = lifecycle.finish_translation(str(row.pk), outcome(), worker=this_worker())
    assert done is not None and done.status == Status.DONE and done.attempts == 1
    assert failing["left"] == 0  # two failed tries, then the real write
    assert Translation.objects.get(pk=row.pk).text == "т"
