"""translation/audio/clock.py: a stream's audio on the wall clock, from when its frames came."""

from __future__ import annotations

import pytest

from translation.audio.clock import GAP_S, MAX_BACKLOG_S, StreamClock

FRAME_S = 0.064


def send(clock: StreamClock, start: float, seconds: float, *, burst: bool = False) -> None:
    """Frames of `seconds` of audio from `start` (monotonic): at their real-time pace, or all
    at `start` (a backlog arriving at once)."""
    for i in range(round(seconds / FRAME_S)):
        clock.frame(FRAME_S, start if burst else start + (i + 1) * FRAME_S)


def test_a_continuous_stream_keeps_its_sample_times():
    clock = StreamClock()
    clock.start(100.0)
    send(clock, 100.0, 10.0)
    assert clock.wall_s(3.2) == pytest.approx(3.2)
    assert clock.wall_s(9.9) == pytest.approx(9.9)


def test_a_gap_with_no_frames_is_put_back_push_to_talk():
    clock = StreamClock()
    clock.start(100.0)
    send(clock, 100.5, 1.5)  # the first turn 0.5 s after the control: 0.5..2.0 on the wall
    second = clock.received_s
    send(clock, 104.0, 1.0)  # the key held again at 4.0 (stream time goes on from `second`)
    assert clock.wall_s(0.0) == pytest.approx(0.5)
    assert clock.wall_s(second) == pytest.approx(4.0)
    assert clock.wall_s(second + 0.9) == pytest.approx(4.9)


def test_a_run_starts_at_its_first_sample_despite_float_sums():
    clock = StreamClock()
    clock.start(0.0)
    for i in range(1, 18):  # 17 frames of 1051 samples: their sum is not exact in seconds
        clock.frame(1051 / 16_000, i * 1051 / 16_000)
    first_of_next = 17 * 1051 / 16_000
    clock.frame(1051 / 16_000, 10.0)
    assert clock.wall_s(first_of_next) == pytest.approx(10.0 - 1051 / 16_000)


def test_jitter_under_the_gap_moves_nothing():
    clock = StreamClock()
    clock.start(100.0)
    send(clock, 100.0, 2.0)
    clock.frame(FRAME_S, 100.0 + 2.0 + FRAME_S + GAP_S * 0.8)  # one frame late, not a gap
    send(clock, 100.0, 2.0)  # (frames that come early change nothing either)
    assert clock.wall_s(1.0) == pytest.approx(1.0)
    assert clock.wall_s(2.0) == pytest.approx(2.0)


def test_a_stall_then_its_backlog_in_a_burst_keeps_the_spoken_times():
    clock = StreamClock()
    clock.start(100.0)
    send(clock, 100.0, 3.0)
    # Frames for 3.0..5.0 were captured in time but held up: all arrive at 105.0.
    send(clock, 105.0, 2.0, burst=True)
    send(clock, 105.0, 2.0)  # then the live frames again, on time
    assert clock.wall_s(3.5) == pytest.approx(3.5, abs=FRAME_S)
    assert clock.wall_s(6.0) == pytest.approx(6.0, abs=FRAME_S)


def test_before_the_backlog_catches_up_an_utterance_is_at_most_the_stall_late():
    clock = StreamClock()
    clock.start(100.0)
    send(clock, 100.0, 3.0)
    send(clock, 102.0 + 3.0, 0.5, burst=True)  # 2 s stalled, a quarter of the backlog in
    assert 0.0 <= clock.wall_s(3.0) - 3.0 <= 2.0 + FRAME_S


def test_a_control_resent_keeps_the_origin_and_a_late_first_frame_starts_late():
    clock = StreamClock()
    clock.start(100.0)
    clock.start(107.0)  # a mode change later
    send(clock, 110.0, 1.0)
    assert clock.wall_s(0.0) == pytest.approx(10.0)


def test_old_runs_are_forgotten_but_the_oldest_kept_offset_still_places_old_times():
    clock = StreamClock()
    clock.start(0.0)
    now = 0.0
    for _ in range(300):  # 300 push-to-talk turns of 0.128 s, 1 s apart
        now += 1.0
        send(clock, now, 2 * FRAME_S)
    assert clock.wall_s(clock.received_s - 0.1) == pytest.approx(now + 0.028, abs=0.01)
    assert clock.wall_s(0.0) >= 0.0


def test_audio_captured_before_the_start_and_sent_at_once_is_placed_before_it():
    """The page captures while its socket connects, then sends the 1.024 s it held right after
    its control is answered, then live frames: the backlog lies before the stream's zero."""
    clock = StreamClock(opened=98.8)  # the connection took 1.2 s to be configured
    clock.start(100.0)
    send(clock, 100.05, 1.024, burst=True)
    held = clock.received_s
    for i in range(round(1.0 / FRAME_S)):
        clock.frame(FRAME_S, 100.05 + (i + 1) * FRAME_S)
    assert clock.wall_s(0.0) == pytest.approx(0.05 - 1.024, abs=1e-6)
    assert clock.wall_s(held + 0.5) == pytest.approx(0.55, abs=1e-6)


def test_a_backlog_is_no_older_than_its_connection_nor_max_backlog_s():
    quick = StreamClock(opened=99.7)
    quick.start(100.0)
    send(quick, 100.05, 3.0, burst=True)  # more than 0.3 s held: it was streamed, not held
    assert quick.wall_s(0.0) == pytest.approx(-0.3)
    slow = StreamClock(opened=70.0)
    slow.start(100.0)
    send(slow, 100.1, 15.0, burst=True)
    assert slow.wall_s(0.0) == pytest.approx(-MAX_BACKLOG_S)
    unknown = StreamClock()  # no connection time known: no backlog
    unknown.start(100.0)
    send(unknown, 100.05, 1.0, burst=True)
    assert unknown.wall_s(0.0) == 0.0


def test_a_client_faster_than_real_time_after_the_start_keeps_its_sample_times():
    clock = StreamClock(opened=99.0)
    clock.start(100.0)
    send(clock, 100.0, 2.0)
    send(clock, 102.0, 5.0, burst=True)  # a file streamed as fast as the socket takes it
    assert clock.wall_s(4.0) == pytest.approx(4.0)
