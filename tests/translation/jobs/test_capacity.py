"""translation/jobs/capacity.py: the lag, the shedding and the admission decision, and the
monitor that caches the readings, with readings and a clock passed in (no sleeps)."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from translation.jobs import capacity
from translation.jobs.backlog import QueueReading
from translation.jobs.capacity import STALE_AFTER_S, CapacityMonitor, Limits, assess

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


def test_a_loop_that_would_pass_its_cpu_share_with_one_more_session_refuses_it():
    """Each live session's ingest costs the event loop's thread CPU: 30 sessions using 0.72 of
    a core would need 0.744 with a 31st (admitted); 0.76 would be 0.785 (refused)."""
    limits = replace(LIMITS, max_loop_cpu=0.75)
    fast = reading(rate=100.0)  # the workers have room for all of them
    admitted = assess(fast, now=NOW, open_sessions=30, limits=limits, loop_cpu=0.72)
    assert admitted.loop_cpu == pytest.approx(0.744) and admitted.refusal() is None
    refused = assess(fast, now=NOW, open_sessions=30, limits=limits, loop_cpu=0.76)
    refusal = refused.refusal()
    assert refusal is not None and refusal.retry_after_s == 30
    assert "live sessions would use 78% of its processor" in refusal.reason
    assert not refused.busy  # the open sessions are not told busy for it
    # One session that sent a recording as fast as it could: a newcomer is not priced by it.
    burst = assess(fast, now=NOW, open_sessions=1, limits=limits, loop_cpu=0.5)
    assert burst.loop_cpu == pytest.approx(0.5 + capacity.LOOP_CPU_PER_SESSION_MAX)
    assert burst.refusal() is None
    # No open session: the loop's CPU is someone else's (HTTP, the admin): no one is refused.
    assert assess(fast, now=NOW, open_sessions=0, limits=limits, loop_cpu=0.9).refusal() is None
    # Without a queue reading it still refuses: the web tier's own state is known.
    assert assess(None, now=NOW, open_sessions=30, limits=limits, loop_cpu=0.76).refusal()


def test_monitor_measures_the_loop_threads_cpu_share_over_the_last_seconds():
    cpu = [100.0]
    monitor = CapacityMonitor(
        read=Readings(), clock=clock, cpu_clock=lambda: cpu[0], refresh_s=1.0, limits=LIMITS
    )
    start = clock.now = clock.now + 100
    assert monitor.loop_cpu() == 0.0  # not sampled yet
    for tick in range(1, 81):  # 8 s of watchdog ticks every 0.1 s, the loop busy 60 % of it
        clock.now = start + tick * 0.1
        cpu[0] += 0.06
        monitor.note_loop_lag(1.0)
    assert monitor.loop_cpu() == pytest.approx(0.6)
    for tick in range(81, 121):  # then 90 %
        clock.now = start + tick * 0.1
        cpu[0] += 0.09
        monitor.note_loop_lag(1.0)
    assert monitor.loop_cpu() == pytest.approx(0.9, abs=0.02)  # only the last ~3 s count
    clock.now += 2 * capacity.LOOP_CPU_WINDOW_S  # no session reports any more: idle
    assert monitor.loop_cpu() == 0.0
