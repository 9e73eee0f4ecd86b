"""The worker's end of a run (workers/services.py `record_outcome`) when the database stays
away past DB_OUTAGE_HOLD_S."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from tests.translation.jobs.test_lifecycle import deferred, outcome, row_of
from translation.jobs import delivery, lifecycle
from workers import services


@pytest.fixture
def told(monkeypatch) -> list[tuple[str, int]]:
    events: list[tuple[str, int]] = []
    monkeypatch.setattr(
        delivery, "deliver_audio_end", lambda row, **_: events.append(("end", row.seq))
    )
    monkeypatch.setattr(delivery, "tell_history_lost", lambda row: events.append(("lost", row.seq)))

    def away(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(lifecycle, "finish_translation", away)
    return events


def record(row) -> None:
    services.record_outcome(row, outcome(), frames_sent=1, speech_error="", timings={}, worker="w1")


@pytest.mark.django_db
def test_a_deferred_utterance_past_the_hold_is_answered_and_its_session_told_it_is_not_kept(told):
    row = deferred(reply_channel="chan!z")
    record(row)  # no exception: its task is not run (and answered) again
    assert told == [("end", 4), ("lost", 4)]  # the end first: the session never waited


@pytest.mark.django_db
def test_a_stored_row_past_the_hold_is_left_to_its_task_retry(told):
    row = row_of(seq=7)
    with pytest.raises(OperationalError):
        record(row)
    assert told == [("end", 7)]
