"""Live captions: when to ask for a partial translation of the utterance still being spoken,
and which partials may be shown. Pure state, no I/O: the consumer feeds it clock readings and
worker replies; `translation/streaming/caption_dispatch.py` sends the requests.

Rules, per session:
- a partial is due after `interval_s` of speech in the open utterance, then after each further
  `interval_s` of speech (the VAD's speech seconds: the silence that ends an utterance asks for
  nothing; a stalled stream neither). `poll`, on every frame, only compares stream times;
  the speech seconds, which cost a copy of the audio, are read when `poll` says so;
- at most one partial is out at a time: a due tick while one is out is *skipped* (the workers
  are busy), as is one the dispatcher or worker turned down; a partial never answered (it
  expired in the queue) frees the slot after `expires_s` plus a grace period;
- a due tick is also skipped while the caller says the system is busy: the session's previous
  final has not come back yet, or the web tier's event loop runs late (LOOP_LAG_LIMIT_MS);
  finals and the audio ingest matter more than captions;
- a partial is shown only while its utterance has no final, and only if it is newer than the
  last partial shown for that utterance (replies can overtake each other across workers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from translation.events import PartialReply

ANSWER_GRACE_S = 0.5
"""How long past its expiry a partial may still be answered (a worker that started it just
before the expiry): until then its slot stays taken."""
LOOP_LAG_LIMIT_MS = 250.0
"""An event loop running later than this (the web tier saturated): no partials."""
RECHECK_S = 0.2
"""Stream time until speech is looked at again when too little of it was new."""

MAX_TRACKED = 64
"""Utterances whose newest shown partial is remembered (finals forget theirs sooner)."""


@dataclass(frozen=True)
class PartialRequest:
    """One partial to send: the open utterance `seq`, its `part` number (1, 2, ...)."""

    seq: int
    part: int
    src: str | None  # a language found by an earlier partial of this utterance (auto mode)


@dataclass
class UtteranceCaptions:
    """Caption bookkeeping of one utterance (one seq)."""

    next_look_s: float  # stream time at which to look at its speech again
    last_speech_s: float = 0.0  # speech seconds at the last due partial
    due: int = 0
    sent: int = 0
    skipped: int = 0
    src: str | None = None

    def summary(self) -> dict[str, int]:
        return {"due": self.due, "sent": self.sent, "skipped": self.skipped}


@dataclass
class CaptionState:
    """One session's captions. `poll` on every frame; when it says so, `request` with the
    open utterance's speech seconds; `sent`/`declined` after a dispatch attempt; `accept` for
    each reply from a worker."""

    interval_s: float
    expires_s: float
    open: dict[int, UtteranceCaptions] = field(default_factory=dict)
    out: tuple[int, int, float] | None = None  # (seq, part, monotonic time sent)
    shown: dict[int, int] = field(default_factory=dict)  # seq → newest part shown
    ended: list[tuple[int, dict[str, int]]] = field(default_factory=list)
    late: int = 0  # replies dropped: their final was already there, or a newer one shown

    def __post_init__(self) -> None:
        if self.interval_s <= 0 or self.expires_s <= 0:
            raise ValueError("caption interval and expiry must be positive")

    def poll(self, *, seq: int, has_speech: bool, stream_s: float) -> bool:
        """Cheap, on every frame. The open utterance is `seq` (the number its final will get);
        `has_speech`: the segmenter heard speech in it; `stream_s`: the session's stream time.
        True when its speech seconds should be looked at (`request`)."""
        self._close_before(seq)
        if not has_speech:
            return False
        captions = self.open.get(seq)
        if captions is None:
            # Speech began at the latest now: at least interval_s of it takes that long.
            captions = UtteranceCaptions(next_look_s=stream_s + self.interval_s)
            self.open[seq] = captions
        return stream_s >= captions.next_look_s

    def request(
        self, *, seq: int, speech_s: float, stream_s: float, now: float, busy: bool = False
    ) -> PartialRequest | None:
        """After `poll` said so: the partial to send now, given `speech_s` seconds of speech in
        the open utterance, or None (too little new speech; or skipped: `busy`, or one still
        out)."""
        captions = self.open.get(seq)
        if captions is None:
            return None
        new_speech = speech_s - captions.last_speech_s
        if new_speech < self.interval_s:
            captions.next_look_s = stream_s + min(RECHECK_S, self.interval_s - new_speech)
            return None
        captions.due += 1
        captions.last_speech_s = speech_s
        captions.next_look_s = stream_s + self.interval_s
        if busy or (self.out is not None and now - self.out[2] < self.expires_s + ANSWER_GRACE_S):
            captions.skipped += 1
            return None
        self.out = None
        return PartialRequest(seq=seq, part=captions.due, src=captions.src)

    def sent(self, request: PartialRequest, now: float) -> None:
        """The request went out: its slot is taken until it is answered or expires."""
        self.out = (request.seq, request.part, now)
        captions = self.open.get(request.seq)
        if captions is not None:
            captions.sent += 1

    def declined(self, request: PartialRequest) -> None:
        """The dispatcher did not send it after all (finals waiting, the captions queue full):
        its slot is free again and it counts as skipped."""
        if self.out is not None and self.out[:2] == (request.seq, request.part):
            self.out = None
        captions = self.open.get(request.seq)
        if captions is not None:
            captions.sent -= 1
            captions.skipped += 1

    def accept(self, reply: PartialReply, *, final_arrived: bool) -> dict[str, Any] | None:
        """A worker's reply for a partial: the `partial` message to show, or None (skipped by
        the worker, or too late). `final_arrived`: the utterance's final is already there."""
        seq, part = reply.seq, reply.part
        if self.out is not None and self.out[:2] == (seq, part):
            self.out = None
        captions = self.open.get(seq)
        if reply.skipped:
            if captions is not None:
                captions.skipped += 1
            return None
        if final_arrived:
            self.shown.pop(seq, None)
            self.late += 1
            return None
        if part <= self.shown.get(seq, 0):
            self.late += 1
            return None
        self.shown[seq] = part
        if len(self.shown) > MAX_TRACKED:
            del self.shown[min(self.shown)]
        if captions is not None and captions.src is None:
            captions.src = reply.src
        return reply.partial

    def take_ended(self) -> list[tuple[int, dict[str, int]]]:
        """Counters of the utterances cut since the last call, as they stood at the cut:
        (seq, {due, sent, skipped}). Replies still out then are not in them; what was
        skipped overall is `due` minus the partials shown."""
        ended, self.ended = self.ended, []
        return ended

    def _close_before(self, seq: int) -> None:
        """Utterances before `seq` have been cut: no more partials are due for them."""
        for old in [s for s in self.open if s < seq]:
            captions = self.open.pop(old)
            if captions.due:
                self.ended.append((old, captions.summary()))


def partial_payload(
    *,
    seq: int,
    part: int,
    src: str,
    tgt: str,
    text: str,
    source_text: str | None,
    start_s: float,
    end_s: float,
    speech_s: float,
    timings: dict[str, float],
) -> dict[str, Any]:
    """The `partial` message a session shows provisionally until the final for `seq` comes
    (see docs/ARCHITECTURE.md). `start_s`/`end_s`: the audio it covers, in stream time."""
    return {
        "type": "partial",
        "seq": seq,
        "part": part,
        "src": src,
        "tgt": tgt,
        "text": text,
        "source_text": source_text or "",
        "start_s": round(start_s, 3),
        "end_s": round(end_s, 3),
        "speech_s": round(speech_s, 3),
        "timings": timings,
    }
