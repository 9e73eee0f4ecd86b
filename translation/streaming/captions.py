"""Live captions: when to ask for a partial translation of the utterance still being spoken,
and which partials may be shown. Pure state, no I/O: the consumer feeds it clock readings and
worker replies; `translation/streaming/caption_dispatch.py` sends the requests.

Rules, per session:
- a partial is due after `interval_s` of speech in the open utterance, then after each further
  `interval_s` of speech (the VAD's speech seconds: the silence that ends an utterance asks for
  nothing; a stalled stream neither); with `growth` > 0, after max(interval_s, growth × the
  speech at the last due partial), so a long utterance is re-read less often. `poll`, on
  every frame, only compares stream times; the speech seconds, which cost a copy of the
  audio, are read when `poll` says so;
- at most one partial is out at a time: a due tick while one is out is *skipped* (the workers
  are busy), as is one the dispatcher or worker turned down; a partial never answered (it
  expired in the queue) frees the slot after `expires_s` plus a grace period;
- a due tick is also skipped while the caller says the system is busy: the session's previous
  final has not come back yet, or the web tier's event loop runs late (LOOP_LAG_LIMIT_MS);
  finals and the audio ingest matter more than captions;
- a partial is shown only while its utterance has no final, and only if it is newer than the
  last partial shown for that utterance (replies can overtake each other across workers);
- local agreement (`LineAgreement`): the words two consecutive shown partials of an utterance
  agree on (the longest common word prefix of their source transcripts, and separately of
  their translations) are *committed*; every later partial of that utterance is rewritten to
  begin with them, and says how many of its leading characters are committed (`stable`).
  Committed words change only with the final, which replaces everything.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from translation.events import PartialReply
from translation.protocol.messages import PartialMessage, StablePrefix

logger = logging.getLogger(__name__)

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
class Agreed:
    """One line (source transcript or translation) of a partial as shown: its text and how
    many of its leading characters are committed."""

    text: str
    stable: int


def common_word_prefix(first: list[str], second: list[str]) -> int:
    """How many leading words two hypotheses share."""
    count = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        count += 1
    return count


@dataclass
class LineAgreement:
    """Local agreement over one line of one utterance. Each hypothesis (the model's whole
    text for the audio so far) is shown as the committed words followed by its own words after
    the committed ones' count; the committed words grow to what it and the previous hypothesis
    agree on, but only when it keeps them: a hypothesis that rewrites its start commits
    nothing new. Words are compared exactly (a changed comma or capital is a change)."""

    committed: list[str] = field(default_factory=list)
    previous: list[str] | None = None  # the last hypothesis's words, as the model said them
    rewrites: int = 0  # hypotheses that did not begin with the committed words

    def update(self, hypothesis: str) -> Agreed:
        words = hypothesis.split()
        held = len(self.committed)
        if words[:held] != self.committed:
            self.rewrites += 1
        elif self.previous is not None:
            agreed = common_word_prefix(self.previous, words)
            if agreed > held:
                self.committed = words[:agreed]
        self.previous = words
        shown = self.committed + words[len(self.committed) :]
        return Agreed(text=" ".join(shown), stable=len(" ".join(self.committed)))

    def contradicted_by(self, final: str) -> bool:
        """Whether a final text does not begin with the committed words."""
        return final.split()[: len(self.committed)] != self.committed


@dataclass
class UtteranceAgreement:
    """Local agreement of one utterance's partials: source transcript and translation."""

    source_text: LineAgreement = field(default_factory=LineAgreement)
    text: LineAgreement = field(default_factory=LineAgreement)

    def apply(self, partial: PartialMessage) -> PartialMessage:
        """The partial as shown: both lines rewritten to keep the committed words, `stable`
        set (see docs/ARCHITECTURE.md, the partial message)."""
        source = self.source_text.update(partial.source_text)
        text = self.text.update(partial.text)
        stable = StablePrefix(source_text=source.stable, text=text.stable)
        return partial.model_copy(
            update={"source_text": source.text, "text": text.text, "stable": stable}
        )

    def contradicted_by(self, *, source_text: str, text: str) -> bool:
        """Whether the final changes any committed word (of either line)."""
        return self.source_text.contradicted_by(source_text) or self.text.contradicted_by(text)

    @property
    def committed_words(self) -> int:
        return len(self.source_text.committed) + len(self.text.committed)


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
    open utterance's speech seconds; `sent`/`declined` after a dispatch attempt;
    `partial_to_show` for each reply from a worker."""

    interval_s: float
    expires_s: float
    growth: float = 0.0  # > 0: the next partial after max(interval_s, growth × speech so far)
    open: dict[int, UtteranceCaptions] = field(default_factory=dict)
    out: tuple[int, int, float] | None = None  # (seq, part, monotonic time sent)
    shown: dict[int, int] = field(default_factory=dict)  # seq → newest part shown
    ended: list[tuple[int, dict[str, int]]] = field(default_factory=list)
    late: int = 0  # replies dropped: their final was already there, or a newer one shown
    agreements: dict[int, UtteranceAgreement] = field(default_factory=dict)  # seq → its lines
    finals_after_commits: int = 0  # finals of utterances that had committed words ...
    finals_contradicting: int = 0  # ... and those of them that changed some

    def __post_init__(self) -> None:
        if self.interval_s <= 0 or self.expires_s <= 0:
            raise ValueError("caption interval and expiry must be positive")
        if self.growth < 0:
            raise ValueError("caption growth must not be negative")

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
        wanted = max(self.interval_s, self.growth * captions.last_speech_s)
        if new_speech < wanted:
            captions.next_look_s = stream_s + min(RECHECK_S, wanted - new_speech)
            return None
        captions.due += 1
        captions.last_speech_s = speech_s
        captions.next_look_s = stream_s + max(self.interval_s, self.growth * speech_s)
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

    def partial_to_show(self, reply: PartialReply, *, final_arrived: bool) -> PartialMessage | None:
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
            self.agreements.pop(seq, None)
            self.late += 1
            return None
        if part <= self.shown.get(seq, 0):
            self.late += 1
            return None
        partial = reply.partial
        if partial is None:
            return None
        self.shown[seq] = part
        if len(self.shown) > MAX_TRACKED:
            oldest = min(self.shown)
            del self.shown[oldest]
            self.agreements.pop(oldest, None)
        if captions is not None and captions.src is None:
            captions.src = reply.src
        return self.agreements.setdefault(seq, UtteranceAgreement()).apply(partial)

    def log_agreement(self, session_id: str) -> None:
        """At the session's end: how often a final contradicted committed caption words."""
        if self.finals_after_commits:
            logger.info(
                "session %s: %d of %d finals changed committed caption words",
                session_id,
                self.finals_contradicting,
                self.finals_after_commits,
            )

    def settle(self, seq: int, *, source_text: str, text: str) -> bool | None:
        """The final of `seq` came (it replaces every partial): whether it contradicted the
        committed words (None: nothing was committed). Counted in `finals_after_commits` and
        `finals_contradicting`."""
        agreement = self.agreements.pop(seq, None)
        self.shown.pop(seq, None)
        if agreement is None or not agreement.committed_words:
            return None
        contradicted = agreement.contradicted_by(source_text=source_text, text=text)
        self.finals_after_commits += 1
        self.finals_contradicting += contradicted
        return contradicted

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


def partial_message(
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
) -> PartialMessage:
    """The `partial` message a session shows provisionally until the final for `seq` comes
    (see docs/ARCHITECTURE.md), as a worker makes it: nothing committed yet (the session's
    `UtteranceAgreement` sets `stable`). `start_s`/`end_s`: the audio it covers, in stream
    time."""
    return PartialMessage(
        seq=seq,
        part=part,
        src=src,
        tgt=tgt,
        text=text,
        source_text=source_text or "",
        start_s=round(start_s, 3),
        end_s=round(end_s, 3),
        speech_s=round(speech_s, 3),
        timings=timings,
        stable=StablePrefix(source_text=0, text=0),
    )
