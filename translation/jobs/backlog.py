"""Readings of the translation backlog (`read_queue`, selector-like): what the history rows and
the workers' heartbeats say about the work waiting and the speed of the workers. Decisions are
made from them in `translation.jobs.capacity`.

- the finals waiting (status `queued`): their count, audio seconds and the oldest one's enqueue
  time (its row's `created_at`);
- the workers' rate: each live worker's calibrated rate (measured at start on a full batch,
  `workers/calibration.py`) until it has been busy most of the last RATE_WINDOW_S; then audio
  seconds translated per second of its busy time, from the rows it finished in that window
  (their audio over the union of their started → finished intervals, so rows a worker runs
  together in a batch are not counted twice), at most what its running rows allow, summed
  over the workers alive now;
- the speech share of a talking session (audio seconds its live utterances hold per second it
  has been talking, over the same window);
- (the live sessions open in the other web processes are the task backend's to count:
  `open_sessions_elsewhere`, a Redis key per process with a short TTL.)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from translation.jobs import liveness
from translation.models import Translation

RATE_WINDOW_S = 60.0
"""The rate and the speech share are measured over the rows of the last this many seconds."""
ROW_LOOKBACK_S = 900.0
"""Rows created longer ago than this are not read for the rate (keeps the query on the index)."""
MAX_RATE_ROWS = 2000
MIN_BUSY_S = 1.0
"""A worker's rate counts once it has been busy this long in the window (one short row is noise)."""
SATURATED_SHARE = 0.8
"""A worker busy this share of the window is at its capacity: its measured rate is the truth.
Less busy, it is measuring small batches (a fresh stack, a quiet hour), and its calibrated
rate (`liveness.calibrated_capacities`) says more about what it can carry."""


@dataclass(frozen=True)
class FinishedRow:
    """One row's part in the rate: which worker ran it, when (epoch seconds), how much audio."""

    worker: str
    started_at: float
    finished_at: float
    audio_s: float


@dataclass(frozen=True)
class QueueReading:
    """What the history rows say at `read_at` (epoch seconds)."""

    read_at: float
    queued: int
    queued_audio_s: float
    oldest_queued_at: float | None  # epoch seconds; None: nothing queued
    rate: float | None  # audio s per s, all live workers; None: not measured yet
    workers: int  # live workers with a measured rate
    speech_share: float | None  # audio s per s of a talking session; None: no one spoke
    talking_sessions: int  # sessions that stored live utterances in the window
    other_open_sessions: int = 0  # live sessions open in the other web processes
    live_workers: int | None = None  # worker processes beating now; None: cannot be told


@dataclass(frozen=True)
class RunningRow:
    """A row a worker is translating now: started at `started_at` (epoch seconds)."""

    worker: str
    started_at: float
    audio_s: float


def workers_rate(
    rows: Iterable[FinishedRow],
    alive: set[str] | None,
    *,
    running: Iterable[RunningRow] = (),
    now: float = 0.0,
    calibrated: Mapping[str, float] | None = None,
) -> tuple[float | None, int]:
    """Audio seconds per second, summed over the workers (those in `alive`; None: all, and
    those `calibrated`, alive by their heartbeat): each one's audio over the union of its
    finished rows' busy intervals (until it has been busy SATURATED_SHARE of the window, at
    least its calibrated rate), and at most what its running rows allow (their audio over
    the time since the first of them started: a worker still busy with 3 s of audio after
    10 s translates at most 0.3 s per second, whatever it did before; this bounds a worker
    that has not finished anything yet, and one that hangs). Returns (rate, workers)."""
    calibrated = calibrated or {}
    finished: dict[str, list[FinishedRow]] = {}
    for row in rows:
        if row.worker and (alive is None or row.worker in alive):
            finished.setdefault(row.worker, []).append(row)
    busy_now: dict[str, list[RunningRow]] = {}
    for run in running:
        if run.worker and (alive is None or run.worker in alive):
            busy_now.setdefault(run.worker, []).append(run)
    total, measured = 0.0, 0
    for worker in finished.keys() | busy_now.keys() | calibrated.keys():
        rates = []
        done = finished.get(worker, [])
        busy = _union_length((r.started_at, r.finished_at) for r in done)
        rate = sum(r.audio_s for r in done) / busy if busy >= MIN_BUSY_S else None
        known = calibrated.get(worker)
        if known is not None and busy < SATURATED_SHARE * RATE_WINDOW_S:
            rate = max(known, rate or 0.0)
        if rate is not None:
            rates.append(rate)
        current = busy_now.get(worker, [])
        if current:
            elapsed = now - min(r.started_at for r in current)
            if elapsed >= MIN_BUSY_S:
                rates.append(sum(r.audio_s for r in current) / elapsed)
        if rates:
            total += min(rates)
            measured += 1
    return (total if measured else None), measured


