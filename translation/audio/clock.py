"""A live stream's audio on the wall clock.

A stream's own time counts samples: right while the client sends audio without a break, wrong
as soon as it stops sending while quiet (push-to-talk, a muted tab, a native client that sends
nothing in silence) — its clock then stands still while the world's goes on. `StreamClock`
maps stream time to seconds since the stream started on the wall clock, from when the frames
arrive:

- a **run** is a stretch of frames that came at the pace of their audio; within a run, times
  stay sample-accurate (stream time plus the run's offset);
- a frame that arrives more than `gap_s` later than its place in the stream says starts a
  new run whose offset is that lateness: the time no frame carried (a gap) is put back;
- a late frame followed by frames that come faster than real time (a stall, then the backlog
  in a burst) was late delivery, not a gap: the run's offset falls back as the burst catches
  up (never below the run before it), so the backlog keeps the times it was spoken at. While
  the burst is still arriving, an utterance cut from it is placed at most the stall late;
- audio captured before the stream's time zero (a page captures while its socket connects and
  sends what it held as soon as its control is answered) arrives in a burst right after it:
  the first run's offset falls below zero by as much, but not by more than the connection
  took (`opened` to the control, at most MAX_BACKLOG_S) and only within BACKLOG_WINDOW_S of
  the start, so the backlog is placed when it was captured (callers clamp such times to the
  session's or the lane's floor). A client that streams faster than real time keeps its
  sample times: a backlog can be no older than its connection.

Errors: network jitter under `gap_s` moves nothing (times carry up to `gap_s` of it); a gap
is measured from the first frame after it, so a frame's own transport delay is in the new
run's offset (tens of ms on a LAN).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

GAP_S = 0.25
"""Frames later than this against their audio's place start a new run (5 of the old 20 ms
frames, about 4 of the page's 64 ms ones)."""
MAX_BACKLOG_S = 10.0
"""The most audio captured before the stream's time zero that is put back before it (the page's
outbox holds 150 frames of 64 ms while it connects)."""
BACKLOG_WINDOW_S = 1.0
"""A backlog arrives within this of the stream's zero (the control's answer, then the page's
held frames at once: a round trip and a database write for a call's lane)."""
MAX_RUNS = 256
"""Runs kept (the oldest go): utterances are placed when they are cut, within the last few."""


@dataclass
class StreamClock:
    gap_s: float = GAP_S
    origin: float | None = None  # monotonic time the stream's clock starts (its first control)
    opened: float | None = None  # monotonic time its connection opened (None: no backlog)
    received_s: float = 0.0  # stream seconds received so far
    _starts: list[float] = field(default_factory=list)  # stream seconds where each run begins
    _offsets: list[float] = field(default_factory=list)  # each run's wall minus stream time
    _settled: bool = False  # past the start's window: the first run may not fall further

    def start(self, now: float) -> None:
        """The stream's time zero (once: a control resent later changes nothing)."""
        if self.origin is None:
            self.origin = now

    def frame(self, duration_s: float, now: float) -> None:
        """`duration_s` of audio arrived at `now` (monotonic seconds)."""
        if self.origin is None:
            self.origin = now - duration_s
        end = self.received_s + duration_s
        # Below 0: captured before the stream's zero. (To the microsecond: float sums of frame
        # lengths must not read as a backlog.)
        lateness = round(now - self.origin - end, 6)
        self._settled = self._settled or now - self.origin > BACKLOG_WINDOW_S
        if not self._offsets or lateness > self._offsets[-1] + self.gap_s:
            self._starts.append(self.received_s)
            self._offsets.append(lateness if self._offsets else max(lateness, self._floor()))
            if len(self._offsets) > MAX_RUNS:
                del self._starts[0], self._offsets[0]
        elif lateness < self._offsets[-1]:
            self._offsets[-1] = max(lateness, self._floor())
        self.received_s = end

    def _floor(self) -> float:
        """The lowest offset the newest run may take: the run before it's; for the first run,
        right after the start, minus the time the connection took (a backlog), never lower
        later."""
        if len(self._offsets) > 1:
            return self._offsets[-2]
        if not self._settled and self.opened is not None and self.origin is not None:
            # Whole milliseconds: a control answered at once holds no backlog.
            return -min(MAX_BACKLOG_S, round(max(0.0, self.origin - self.opened), 3))
        return min(0.0, self._offsets[0]) if self._offsets else 0.0

    def wall_s(self, stream_s: float) -> float:
        """Seconds since the stream started, on the wall clock, of stream time `stream_s`."""
        if not self._offsets:
            return stream_s
        # A run's start is a sum of frame lengths: within a microsecond of a sample position.
        run = max(0, bisect.bisect_right(self._starts, stream_s + 1e-6) - 1)
        return stream_s + self._offsets[run]
