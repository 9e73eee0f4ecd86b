"""How far behind the translation workers are, and what the web tier does about it (overload).

One home for the overload rules (docs/RUNBOOK.md "Overload"):

- **Readings** (`translation.jobs.backlog`): the finals waiting, the workers' measured rate,
  a talking session's speech share, the sessions open in the other web processes.
- **Assessment** (`assess`, pure, the clock passed in): the lag is the larger of the oldest
  queued final's age and the projected lag (queued audio / rate). Above CAPTIONS_SHED_LAG_S no
  partials are sent; above MAX_QUEUE_LAG_S the sessions are told `busy`.
- **Admission** (`Capacity.refusal`): a new session is refused (close code 1013) while the
  workers are busy, or when the sessions open (in every web process: each publishes its count
  with each refresh, the task backend's `open_sessions_elsewhere`) would, with the new one, ask
  for more than ADMISSION_MAX_LOAD of the measured rate; each session asks for the measured
  speech share (SESSION_SPEECH_SHARE until measured). An admitted session is never cut off: its
  utterances are all answered, late ones with a `busy` status first. A web process whose event
  loop has run late for seconds (ADMISSION_MAX_LOOP_LAG_MS: frames wait to be read, the web tier
  itself is full) refuses new sessions too, and so does one whose event-loop thread, with one
  more session like its open ones, would use more than ADMISSION_MAX_LOOP_CPU of a core (each
  live session's ingest costs that thread CPU; past one core every session falls behind at once,
  before the loop looks late).
- **Monitor** (`CapacityMonitor`, one per web process): the latest reading, cached; a stale one
  is refreshed on a thread of its own, never on the event loop, at most every
  CAPACITY_REFRESH_S. What a live session is told: `translation.streaming.overload`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

from django.conf import settings
from django.db import close_old_connections

from translation import metrics
from translation.backend import task_backend
from translation.jobs import liveness
from translation.jobs.backlog import QueueReading, read_queue

logger = logging.getLogger(__name__)

FRESH_WAIT_S = 2.0
"""The most a new session waits for a fresh reading before the last one decides."""
LOOP_LAG_SECONDS = 3
"""The web loop must have been late in each of the last this many seconds to refuse anyone."""
LOOP_CPU_WINDOW_S = 3.0
"""The event loop's CPU share is measured over about this long."""
LOOP_CPU_PER_SESSION_MAX = 0.05
"""The most of a core one more live session is assumed to cost the event loop (a talker in
real time costs ~0.02: docs/PERFORMANCE.md, *Quiet machine, before / after, and the web
tier's ingest*)."""
STALE_AFTER_S = 10.0
"""A reading older than this (the database unreachable) is not acted on: no one is refused."""


@dataclass(frozen=True)
class Limits:
    max_lag_s: float
    captions_shed_lag_s: float
    max_load: float
    speech_share: float  # audio s per s a talking session asks for, until it is measured
    max_loop_lag_ms: float = math.inf  # a web loop late by more for seconds admits no one
    max_loop_cpu: float = math.inf  # share of a core the loop may use with one more session

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            max_lag_s=settings.MAX_QUEUE_LAG_S,
            captions_shed_lag_s=settings.CAPTIONS_SHED_LAG_S,
            max_load=settings.ADMISSION_MAX_LOAD,
            speech_share=settings.SESSION_SPEECH_SHARE,
            max_loop_lag_ms=settings.ADMISSION_MAX_LOOP_LAG_MS,
            max_loop_cpu=settings.ADMISSION_MAX_LOOP_CPU,
        )


@dataclass(frozen=True)
class Refusal:
    """Why a new session (or upload) is turned away, and when to try again."""

    reason: str
    retry_after_s: int
    code: str = "full"  # the metrics' label (translation/metrics.py REFUSAL_REASONS)


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
    loop_cpu: float = 0.0  # share of a core this process's event loop would use with one more
    max_loop_cpu: float = math.inf
    no_worker: bool = False  # no worker process beats: nothing consumes the queue (told `busy`)

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
                code="busy",
            )
        if self.loop_lag_ms > self.max_loop_lag_ms:
            return Refusal(
                f"translator full: this web server is overloaded (audio waits "
                f"{self.loop_lag_ms:.0f} ms to be read); try again in a minute",
                retry_after_s=30,
                code="web_loop_lag",
            )
        if self.loop_cpu > self.max_loop_cpu:
            return Refusal(
                f"translator full: this web server's live sessions would use "
                f"{self.loop_cpu:.0%} of its processor; try again in a minute",
                retry_after_s=30,
                code="web_loop_cpu",
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
    loop_cpu: float = 0.0,
) -> Capacity:
    """The lag, the shedding and the admission verdict of `reading` at `now` (epoch seconds),
    with `open_sessions` live sessions admitted by this web process (and the reading's
    `other_open_sessions` by the others), whose event loop used `loop_cpu` of a core."""
    # One more session costs the loop what an open one does on average, at most what a talker
    # streaming in real time costs with room to spare (a client that sent a recording as fast
    # as it could does not make every newcomer look expensive).
    per_session = min(loop_cpu / open_sessions, LOOP_CPU_PER_SESSION_MAX) if open_sessions else 0.0
    cpu_with_one_more = loop_cpu + per_session if open_sessions else 0.0
    web = replace(
        UNKNOWN,
        loop_lag_ms=loop_lag_ms,
        max_loop_lag_ms=limits.max_loop_lag_ms,
        loop_cpu=round(cpu_with_one_more, 3),
        max_loop_cpu=limits.max_loop_cpu,
    )
    if reading is None or now - reading.read_at > STALE_AFTER_S:
        return web
    age = 0.0 if reading.oldest_queued_at is None else max(0.0, now - reading.oldest_queued_at)
    projected = reading.queued_audio_s / reading.rate if reading.rate else 0.0
    lag = round(max(age, projected), 1)  # as told: the decisions agree with the number sent
    load = None
    if reading.rate:
        per_session = limits.speech_share if reading.speech_share is None else reading.speech_share
        sessions = open_sessions + reading.other_open_sessions
        load = (sessions + 1) * per_session / reading.rate
    return replace(
        web,
        lag_s=lag,
        queued=reading.queued,
        rate=reading.rate,
        busy=lag > limits.max_lag_s,
        shed_captions=lag > limits.captions_shed_lag_s,
        load=None if load is None else round(load, 3),
        max_load=limits.max_load,
        known=True,
        no_worker=reading.live_workers == 0,
    )


