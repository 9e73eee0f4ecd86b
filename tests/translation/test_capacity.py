"""translation/capacity.py: the lag measurement, the workers' rate, the admission decision and
the per-session notices, with readings and a clock passed in (no sleeps); `read_queue` on real
rows in PostgreSQL."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from translation import capacity
from translation.capacity import (
    STALE_AFTER_S,
    CapacityMonitor,
    FinishedRow,
    Limits,
    OverloadNotices,
    QueueReading,
    RunningRow,
    assess,
    read_queue,
    workers_rate,
)
from translation.models import Translation

LIMITS = Limits(max_lag_s=3.0, captions_shed_lag_s=1.0, max_load=0.9, speech_share=0.8)
NOW = 1_000_000.0


def reading(**fields) -> QueueReading:
    values = {
        "read_at": NOW,
        "queued": 0,
        "queued_audio_s": 0.0,
        "oldest_queued_at": None,
        "rate": 4.0,
        "workers": 1,
        "speech_share": None,
        "talking_sessions": 0,
    }
    return QueueReading(**(values | fields))


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


# --- the lag and the thresholds ------------------------------------------------------------------


def test_lag_is_the_oldest_queued_finals_age_or_the_projected_lag_whichever_is_larger():
    old = assess(
        reading(queued=2, queued_audio_s=2.0, oldest_queued_at=NOW - 5.0),
        now=NOW + 0.5,
        open_sessions=1,
        limits=LIMITS,
    )
    assert old.lag_s == 5.5 and old.queued == 2  # 2 s of audio at 4/s is only 0.5 s
    projected = assess(
        reading(queued=10, queued_audio_s=20.0, oldest_queued_at=NOW - 1.0),
        now=NOW,
        open_sessions=1,
        limits=LIMITS,
    )
    assert projected.lag_s == 5.0  # 20 s of audio at 4 audio-s per s


def test_captions_are_shed_before_sessions_are_told_busy():
    def at(lag: float):
        return assess(reading(queued=1, oldest_queued_at=NOW - lag), now=NOW, open_sessions=0,
                      limits=LIMITS)  # fmt: skip

    calm, shedding, busy = at(0.5), at(2.0), at(3.5)
    assert (calm.shed_captions, calm.busy, calm.refusal()) == (False, False, None)
    assert (shedding.shed_captions, shedding.busy, shedding.refusal()) == (True, False, None)
    assert busy.shed_captions and busy.busy
    refusal = busy.refusal()
    assert refusal is not None and refusal.retry_after_s == 5
    assert "4 s behind" in refusal.reason


def test_a_new_session_is_refused_when_the_open_sessions_would_exceed_the_rate():
    # 4 audio-s per s; measured: a talking session speaks 0.8 s of each second.
    measured = reading(rate=4.0, speech_share=0.8, talking_sessions=3)
    admits = assess(measured, now=NOW, open_sessions=3, limits=LIMITS)
    assert admits.load == pytest.approx((3 + 1) * 0.8 / 4.0) and admits.refusal() is None
    full = assess(measured, now=NOW, open_sessions=4, limits=LIMITS)  # 5 × 0.8 / 4 = 1.0
    assert full.full and not full.busy
    refusal = full.refusal()
    assert refusal is not None and "full" in refusal.reason and refusal.retry_after_s == 30
    # The sessions of the other web processes count as well.
    elsewhere = replace(measured, other_open_sessions=2)
    assert assess(elsewhere, now=NOW, open_sessions=2, limits=LIMITS).full


def test_sessions_that_left_do_not_count_against_a_new_one():
    # One talker spoke 0.4 audio-s per s and left; the slow worker does 0.6 per s.
    left = reading(rate=0.6, speech_share=0.4, talking_sessions=1)
    assert assess(left, now=NOW, open_sessions=0, limits=LIMITS).refusal() is None
    assert assess(left, now=NOW, open_sessions=1, limits=LIMITS).full


def test_before_anyone_spoke_each_session_is_assumed_to_speak_session_speech_share():
    fresh = reading(rate=4.0, speech_share=None, talking_sessions=0)
    assert assess(fresh, now=NOW, open_sessions=3, limits=LIMITS).refusal() is None  # 3.2/4
    assert assess(fresh, now=NOW, open_sessions=4, limits=LIMITS).full  # 4.0/4


def test_without_a_measured_rate_only_the_queued_finals_age_counts():
    unmeasured = reading(rate=None, queued=5, queued_audio_s=50.0, oldest_queued_at=NOW - 1.0)
    backlog = assess(unmeasured, now=NOW, open_sessions=100, limits=LIMITS)
    assert backlog.lag_s == 1.0 and backlog.load is None and backlog.refusal() is None


def test_a_stale_or_missing_reading_refuses_no_one():
    stale = reading(queued=9, oldest_queued_at=NOW - 60.0)
    later = assess(stale, now=NOW + STALE_AFTER_S + 1, open_sessions=0, limits=LIMITS)
    assert not later.known and later.refusal() is None and not later.shed_captions
    assert not assess(None, now=NOW, open_sessions=0, limits=LIMITS).known


# --- the per-session notices ---------------------------------------------------------------------


def test_busy_is_told_once_then_again_when_the_lag_moves_and_clear_when_it_ends():
    notices = OverloadNotices(repeat_s=2.0)

    def update(lag: float, now: float) -> str | None:
        backlog = assess(reading(queued=1, oldest_queued_at=NOW - lag), now=NOW,
                         open_sessions=0, limits=LIMITS)  # fmt: skip
        return notices.update(backlog, now)

    assert update(1.0, 0.0) is None  # not busy: nothing to say
    assert update(4.0, 0.1) == "busy"
    assert update(6.0, 1.0) is None  # moved, but told less than 2 s ago
    assert update(4.2, 2.5) is None  # 2 s passed, but the lag moved by less than a second
    assert update(6.0, 2.6) == "busy"
    assert update(2.0, 3.0) == "clear"
    assert update(2.0, 9.0) is None


def test_status_messages_carry_the_lag_and_the_refusal():
    busy = assess(reading(queued=3, oldest_queued_at=NOW - 7.2), now=NOW, open_sessions=0,
                  limits=LIMITS)  # fmt: skip
    told = capacity.status_for("busy", busy)
    assert (told.state, told.lag_s, told.queued, told.captions_paused) == ("busy", 7.2, 3, True)
    assert told.retry_after_s is None and "7 s behind" in told.message
    refused = capacity.status_for("refused", busy, busy.refusal())
    assert refused.retry_after_s == 8 and refused.message.startswith("translator busy")


# --- the monitor: cached, refreshed off the event loop -------------------------------------------


class Readings:
    def __init__(self) -> None:
        self.calls = 0
        self.queued = 0
        self.threads: set[str] = set()

    def __call__(self) -> QueueReading:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        return reading(read_at=clock.now, queued=self.queued, oldest_queued_at=clock.now - 10)


class Clock:
    now = NOW

    def __call__(self) -> float:
        return self.now


clock = Clock()


async def test_monitor_reads_at_most_every_refresh_s_and_never_on_the_callers_thread():
    readings = Readings()
    monitor = CapacityMonitor(read=readings, clock=clock, refresh_s=1.0, limits=LIMITS)
    monitor.snapshot()  # nothing read yet: a read starts in the background
    first = await monitor.fresh()
    assert first.known and first.busy and readings.calls == 1
    assert readings.threads == {"rutrans-capacity_0"}
    for _ in range(100):  # every watchdog tick of every session: no further reads
        assert monitor.snapshot().busy
    assert readings.calls == 1
    clock.now += 1.5
    await monitor.fresh()
    assert readings.calls == 2


async def test_monitor_keeps_the_last_reading_when_a_read_fails():
    readings = Readings()
    monitor = CapacityMonitor(read=readings, clock=clock, refresh_s=1.0, limits=LIMITS)
    await monitor.fresh()

    def broken() -> QueueReading:
        raise ConnectionError("database gone")

    monitor._read = broken
    clock.now += 1.5
    assert (await monitor.fresh()).busy  # the last reading, still recent enough
    clock.now += STALE_AFTER_S
    assert not (await monitor.fresh()).known


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
    assert (got.queued, got.queued_audio_s) == (2, 5.0)
    assert got.oldest_queued_at == pytest.approx((now - timedelta(seconds=4)).timestamp())
    # Embedded (no Redis): a worker identity that is not this process's is not alive.
    assert (got.rate, got.workers) == (None, 0)
    # s1: 11 s of audio, talking since about 4 + 9 s ago; s2: 7 s in (at least) 7 s.
    assert got.speech_share == pytest.approx(18.0 / 20.0, rel=0.01)
    assert got.talking_sessions == 2


@pytest.mark.django_db
def test_read_queue_rate_counts_the_live_embedded_worker():
    from translation.liveness import this_worker

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


def test_open_sessions_are_shared_between_web_processes(settings):
    from tests.services import require_redis
    from translation.broker import broker_redis, forget_client

    settings.REDIS_URL, settings.EMBEDDED = require_redis(), False
    forget_client()
    try:
        broker_redis().delete(*broker_redis().keys(capacity.OPEN_SESSIONS_KEY + "*") or ["-"])
        assert capacity.share_open_sessions("web-a", 3) == 0
        assert capacity.share_open_sessions("web-b", 5) == 3
        assert capacity.share_open_sessions("web-a", 2) == 5
        ttl = broker_redis().ttl(capacity.OPEN_SESSIONS_KEY + "web-a")
        assert 0 < ttl <= capacity.OPEN_SESSIONS_TTL_S  # a dead process stops counting
    finally:
        broker_redis().delete(*broker_redis().keys(capacity.OPEN_SESSIONS_KEY + "*") or ["-"])
        forget_client()


def test_embedded_has_no_other_processes(settings):
    settings.EMBEDDED = True
    assert capacity.share_open_sessions("web-a", 3) == 0


async def test_a_hanging_database_does_not_hold_a_new_session(monkeypatch):
    release = threading.Event()

    def hangs() -> QueueReading:
        release.wait(10)
        return reading(read_at=clock.now)

    monkeypatch.setattr(capacity, "FRESH_WAIT_S", 0.05)
    monitor = CapacityMonitor(read=hangs, clock=clock, refresh_s=1.0, limits=LIMITS)
    try:
        assert not (await monitor.fresh()).known  # no reading yet: admitted, not refused
    finally:
        release.set()


def test_a_web_loop_late_for_seconds_refuses_new_sessions_one_late_tick_does_not():
    limits = replace(LIMITS, max_loop_lag_ms=500.0)
    monitor = CapacityMonitor(read=Readings(), clock=clock, refresh_s=1.0, limits=limits)
    start = float(int(clock.now)) + 10
    clock.now = start
    monitor.note_loop_lag(2000.0)  # one long pause (a collection)
    clock.now = start + 1.2
    monitor.note_loop_lag(20.0)
    clock.now = start + 3.1
    assert monitor.sustained_loop_lag_ms() == 0.0
    for second in range(4, 8):  # late in every second
        clock.now = start + second + 0.5
        monitor.note_loop_lag(800.0 + second)
    clock.now = start + 8.1
    assert monitor.sustained_loop_lag_ms() == 805.0
    backlog = assess(reading(read_at=clock.now), now=clock.now, open_sessions=0, limits=limits,
                     loop_lag_ms=monitor.sustained_loop_lag_ms())  # fmt: skip
    refusal = backlog.refusal()
    assert refusal is not None and "web server is overloaded (audio waits 805 ms" in refusal.reason
    assert not backlog.busy  # the admitted sessions are not told busy for it
    # Without a queue reading it still refuses: the web tier's own state is known.
    assert assess(None, now=clock.now, open_sessions=0, limits=limits, loop_lag_ms=805.0).refusal()
