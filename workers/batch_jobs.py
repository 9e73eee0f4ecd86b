"""The batcher's vocabulary (`workers/batcher.py`): the lanes work is taken in, the limits an
operator sets per device (`workers/runtime.py`), and what each model call reports."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal


class Lane(IntEnum):
    """Who goes first (lower first); within a lane, the older utterance."""

    LIVE = 0
    LONG = 1
    PARTIAL = 2


@dataclass(eq=False)
class Job:
    """One piece of model work and its caller's Future, taken in order of `key`."""

    lane: Lane
    order: int  # the sentence's index for speech; 0 for a translation
    arrival: float  # when its utterance reached the worker
    queued_at: float
    number: int
    future: Future = field(default_factory=Future)

    @property
    def key(self) -> tuple[int, int, float, int]:
        return (self.lane, self.order, self.arrival, self.number)


@dataclass(frozen=True)
class BatchReport:
    """What one model call did, for whoever measures the worker's rate (the `on_batch`
    hook): `audio_s` of input speech translated, or of output speech synthesized, in
    `busy_s` seconds of the model thread (`translate`) or of a speech thread (`speak`)."""

    kind: Literal["translate", "speak"]
    rows: int
    partials: int
    audio_s: float
    busy_s: float
    waited_s: float  # the oldest job's time in the batcher's queue


@dataclass(frozen=True)
class BatchLimits:
    max_items: int
    wait_s: float
    max_audio_s: float
    # Partials may fill a batch's free rows beside finals only where a row costs the batch no
    # time (a GPU below its knee); on a CPU each row adds compute, so partials run one at a
    # time when no final waits (a final that comes meanwhile waits for one partial at most).
    partials_with_finals: bool = True
    # The most a task thread waits for its answer: a threads pool does not enforce Celery's
    # task time limit, so a stuck model call would otherwise hold every task thread for ever.
    answer_within_s: float = 1800.0

    def __post_init__(self) -> None:
        if self.max_items < 1:
            raise ValueError(f"BATCH_MAX={self.max_items}: must be 1 or more")
        if self.wait_s < 0:
            raise ValueError(f"BATCH_WAIT_MS={self.wait_s * 1000:.0f}: must be 0 or more")
        if self.max_audio_s <= 0:
            raise ValueError(f"BATCH_MAX_AUDIO_S={self.max_audio_s}: must be above 0")
        if self.answer_within_s <= 0:
            raise ValueError(f"answer_within_s={self.answer_within_s}: must be above 0")