def _union_length(intervals: Iterable[tuple[float, float]]) -> float:
    length, end = 0.0, -math.inf
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        length += stop - max(start, end)
        end = stop
    return length


def read_queue(now: datetime | None = None) -> QueueReading:
    """The reading, from the history rows (three indexed queries) and the workers' heartbeats."""
    now = now or timezone.now()
    # Waiting = not answered yet: queued rows, and live rows a worker holds but has not finished
    # (a `--pool threads` worker takes up to WORKER_CONCURRENCY rows at once and they wait in
    # its batcher, so `running` alone says nothing about how far behind it is). A running upload
    # is left out: its age is its own length, not a backlog.
    waiting = Q(status=Translation.Status.QUEUED) | Q(
        status=Translation.Status.RUNNING, source=Translation.Source.LIVE
    )
    queued = Translation.objects.filter(waiting).aggregate(
        count=Count("id"), audio=Sum("duration_s"), oldest=Min("created_at")
    )
    window_start = now - timedelta(seconds=RATE_WINDOW_S)
    finished = [
        FinishedRow(worker, started.timestamp(), ended.timestamp(), audio or 0.0)
        for worker, started, ended, audio in Translation.objects.filter(
            created_at__gte=now - timedelta(seconds=ROW_LOOKBACK_S),
            status__in=Translation.TERMINAL,
            finished_at__gte=window_start,
            started_at__isnull=False,
        )
        .values_list("worker", "started_at", "finished_at", "duration_s")
        .order_by("-finished_at")[:MAX_RATE_ROWS]
        if started is not None and ended is not None
    ]
    running = [
        RunningRow(worker, started.timestamp(), audio or 0.0)
        for worker, started, audio in Translation.objects.filter(
            status=Translation.Status.RUNNING, started_at__isnull=False
        ).values_list("worker", "started_at", "duration_s")[:MAX_RATE_ROWS]
        if started is not None
    ]
    try:
        alive: set[str] | None = liveness.live_workers(
            [r.worker for r in finished] + [r.worker for r in running]
        )
        calibrated = liveness.calibrated_capacities()
        beating: int | None = liveness.live_worker_count()
    except liveness.LivenessUnknown:
        alive, calibrated = None, {}  # cannot tell: count every worker that finished something
        beating = None
    rate, workers = workers_rate(
        finished, alive, running=running, now=now.timestamp(), calibrated=calibrated
    )
    speech_share, talking = _speech_share(now, window_start)
    oldest = queued["oldest"]
    return QueueReading(
        read_at=now.timestamp(),
        queued=queued["count"],
        queued_audio_s=float(queued["audio"] or 0.0),
        oldest_queued_at=oldest.timestamp() if oldest is not None else None,
        rate=rate,
        workers=workers,
        speech_share=speech_share,
        talking_sessions=talking,
        live_workers=beating,
    )


def _speech_share(now: datetime, window_start: datetime) -> tuple[float | None, int]:
    """Audio seconds per second of talking, over the live sessions that stored utterances in the
    window (each talking since about its first utterance's start), and how many those are."""
    sessions = (
        Translation.objects.filter(source=Translation.Source.LIVE, created_at__gte=window_start)
        .exclude(session_id="")
        .values("session_id")
        .annotate(audio=Sum("duration_s"), first=Min("created_at"), longest=Max("duration_s"))
    )
    audio_s = talking_s = 0.0
    count = 0
    for session in sessions:
        audio = float(session["audio"] or 0.0)
        began = max(window_start, session["first"] - timedelta(seconds=session["longest"] or 0))
        audio_s += audio
        talking_s += max(audio, (now - began).total_seconds())
        count += 1
    return (audio_s / talking_s if talking_s > 0 else None), count
