"""A live session's results put back in `seq` order, with a deadline per utterance.

Per seq the worker sends a head (`UtteranceResult`, or `UtteranceFailed`), then for a result
zero or more `AudioPiece`s and an `AudioEnd`. The seq being delivered streams through at once;
later seqs wait here until it has ended, so the client sees each seq whole and in order. An
error ends its seq by itself. Pure state on an injected clock (monotonic seconds).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from translation.events import AudioEnd, AudioPiece, SessionEvent, UtteranceFailed


@dataclass
class ResultSequencer:
    """Workers' events in, the events that may go to the client now out, in seq order."""

    clock: Callable[[], float] = time.monotonic
    next_to_send: int = 0
    held: dict[int, list[SessionEvent]] = field(default_factory=dict)
    headed: set[int] = field(default_factory=set)  # seqs whose result (or error) came
    ended: set[int] = field(default_factory=set)  # ... and whose audio has ended
    pieces: dict[int, int] = field(default_factory=dict)  # audio pieces accepted per seq
    attempts: dict[int, int | None] = field(default_factory=dict)  # the run whose result came
    deadlines: dict[int, float] = field(default_factory=dict)
    timeouts: dict[int, float] = field(default_factory=dict)
    submit_ms: dict[int, float] = field(default_factory=dict)

    def expect(self, seq: int, timeout_s: float, *, submit_ms: float | None = None) -> None:
        """A submitted utterance whose result must come back within `timeout_s`."""
        self.deadlines[seq] = self.clock() + timeout_s
        self.timeouts[seq] = timeout_s
        if submit_ms is not None:
            self.submit_ms[seq] = submit_ms

    def push(self, event: SessionEvent) -> list[SessionEvent]:
        """Take a worker's event for a seq (head, audio piece or end); return the events now
        deliverable, in order."""
        seq = event.seq
        if seq < self.next_to_send or seq in self.ended:
            return []  # late (already timed out or ended) or duplicate
        if isinstance(event, AudioPiece | AudioEnd):
            if seq not in self.headed or event.attempt != self.attempts.get(seq):
                return []  # no result before it, or another run of the task (redelivered)
            if isinstance(event, AudioEnd):
                return self._end(seq, event)
            self.pieces[seq] = self.pieces.get(seq, 0) + 1
            self._refresh_deadline(seq)
            return self._hold(seq, event)
        if seq in self.headed:
            return []  # a second head: duplicate
        self.headed.add(seq)
        self.attempts[seq] = event.attempt
        if seq in self.submit_ms:
            event = dataclasses.replace(event, submit_ms=self.submit_ms.pop(seq))
        if isinstance(event, UtteranceFailed):  # an error ends its seq
            self.deadlines.pop(seq, None)
            self.ended.add(seq)
            return self._hold(seq, event)
        self._refresh_deadline(seq)
        return self._hold(seq, event)

    def expire(self) -> list[SessionEvent]:
        """Seqs overdue by RESULT_TIMEOUT_S are ended (an error, or an audio end saying the
        rest did not come), so later ones are not held back."""
        now = self.clock()
        ready: list[SessionEvent] = []
        for seq, deadline in sorted(self.deadlines.items()):
            if now < deadline:
                continue
            if seq in self.headed:
                ready += self._end(
                    seq,
                    AudioEnd(
                        seq=seq,
                        pieces=self.pieces.get(seq, 0),
                        attempt=self.attempts.get(seq),
                        error="the rest of this translation's audio did not arrive in time "
                        "(the worker may have stopped while speaking it)",
                    ),
                )
            else:
                ready += self.push(
                    UtteranceFailed(
                        seq=seq,
                        error="no result in time: the translation worker may be down or "
                        "overloaded (check the worker and Flower)",
                    )
                )
        return ready

    def _refresh_deadline(self, seq: int) -> None:
        """While a result's audio keeps coming, it is not overdue."""
        if seq in self.deadlines:
            self.deadlines[seq] = self.clock() + self.timeouts.get(seq, 0.0)

    def _end(self, seq: int, event: AudioEnd) -> list[SessionEvent]:
        """The end of a result's audio, counting the pieces that really passed through here."""
        self.deadlines.pop(seq, None)
        self.timeouts.pop(seq, None)
        self.ended.add(seq)
        sent = self.pieces.pop(seq, 0)
        end = dataclasses.replace(event, pieces=sent)
        if event.pieces > sent and not event.error:
            lost = f"{event.pieces - sent} of {event.pieces} audio pieces were lost"
            end = dataclasses.replace(end, error=lost)
        return self._hold(seq, end)

    def _hold(self, seq: int, event: SessionEvent) -> list[SessionEvent]:
        """Queue an event of `seq`; release what may go out now (the current seq streams)."""
        self.held.setdefault(seq, []).append(event)
        ready: list[SessionEvent] = []
        while self.next_to_send in self.held:
            current = self.next_to_send
            ready += self.held.pop(current)
            if current not in self.ended:
                break
            self.ended.discard(current)
            self.headed.discard(current)
            self.attempts.pop(current, None)
            self.next_to_send += 1
        return ready
