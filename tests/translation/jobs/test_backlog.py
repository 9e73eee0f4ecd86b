"""translation/jobs/backlog.py: the workers' measured rate (readings passed in), `read_queue`
on real rows in PostgreSQL, and the open sessions shared between web processes (real Redis)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from translation.jobs.backlog import FinishedRow, RunningRow, read_queue, workers_rate
from translation.models import Translation

# --- the workers' rate ---------------------------------------------------------------------------


def test_rate_is_audio_over_busy_time_per_worker_summed():
    rows = [
        FinishedRow("a", 0.0, 1.0, 4.0),  # a: 8 s of audio in 2 s busy → 4
        FinishedRow("a", 5.0, 6.0, 4.0),
        FinishedRow("b", 0.0, 2.0, 2.0),  # b: 1
    ]
    assert workers_rate(rows, alive=None) == (5.0, 2)


def test_rows_run_together_in_a_batch_count_their_busy_time_once():
    # Two rows of one batch overlap fully, a third overlaps half: busy 0..3 = 3 s, audio 9 s.
    rows = [
        FinishedRow("a", 0.0, 2.0, 3.0),
        FinishedRow("a", 0.0, 2.0, 3.0),
        FinishedRow("a", 1.0, 3.0, 3.0),
    ]
    assert workers_rate(rows, alive=None) == (3.0, 1)


def test_dead_workers_and_barely_busy_workers_do_not_count():
    rows = [
        FinishedRow("dead", 0.0, 2.0, 8.0),
        FinishedRow("live", 0.0, 2.0, 2.0),
        FinishedRow("new", 0.0, 0.2, 2.0),  # busy < MIN_BUSY_S: not measured yet
    ]
    assert workers_rate(rows, alive={"live", "new"}) == (1.0, 1)
    assert workers_rate([], alive=None) == (None, 0)


def test_a_running_row_bounds_its_workers_rate():
    done = [FinishedRow("a", 0.0, 1.0, 4.0)]  # measured: 4 audio-s per s
    # Still on 3 s of audio 10 s after it started: at most 0.3 per s now.
    slow = [RunningRow("a", 90.0, 3.0)]
    assert workers_rate(done, None, running=slow, now=100.0) == (pytest.approx(0.3), 1)
    # Just started: no bound yet; nothing finished either: not measured.
    assert workers_rate([], None, running=[RunningRow("b", 99.5, 3.0)], now=100.0) == (None, 0)
    # A worker that has finished nothing yet is bounded by what it runs.
    cold = [RunningRow("b", 96.0, 2.0)]
    assert workers_rate([], None, running=cold, now=100.0) == (0.5, 1)
    # A fast running row does not raise the measured rate.
    assert workers_rate(done, None, running=[RunningRow("a", 98.0, 20.0)], now=100.0) == (4.0, 1)


def test_a_calibrated_worker_counts_from_the_start_until_its_measured_rate_is_busy_enough():
    # Fresh: nothing finished, the calibration (20 audio-s per s at a full batch) says it all.
    assert workers_rate([], alive=set(), calibrated={"a": 20.0}) == (20.0, 1)
    # Small batches measure 4 per s in 2 s of busy time: not at capacity, the calibration holds.
    light = [FinishedRow("a", 0.0, 1.0, 4.0), FinishedRow("a", 5.0, 6.0, 4.0)]
    assert workers_rate(light, alive=None, calibrated={"a": 20.0}) == (20.0, 1)
    # Busy 50 of the last 60 s at 12 per s: saturated, the measured rate is the truth.
    busy = [FinishedRow("a", float(i), i + 1.0, 12.0) for i in range(50)]
    assert workers_rate(busy, alive=None, calibrated={"a": 20.0}) == (12.0, 1)
    # A measured rate above the calibration is kept; a hanging worker is still bounded.
    assert workers_rate(light, alive=None, calibrated={"a": 1.0}) == (4.0, 1)
    stuck = [RunningRow("a", 90.0, 3.0)]
    rate, _ = workers_rate([], None, running=stuck, now=100.0, calibrated={"a": 20.0})
    assert rate == pytest.approx(0.3)


# --- read_queue on real rows ---------------------------------------------------------------------


@pytest.mark.django_db
def test_read_queue_from_the_history_rows():
    now = timezone.now()

    def row(status: str, duration: float, **fields) -> Translation:
        return Translation.objects.create(status=status, duration_s=duration, **fields)

    first = row("queued", 2.0, session_id="s1")
    row("queued", 3.0, session_id="s2")
    Translation.objects.filter(pk=first.pk).update(created_at=now - timedelta(seconds=4))
    row("running", 9.0, session_id="s1", worker="w#1", started_at=now)
    for start in (10.0, 8.0):  # w#1: 4 s of audio in 2 s busy
        row(
            "done",
            2.0,
            session_id="s2",
            worker="w#1",
            started_at=now - timedelta(seconds=start),
            finished_at=now - timedelta(seconds=start - 1),
        )
    row("done", 5.0, source="upload", worker="w#1", started_at=None, finished_at=now)
    got = read_queue(now)
    # The running live row waits too (in a threads worker's batcher): 2 + 3 + 9 s.
    assert (got.queued, got.queued_audio_s) == (3, 14.0)
    assert got.oldest_queued_at == pytest.approx((now - timedelta(seconds=4)).timestamp())
    # Embedded (no Redis): a worker identity that is not this process's is not alive.
    assert (got.rate, got.workers) == (None, 0)
    # s1: 11 s of audio, talking since about 4 + 9 s ago; s2: 7 s in (at least) 7 s.
    assert got.speech_share == pytest.approx(18.0 / 20.0, rel=0.01)
    assert got.talking_sessions == 2


@pytest.mark.django_db
def test_read_queue_rate_counts_the_live_embedded_worker():
    from translation.jobs.liveness import this_worker

    now = timezone.now()
    for start in (10.0, 8.0):
        Translation.objects.create(
            status="done",
            duration_s=2.0,
            worker=this_worker(),
            started_at=now - timedelta(seconds=start),
            finished_at=now - timedelta(seconds=start - 1),
        )
    got = read_queue(now)
    assert (got.rate, got.workers, got.queued, got.oldest_queued_at) == (2.0, 1, 0, None)