class CapacityMonitor:
    """The web process's view of the workers' backlog: a cached reading, refreshed on a thread
    of its own when older than `refresh_s` (never a database call on the event loop), and the
    count of live sessions this process admitted."""

    def __init__(
        self,
        *,
        read: Callable[[], QueueReading] | None = None,
        clock: Callable[[], float] = time.time,
        cpu_clock: Callable[[], float] = time.thread_time,
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
        self._cpu_clock = cpu_clock  # read on the event loop's thread: that thread's CPU time
        self._loop_cpu: deque[tuple[float, float]] = deque()  # (clock, loop thread CPU s)

    def _read_and_share(self) -> QueueReading:
        """The history's reading, with the other web processes' open sessions (ours shared)."""
        reading = read_queue()
        try:
            others = task_backend().open_sessions_elsewhere(liveness.BOOT_ID, self.open_sessions)
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

    def admit(self) -> None:
        """One more live session admitted by this process (counted; it leaves by
        `open_sessions -= 1`)."""
        self.open_sessions += 1
        metrics.SESSIONS_ADMITTED.inc()

    def note_loop_lag(self, lag_ms: float) -> None:
        """How late the event loop woke a session's watchdog (every session reports it)."""
        second = int(self._clock())
        if lag_ms > self._loop_lag.get(second, 0.0):
            self._loop_lag[second] = lag_ms
        if len(self._loop_lag) > LOOP_LAG_SECONDS + 2:
            for old in [s for s in self._loop_lag if s < second - LOOP_LAG_SECONDS]:
                del self._loop_lag[old]
        self._note_loop_cpu()

    def _note_loop_cpu(self) -> None:
        """A sample of the loop thread's CPU time, at most every half second (called on it)."""
        now, samples = self._clock(), self._loop_cpu
        if samples and now - samples[-1][0] < 0.5:
            return
        samples.append((now, self._cpu_clock()))
        while len(samples) > 2 and now - samples[1][0] >= LOOP_CPU_WINDOW_S:
            samples.popleft()

    def loop_cpu(self) -> float:
        """The share of one core the event loop's thread used over the last LOOP_CPU_WINDOW_S
        (0 until sampled; a loop no watchdog reports on is idle)."""
        samples = self._loop_cpu
        if len(samples) < 2 or self._clock() - samples[-1][0] > LOOP_CPU_WINDOW_S:
            return 0.0
        (began, cpu_began), (ended, cpu_ended) = samples[0], samples[-1]
        return (cpu_ended - cpu_began) / (ended - began) if ended > began else 0.0

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
            loop_cpu=self.loop_cpu(),
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


def counted_refusal(backlog: Capacity) -> Refusal | None:
    """`backlog.refusal()` for a session asking to start, the refusal counted by its reason."""
    refusal = backlog.refusal()
    if refusal is not None:
        metrics.SESSIONS_REFUSED.labels(reason=refusal.code).inc()
    return refusal


monitor = CapacityMonitor()
"""This web process's monitor (consumers, the upload API, the admin)."""


def _publish_backlog() -> None:
    """The queue's readings for a scrape of this web process (at most one read per
    CAPACITY_REFRESH_S, on the scrape's thread: an idle process's reading is stale)."""
    backlog = monitor.fresh_sync()
    metrics.QUEUE_LAG.set(backlog.lag_s)
    metrics.QUEUE_WAITING.set(backlog.queued)
    metrics.WORKERS_RATE.set(math.nan if backlog.rate is None else backlog.rate)


metrics.OPEN_SESSIONS.set_function(lambda: monitor.open_sessions)
metrics.on_scrape(_publish_backlog)
