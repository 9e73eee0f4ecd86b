"""What the soak samples while it runs, and the thresholds it holds them to.

Every `period` seconds, per stack process (Daphne web, Celery worker): RSS, open descriptors
(/proc/PID/fd), threads (/proc/PID/status); for the services: Redis `used_memory` (INFO memory
of the stack's own redis-server) and the PostgreSQL connections to the stack's database
(pg_stat_activity). Lag is recorded per answered utterance by the talkers (`LagPoint`). A leak
shows as growth from the end of the warm-up to the end of the run; a plateau (allocator and
pool warm-up) does not, so the baseline is taken after the warm-up.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

RSS_GROWTH_LIMIT = 0.10  # fraction, warm-up window → end window
FD_SLACK = 8  # descriptors more than the warm-up window's (sockets come and go with sessions)
THREAD_SLACK = 4  # threads more than the warm-up window's
IDLE_FD_SLACK = 4  # descriptors with no session open: the end's over the warm-up's
SESSION_PROCESSES = ("web",)  # hold the sessions' sockets: back to the warm idle count
PG_SLACK = 3  # connections over the warm-up window's most
REDIS_GROWTH_LIMIT_MB = 4.0  # Redis used_memory, warm-up window → end window
PROCESS_FIELDS = ("rss_mb", "fds", "threads")


def rss_mb(pid: int) -> float | None:
    """Resident set size of a process in MB (None when it is gone)."""
    value = _status_field(pid, "VmRSS:")
    return value / 1024.0 if value is not None else None


def threads(pid: int) -> int | None:
    value = _status_field(pid, "Threads:")
    return int(value) if value is not None else None


def open_fds(pid: int) -> int | None:
    try:
        return sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return None


def _status_field(pid: int, name: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name):
                return float(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class LagPoint:
    """One answered utterance: when its result arrived (s since the soak began), the client's
    flush → result time and the server's own figures (None where a result has none)."""

    t: float
    client_ms: float
    queue_ms: float | None  # worker: submitted → started
    total_ms: float | None  # worker: the whole job
    loop_lag_ms: float | None  # web: worst event-loop delay while it was spoken


@dataclass
class Sampler:
    """Samples the stack's processes and services into `rows` (one dict per sample)."""

    pids: dict[str, int]
    redis_url: str
    database_name: str
    admin_url: str
    t0: float = field(default_factory=time.monotonic)
    rows: list[dict] = field(default_factory=list)
    lags: list[LagPoint] = field(default_factory=list)
    open_sessions: int = 0
    sessions_opened: int = 0

    def sample(self, idle: str = "") -> dict:
        """One row; `idle` names a moment with no session open ("start", "warm", "end")."""
        row: dict = {"t": round(time.monotonic() - self.t0, 1), "idle": idle}
        for name, pid in self.pids.items():
            rss = rss_mb(pid)
            row[f"{name}_rss_mb"] = round(rss, 1) if rss is not None else None
            row[f"{name}_fds"] = open_fds(pid)
            row[f"{name}_threads"] = threads(pid)
        row["redis_used_mb"] = self._redis_used_mb()
        row["pg_connections"] = self._pg_connections()
        row["open_sessions"] = self.open_sessions
        row["sessions_opened"] = self.sessions_opened
        self.rows.append(row)
        return row

    def _redis_used_mb(self) -> float | None:
        import redis

        try:
            client = redis.Redis.from_url(self.redis_url, socket_timeout=3)
            try:
                return round(int(client.info("memory")["used_memory"]) / 2**20, 3)
            finally:
                client.close()
        except redis.RedisError:
            return None

    def _pg_connections(self) -> int | None:
        import psycopg

        try:
            with psycopg.connect(self.admin_url, connect_timeout=3, autocommit=True) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                    (self.database_name,),
                ).fetchone()
                return int(row[0]) if row else None
        except psycopg.Error:
            return None

    async def run(self, period: float) -> None:
        """Samples until cancelled (in a thread: the services' round trips block)."""
        while True:
            await asyncio.to_thread(self.sample)
            await asyncio.sleep(period)


def _values(rows: list[dict], key: str, start: float, end: float) -> list[float]:
    return [r[key] for r in rows if start <= r["t"] <= end and r.get(key) is not None]


