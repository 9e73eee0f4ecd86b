"""Results back in seq order (translation/streaming/sequencer.py), on a clock the test turns."""

from __future__ import annotations

import pytest

from translation.events import AudioEnd, AudioPiece, UtteranceFailed, UtteranceResult
from translation.protocol.messages import ResultMessage
from translation.streaming.sequencer import ResultSequencer


class Clock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sequencer(clock) -> ResultSequencer:
    return ResultSequencer(clock=clock)


def head(seq, text="", attempt=1):
    result = ResultMessage(
        seq=seq, id=f"r{seq}", src="en", tgt="ru", text=text, tts_failed=False, timings={}
    )
    return UtteranceResult(seq=seq, result=result, attempt=attempt)


def piece(seq, data=b"RIFF", attempt=1):
    return AudioPiece(seq=seq, wav=data, attempt=attempt)


def end(seq, pieces, attempt=1, **extra):
    return AudioEnd(seq=seq, pieces=pieces, attempt=attempt, **extra)


def kinds(events):
    """Each released event as (seq, what): the result text, the piece bytes, or 'end N'."""
    out = []
    for e in events:
        if isinstance(e, UtteranceResult):
            out.append((e.seq, e.result.text))
        elif isinstance(e, AudioPiece):
            out.append((e.seq, e.wav))
        elif isinstance(e, AudioEnd):
            out.append((e.seq, f"end {e.pieces}"))
        else:
            assert isinstance(e, UtteranceFailed)
            out.append((e.seq, "error"))
    return out


def test_results_are_released_in_seq_order(sequencer):
    assert sequencer.push(head(2, "c")) == []
    assert sequencer.push(end(2, 0)) == []
    assert sequencer.push(head(1, "b")) == []
    assert sequencer.push(end(1, 0)) == []
    released = sequencer.push(head(0, "a"))
    assert kinds(released) == [(0, "a")]  # seq 0's audio is not over yet
    released = sequencer.push(end(0, 0))
    assert kinds(released) == [(0, "end 0"), (1, "b"), (1, "end 0"), (2, "c"), (2, "end 0")]
    assert sequencer.push(head(1, "again")) == []  # duplicate/late: dropped
    assert sequencer.next_to_send == 3


def test_the_current_seq_streams_while_later_ones_wait_whole(sequencer):
    assert kinds(sequencer.push(head(0, "a"))) == [(0, "a")]
    assert kinds(sequencer.push(piece(0, b"a1"))) == [(0, b"a1")]
    # seq 1 is complete already, but must not interleave with seq 0's audio.
    for event in (head(1, "b"), piece(1, b"b1"), piece(1, b"b2"), end(1, 2)):
        assert sequencer.push(event) == []
    assert kinds(sequencer.push(piece(0, b"a2"))) == [(0, b"a2")]
    assert kinds(sequencer.push(end(0, 2))) == [
        (0, "end 2"),
        (1, "b"),
        (1, b"b1"),
        (1, b"b2"),
        (1, "end 2"),
    ]
    assert sequencer.next_to_send == 2 and sequencer.held == {}


def test_an_error_ends_its_seq_by_itself(sequencer):
    assert sequencer.push(head(1, "b")) == []
    released = sequencer.push(UtteranceFailed(seq=0, error="model failed"))
    assert kinds(released) == [(0, "error"), (1, "b")]
    assert kinds(sequencer.push(end(1, 0))) == [(1, "end 0")]


def test_pieces_of_another_task_run_are_dropped(sequencer):
    sequencer.push(head(0, "a", attempt=1))
    assert sequencer.push(piece(0, b"x", attempt=2)) == []  # a redelivered task's audio
    assert sequencer.push(head(0, "a", attempt=2)) == []
    assert sequencer.push(piece(3, b"x")) == []  # no result for it
    assert kinds(sequencer.push(end(0, 0, attempt=1))) == [(0, "end 0")]


def test_the_end_counts_the_pieces_that_really_passed(sequencer):
    sequencer.push(head(0, "a"))
    sequencer.push(piece(0))
    released = sequencer.push(end(0, 3))
    assert released[0].pieces == 1 and "2 of 3 audio pieces were lost" in released[0].error


def test_overdue_results_become_errors_so_later_ones_flow(sequencer, clock):
    sequencer.expect(0, timeout_s=0.0)
    sequencer.expect(1, timeout_s=60.0)
    assert sequencer.push(head(1, "b")) == []
    assert sequencer.push(end(1, 0)) == []
    clock.advance(0.001)
    released = sequencer.expire()
    assert kinds(released) == [(0, "error"), (1, "b"), (1, "end 0")]
    assert "worker may be down" in released[0].error
    assert sequencer.push(head(0, "too late")) == []


def test_audio_that_stops_coming_is_ended_with_an_error(sequencer, clock):
    sequencer.expect(0, timeout_s=60.0)
    sequencer.expect(1, timeout_s=600.0)
    sequencer.push(head(0, "a"))
    sequencer.push(piece(0))
    clock.advance(59.0)
    sequencer.push(piece(0))  # audio keeps the deadline fresh
    clock.advance(59.0)
    assert sequencer.expire() == []
    sequencer.push(head(1, "b"))
    clock.advance(60.0)  # no piece of seq 0 for its whole timeout
    released = sequencer.expire()
    assert kinds(released) == [(0, "end 2"), (1, "b")]
    assert "did not arrive in time" in released[0].error
    assert sequencer.push(piece(0)) == [] and sequencer.next_to_send == 1
    clock.advance(600.0)
    assert kinds(sequencer.expire()) == [(1, "end 0")] and sequencer.next_to_send == 2
