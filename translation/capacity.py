"""How far behind the translation workers are, and what the web tier does about it (overload).

One home for the overload rules (docs/RUNBOOK.md "Overload"):

- **Readings** (`read_queue`, a selector over the history rows): the finals waiting (status
  `queued`: their count, audio seconds and the oldest one's enqueue time), the workers' measured
  rate (audio seconds translated per second of a worker's busy time, from the rows each live
  worker finished in the last RATE_WINDOW_S: its rows' audio over the union of their
  started → finished intervals, so rows a worker runs together in a batch are not counted
  twice; at most what its running rows allow; summed over the workers alive now) and the
  speech share of a talking session (audio seconds its live utterances hold per second it has
  been talking, over the same window).
- **Assessment** (`assess`, pure, the clock passed in): the lag is the larger of the oldest
  queued final's age and the projected lag (queued audio / rate). Above CAPTIONS_SHED_LAG_S no
  partials are sent; above MAX_QUEUE_LAG_S the sessions are told `busy`.
- **Admission** (`Capacity.refusal`): a new session is refused (close code 1013) while the
  workers are busy, or when the sessions open (in every web process: each publishes its count
  in Redis with each refresh, `share_open_sessions`) would, with the new one, ask for more than
  ADMISSION_MAX_LOAD of the measured rate; each session asks for the measured speech share
  (SESSION_SPEECH_SHARE until measured). An admitted session is never cut off: its
  utterances are all answered, late ones with a `busy` status first. A web process whose event
  loop has run late for seconds (ADMISSION_MAX_LOOP_LAG_MS: frames wait to be read, the web
  tier itself is full) refuses new sessions too.
- **Monitor** (`CapacityMonitor`, one per web process): the latest reading, cached; a stale one
  is refreshed on a thread of its own, never on the event loop, at most every
  CAPACITY_REFRESH_S.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Count, Max, Min, Sum
from django.utils import timezone

from translation import liveness
from translation.broker import broker_redis
from translation.models import Translation
from translation.protocol import CapacityStatus

logger = logging.getLogger(__name__)

RATE_WINDOW_S = 60.0
"""The rate and the speech share are measured over the rows of the last this many seconds."""
ROW_LOOKBACK_S = 900.0
"""Rows created longer ago than this are not read for the rate (keeps the query on the index)."""
MAX_RATE_ROWS = 2000
MIN_BUSY_S = 1.0
"""A worker's rate counts once it has been busy this long in the window (one short row is noise)."""
FRESH_WAIT_S = 2.0
"""The most a new session waits for a fresh reading before the last one decides."""
LOOP_LAG_SECONDS = 3
"""The web loop must have been late in each of the last this many seconds to refuse anyone."""
STALE_AFTER_S = 10.0
"""A reading older than this (the database unreachable) is not acted on: no one is refused."""


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


@dataclass(frozen=True)
class Limits:
    max_lag_s: float
    captions_shed_lag_s: float
    max_load: float
    speech_share: float  # audio s per s a talking session asks for, until it is measured
    max_loop_lag_ms: float = math.inf  # a web loop late by more for seconds admits no one

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            max_lag_s=settings.MAX_QUEUE_LAG_S,
            captions_shed_lag_s=settings.CAPTIONS_SHED_LAG_S,
            max_load=settings.ADMISSION_MAX_LOAD,
            speech_share=settings.SESSION_SPEECH_SHARE,
            max_loop_lag_ms=settings.ADMISSION_MAX_LOOP_LAG_MS,
        )


@dataclass(frozen=True)
class Refusal:
    """Why a new session (or upload) is turned away, and when to try again."""

    reason: str
    retry_after_s: int


@dataclass(frozen=True)
class Capacity:
    """The assessment of one reading at one moment."""

    lag_s: float
    queued: int
    rate: float | None
    busy: bool  # lag over MAX_QUEUE_LAG_S: sessions are told
    shed_captions: bool  # lag over CAPTIONS_SHED_LAG_S: no partials
    load: float | None  # the open sessions' demand and one more session's, over the rate
    max_load: float
    known: bool = True  # False: no recent reading (nothing is refused on a guess)
    loop_lag_ms: float = 0.0  # how late this web process's event loop has run, sustained
    max_loop_lag_ms: float = math.inf

    @property
    def full(self) -> bool:
        return self.load is not None and self.load > self.max_load

    def refusal(self) -> Refusal | None:
        """Why a new session would be refused now, or None: it is admitted."""
        if self.busy:
            return Refusal(
                f"translator busy: translations are {self.lag_s:.0f} s behind; "
                "try again in a minute",
                retry_after_s=max(5, math.ceil(self.lag_s)),
            )
        if self.loop_lag_ms > self.max_loop_lag_ms:
            return Refusal(
                f"translator full: this web server is overloaded (audio waits "
                f"{self.loop_lag_ms:.0f} ms to be read); try again in a minute",
                retry_after_s=30,
            )
        if self.full:
            return Refusal(
                "translator full: the workers cannot take another live session now; "
                "try again in a minute",
                retry_after_s=30,
            )
        return None