def summarize(
    rows: list[dict], names: list[str], *, warmup_s: float, window_s: float, end_s: float
) -> dict:
    """Per metric: the warm-up window's median (window_s from when the talk resumed after the
    warm idle pause, half a window on, so the ramp is out of it), the end
    window's median (the last window_s of talk), peak, growth. `idle_*` are the samples taken
    with no session open: before any talker, after the warm-up's sessions all closed (a pause
    of a few seconds), after every session closed at the end."""
    keys = [f"{n}_{f}" for n in names for f in PROCESS_FIELDS]
    keys += ["redis_used_mb", "pg_connections", "open_sessions"]
    resumed = next((r["t"] for r in rows if r.get("idle") == "warm"), warmup_s)
    base_from = resumed + window_s / 2
    out: dict = {"baseline_from_s": base_from}
    for key in keys:
        series = [r[key] for r in rows if r.get(key) is not None]
        base = _values(rows, key, base_from, base_from + window_s)
        last = _values(rows, key, end_s - window_s, end_s)
        after, end = (
            (statistics.median(base) if base else None),
            (statistics.median(last) if last else None),
        )
        idle = {r["idle"]: r.get(key) for r in rows if r.get("idle")}
        out[key] = {
            "idle_start": idle.get("start"),
            "idle_warm": idle.get("warm"),
            "after_warmup": after,
            "end": end,
            "idle_end": idle.get("end"),
            "peak": max(series, default=None),
            "warmup_max": max(base, default=None),
            "end_max": max(last, default=None),
            "growth": round(end - after, 3) if after is not None and end is not None else None,
            "growth_pct": round(100 * (end - after) / after, 2) if after and end else None,
        }
    return out


def metric_failures(metrics: dict, names: list[str]) -> list[str]:
    """The thresholds: what grew from the end of the warm-up to the end (empty: none)."""
    problems = []
    for name in names:
        rss = metrics[f"{name}_rss_mb"]
        if rss["growth_pct"] is None or rss["growth_pct"] >= 100 * RSS_GROWTH_LIMIT:
            problems.append(f"{name} RSS grew {rss['growth_pct']} % after warm-up ({rss})")
        for kind, slack in (("fds", FD_SLACK), ("threads", THREAD_SLACK)):
            f = metrics[f"{name}_{kind}"]
            if f["growth"] is None or f["growth"] > slack:
                problems.append(f"{name} {kind} grew by {f['growth']} after warm-up ({f})")
            # A worker's pools are sized by the load it had; the web's sockets are per session.
            idle_slack = IDLE_FD_SLACK if kind == "fds" else THREAD_SLACK
            if name in SESSION_PROCESSES and (
                f["idle_end"] is None or f["idle_end"] > f["idle_warm"] + idle_slack
            ):
                problems.append(
                    f"{name} holds {f['idle_end']} {kind} with no session open at the end, "
                    f"{f['idle_warm']} after the warm-up"
                )
    pg = metrics["pg_connections"]
    if pg["end_max"] is None or pg["end_max"] > (pg["warmup_max"] or 0) + PG_SLACK:
        problems.append(f"PostgreSQL connections not bounded ({pg})")
    redis = metrics["redis_used_mb"]
    if redis["growth"] is None or redis["growth"] > REDIS_GROWTH_LIMIT_MB:
        problems.append(f"Redis used_memory grew by {redis['growth']} MB ({redis})")
    return problems


def lag_summary(lags: list[LagPoint], *, warmup_s: float) -> dict:
    """Percentiles of each lag after the warm-up, and the first against the last third (a
    backlog that builds up shows as a last third slower than the first)."""
    after = [p for p in lags if p.t >= warmup_s]
    out: dict = {"count": len(after)}
    for key in ("client_ms", "queue_ms", "total_ms", "loop_lag_ms"):
        values = sorted(v for p in after if (v := getattr(p, key)) is not None)
        if not values:
            continue
        third = max(1, len(after) // 3)
        first = [v for p in after[:third] if (v := getattr(p, key)) is not None]
        last = [v for p in after[-third:] if (v := getattr(p, key)) is not None]
        out[key] = {
            "p50": round(statistics.median(values), 1),
            "p95": round(values[int(0.95 * (len(values) - 1))], 1),
            "max": round(values[-1], 1),
            "first_third_p50": round(statistics.median(first), 1) if first else None,
            "last_third_p50": round(statistics.median(last), 1) if last else None,
        }
    return out


def lags_as_dicts(lags: list[LagPoint]) -> list[dict]:
    return [asdict(p) for p in lags]
