"""translation/streaming/overload.py: when a session is told `busy` and `clear`, and the
status messages (readings and a clock passed in)."""

from __future__ import annotations

from tests.translation.jobs.test_capacity import LIMITS, NOW, reading
from translation.jobs.capacity import assess
from translation.streaming import overload
from translation.streaming.overload import OverloadNotices

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
    told = overload.status_for("busy", busy)
    assert (told.state, told.lag_s, told.queued, told.captions_paused) == ("busy", 7.2, 3, True)
    assert told.retry_after_s is None and "7 s behind" in told.message
    refused = overload.status_for("refused", busy, busy.refusal())
    assert refused.retry_after_s == 8 and refused.message.startswith("translator busy")


def test_a_session_is_told_it_waits_for_a_worker_while_none_consumes_and_clear_after():
    notices = OverloadNotices(repeat_s=2.0)
    none = assess(reading(live_workers=0), now=NOW, open_sessions=0, limits=LIMITS)
    assert none.no_worker and not none.busy and none.refusal() is None  # admitted, and told
    assert notices.update(none, 0.0) == "busy"
    told = overload.status_for("busy", none)
    assert told.state == "busy"
    assert told.message.startswith("waiting for a worker: no worker is consuming the gpu queue")
    back = assess(reading(live_workers=1), now=NOW, open_sessions=0, limits=LIMITS)
    assert not back.no_worker and notices.update(back, 1.0) == "clear"
    unknown = assess(reading(live_workers=None), now=NOW, open_sessions=0, limits=LIMITS)
    assert not unknown.no_worker  # heartbeats unreadable: no one is declared gone