UNKNOWN = Capacity(
    lag_s=0.0,
    queued=0,
    rate=None,
    busy=False,
    shed_captions=False,
    load=None,
    max_load=1.0,
    known=False,
)


def assess(
    reading: QueueReading | None,
    *,
    now: float,
    open_sessions: int,
    limits: Limits,
    loop_lag_ms: float = 0.0,
) -> Capacity:
    """The lag, the shedding and the admission verdict of `reading` at `now` (epoch seconds),
    with `open_sessions` live sessions admitted by this web process (and the reading's
    `other_open_sessions` by the others)."""
    if reading is None or now - reading.read_at > STALE_AFTER_S:
        return replace(UNKNOWN, loop_lag_ms=loop_lag_ms, max_loop_lag_ms=limits.max_loop_lag_ms)
    age = 0.0 if reading.oldest_queued_at is None else max(0.0, now - reading.oldest_queued_at)
    projected = reading.queued_audio_s / reading.rate if reading.rate else 0.0
    lag = round(max(age, projected), 1)  # as told: the decisions agree with the number sent
    load = None
    if reading.rate:
        per_session = limits.speech_share if reading.speech_share is None else reading.speech_share
        sessions = open_sessions + reading.other_open_sessions
        load = (sessions + 1) * per_session / reading.rate
    return Capacity(
        lag_s=lag,
        queued=reading.queued,
        rate=reading.rate,
        busy=lag > limits.max_lag_s,
        shed_captions=lag > limits.captions_shed_lag_s,
        load=None if load is None else round(load, 3),
        max_load=limits.max_load,
        loop_lag_ms=loop_lag_ms,
        max_loop_lag_ms=limits.max_loop_lag_ms,
    )


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
) -> tuple[float | None, int]:
    """Audio seconds per second, summed over the workers (those in `alive`; None: all): each
    one's audio over the union of its finished rows' busy intervals, and at most what its
    running rows allow (their audio over the time since the first of them started: a worker
    still busy with 3 s of audio after 10 s translates at most 0.3 s per second, whatever it
    did before; this bounds a worker that has not finished anything yet, and one that hangs).
    Returns (rate, workers measured)."""
    finished: dict[str, list[FinishedRow]] = {}
    for row in rows:
        if row.worker and (alive is None or row.worker in alive):
            finished.setdefault(row.worker, []).append(row)
    busy_now: dict[str, list[RunningRow]] = {}
    for run in running:
        if run.worker and (alive is None or run.worker in alive):
            busy_now.setdefault(run.worker, []).append(run)
    total, measured = 0.0, 0
    for worker in finished.keys() | busy_now.keys():
        rates = []
        done = finished.get(worker, [])
        busy = _union_length((r.started_at, r.finished_at) for r in done)
        if busy >= MIN_BUSY_S:
            rates.append(sum(r.audio_s for r in done) / busy)
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
    queued = Translation.objects.filter(status=Translation.Status.QUEUED).aggregate(
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
    except liveness.LivenessUnknown:
        alive = None  # cannot tell: count every worker that finished something
    rate, workers = workers_rate(finished, alive, running=running, now=now.timestamp())
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
    )


OPEN_SESSIONS_KEY = "rutrans:open-sessions:"
OPEN_SESSIONS_TTL_S = 5


def share_open_sessions(process: str, count: int) -> int:
    """Publish this web process's open live sessions (a Redis key with a short TTL, so a
    process that dies stops counting) and return the other processes' total. Embedded (one
    process, no Redis): 0."""
    if settings.EMBEDDED:
        return 0
    client = broker_redis()
    client.set(OPEN_SESSIONS_KEY + process, count, ex=OPEN_SESSIONS_TTL_S)
    mine = (OPEN_SESSIONS_KEY + process).encode()
    others = [key for key in client.scan_iter(OPEN_SESSIONS_KEY + "*", count=100) if key != mine]
    values = client.mget(others) if others else []
    return sum(int(value) for value in values if value is not None)


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


class CapacityMonitor:
    """The web process's view of the workers' backlog: a cached reading, refreshed on a thread
    of its own when older than `refresh_s` (never a database call on the event loop), and the
    count of live sessions this process admitted."""

    def __init__(
        self,
        *,
        read: Callable[[], QueueReading] | None = None,
        clock: Callable[[], float] = time.time,
        refresh_s: float | None = None,
        limits: Limits | None = None,
    ) -> None:
        self._read = read or self._read_and_share
        self._clock = clock
        self._refresh_s = refresh_s
        self._limits = limits
        self._reading: QueueReading | None = None
        self._refreshing: Future | None = None
        self._lock = threading.Lock()
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rutrans-capacity")
        self.open_sessions = 0
        self._loop_lag: dict[int, float] = {}  # the worst loop lag (ms) per second of the clock

    def _read_and_share(self) -> QueueReading:
        """The history's reading, with the other web processes' open sessions (ours shared)."""
        reading = read_queue()
        try:
            others = share_open_sessions(liveness.BOOT_ID, self.open_sessions)
        except Exception as exc:  # noqa: BLE001 - Redis down: count our own sessions only
            logger.warning("capacity: open sessions not shared: %s: %s", type(exc).__name__, exc)
            others = 0
        return replace(reading, other_open_sessions=others)

    @property
    def limits(self) -> Limits:
        return self._limits or Limits.from_settings()

    @property
    def refresh_s(self) -> float:
        return settings.CAPACITY_REFRESH_S if self._refresh_s is None else self._refresh_s

    def snapshot(self) -> Capacity:
        """The assessment of the cached reading now; a stale reading starts a refresh in the
        background (its result is seen by a later call). Cheap: no I/O."""
        self._refresh_if_stale()
        return self._assess()

    async def fresh(self) -> Capacity:
        """The assessment of a reading at most `refresh_s` old (awaits a refresh if needed, at
        most FRESH_WAIT_S: a database that hangs does not hold a session's start)."""
        future = self._refresh_if_stale()
        if future is not None:
            try:
                await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), FRESH_WAIT_S)
            except Exception:  # noqa: BLE001 - logged by the reader; the last reading stands
                pass
        return self._assess()

    def fresh_sync(self) -> Capacity:
        """`fresh` for synchronous callers (a REST view's thread): a stale reading is re-read
        on the caller's thread and connection."""
        reading = self._reading
        if reading is None or self._clock() - reading.read_at >= self.refresh_s:
            try:
                self._reading = self._read()
            except Exception as exc:  # noqa: BLE001 - the last reading stands (or none)
                logger.warning("capacity: queue not readable: %s: %s", type(exc).__name__, exc)
        return self._assess()

    def note_loop_lag(self, lag_ms: float) -> None:
        """How late the event loop woke a session's watchdog (every session reports it)."""
        second = int(self._clock())
        if lag_ms > self._loop_lag.get(second, 0.0):
            self._loop_lag[second] = lag_ms
        if len(self._loop_lag) > LOOP_LAG_SECONDS + 2:
            for old in [s for s in self._loop_lag if s < second - LOOP_LAG_SECONDS]:
                del self._loop_lag[old]

    def sustained_loop_lag_ms(self) -> float:
        """The least of the worst loop lags of the last LOOP_LAG_SECONDS full seconds: high
        only when the loop has been late all that time (not for one garbage collection)."""
        second = int(self._clock())
        return min(self._loop_lag.get(second - i, 0.0) for i in range(1, LOOP_LAG_SECONDS + 1))

    def _assess(self) -> Capacity:
        return assess(
            self._reading,
            now=self._clock(),
            open_sessions=self.open_sessions,
            limits=self.limits,
            loop_lag_ms=self.sustained_loop_lag_ms(),
        )

    def _refresh_if_stale(self) -> Future | None:
        with self._lock:
            if self._refreshing is not None and not self._refreshing.done():
                return self._refreshing
            reading = self._reading
            if reading is not None and self._clock() - reading.read_at < self.refresh_s:
                return None
            self._refreshing = self._reader.submit(self._refresh)
            return self._refreshing

    def _refresh(self) -> None:
        close_old_connections()
        try:
            self._reading = self._read()
        except Exception as exc:
            logger.warning("capacity: queue not readable: %s: %s", type(exc).__name__, exc)
            raise
        finally:
            close_old_connections()


monitor = CapacityMonitor()
"""This web process's monitor (consumers, the upload API, the admin)."""


@dataclass
class OverloadNotices:
    """Per live session: which capacity statuses to send, and when (pure; the clock is passed
    in). `busy` when the lag goes over the limit, again every `repeat_s` while the lag has moved
    by a second or more, `clear` once it is back under."""

    repeat_s: float = 2.0
    _busy_since: float | None = None
    _told_at: float = 0.0
    _told_lag: float = 0.0

    def update(self, capacity: Capacity, now: float) -> str | None:
        """'busy', 'clear' or None (nothing to say now)."""
        if capacity.busy:
            if self._busy_since is None:
                self._busy_since = now
            elif now - self._told_at < self.repeat_s or abs(capacity.lag_s - self._told_lag) < 1:
                return None
            self._told_at, self._told_lag = now, capacity.lag_s
            return "busy"
        if self._busy_since is not None and capacity.known:
            self._busy_since = None
            return "clear"
        return None


def status_for(state: str, capacity: Capacity, refusal: Refusal | None = None) -> CapacityStatus:
    """The protocol's status message for `state` ('busy', 'clear' or 'refused')."""
    if refusal is not None:
        message = refusal.reason
    elif state == "busy":
        message = (
            f"translations are {capacity.lag_s:.0f} s behind; every utterance is still "
            "answered, later than usual"
        )
    else:
        message = "the translators have caught up"
    return CapacityStatus(
        state=state,  # type: ignore[arg-type]
        lag_s=capacity.lag_s,
        queued=capacity.queued,
        captions_paused=capacity.shed_captions,
        retry_after_s=refusal.retry_after_s if refusal is not None else None,
        message=message,
    )
