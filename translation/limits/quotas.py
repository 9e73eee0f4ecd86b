"""The limits per client and their counters, in the Django cache (Redis on the real stack, so
every web process counts together; this process's memory embedded).

Each limit is a setting for an anonymous client (0: no limit); signed-in users get
LIMIT_SIGNED_IN_FACTOR times as much, staff LIMIT_STAFF_FACTOR times (0: unlimited). Over a
limit, `LimitExceeded` says which, and how many seconds until it would pass: the API answers
429 with Retry-After, the live WebSocket an error for the utterance or a close reason.

A cache that fails lets the request through (logged): a limit protects the service, it must
not take it down with Redis.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from translation import metrics
from translation.backend.broker import broker_redis
from translation.limits.clients import Client

logger = logging.getLogger(__name__)

AUDIO_WINDOW_S = 3600
"""Audio seconds are counted per clock hour (a fixed window)."""
LIVE_SESSION_TTL_S = 90
"""A live session not refreshed for this long (its web process died) no longer counts."""
LIVE_REFRESH_S = 30
"""How often a live session says it is still open."""
LIVE_RETRY_AFTER_S = 30
QUEUED_RETRY_AFTER_S = 15


class LimitExceeded(Exception):
    """A client over one of its limits; `retry_after_s` is when to try again (whole seconds,
    at least 1)."""

    def __init__(self, message: str, *, limit: str, retry_after_s: float) -> None:
        self.limit = limit
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        super().__init__(f"{message}; retry in {self.retry_after_s} s")


def limit_for(client: Client, base: int) -> int | None:
    """The client's limit from the anonymous one (`base`); None when there is none."""
    if base <= 0:
        return None
    factor = {
        "anonymous": 1,
        "signed_in": settings.LIMIT_SIGNED_IN_FACTOR,
        "staff": settings.LIMIT_STAFF_FACTOR,
    }[client.tier]
    return None if factor <= 0 else base * factor


@contextmanager
def _failing_open(what: str) -> Iterator[None]:
    try:
        yield
    except LimitExceeded:
        raise
    except Exception as exc:  # noqa: BLE001 - the cache (Redis) is down: do not refuse for it
        logger.warning(
            "limits: %s not counted (cache unavailable: %s: %s)", what, type(exc).__name__, exc
        )


# --- audio seconds per hour (uploads and live utterances together) --------------------------


@dataclass(frozen=True)
class AudioCharge:
    """Seconds counted against a client's hour; `refund` takes them back (the work was not
    queued after all)."""

    key: str | None
    ms: int

    def refund(self) -> None:
        if self.key is not None and self.ms:
            with _failing_open("audio refund"):
                cache.decr(self.key, self.ms)


def charge_audio(client: Client, seconds: float, *, now: float | None = None) -> AudioCharge:
    """Count `seconds` of audio against the client's LIMIT_AUDIO_S_PER_HOUR; raises
    LimitExceeded (and counts nothing) when they would go over it."""
    limit = limit_for(client, settings.LIMIT_AUDIO_S_PER_HOUR)
    ms = math.ceil(max(0.0, seconds) * 1000)
    if limit is None or not ms:
        return AudioCharge(None, 0)
    now = time.time() if now is None else now
    window = int(now // AUDIO_WINDOW_S)
    key = f"limits:audio:{client.key}:{window}"
    with _failing_open("audio seconds"):
        cache.add(key, 0, timeout=AUDIO_WINDOW_S + 60)
        total = cache.incr(key, ms)
        if total > limit * 1000:
            cache.decr(key, ms)
            used = (total - ms) / 1000
            raise LimitExceeded(
                f"this client's audio quota is used up: {used:.0f} of {limit} s this hour, and "
                f"this is {ms / 1000:.1f} s more",
                limit="audio_seconds",
                retry_after_s=(window + 1) * AUDIO_WINDOW_S - now,
            )
        return AudioCharge(key, ms)
    return AudioCharge(None, 0)


# --- queued jobs ------------------------------------------------------------------------------


def check_queued_jobs(client: Client) -> None:
    """Refuse a new upload while the client has LIMIT_QUEUED_JOBS uploads queued or running
    (counted in the history, so nothing drifts; two uploads at the same instant may both
    pass)."""
    limit = limit_for(client, settings.LIMIT_QUEUED_JOBS)
    if limit is None:
        return
    from translation.models import Translation

    waiting = Translation.objects.filter(
        client=client.key,
        source=Translation.Source.UPLOAD,
        status__in=(Translation.Status.QUEUED, Translation.Status.RUNNING),
    ).count()
    if waiting >= limit:
        raise LimitExceeded(
            f"this client already has {waiting} uploads waiting for translation (at most "
            f"{limit}); wait for some to finish",
            limit="queued_jobs",
            retry_after_s=QUEUED_RETRY_AFTER_S,
        )


# --- concurrent live sessions -----------------------------------------------------------------
# One sorted set per client in Redis (member: session id, score: last seen), changed atomically
# (MULTI), so sessions opening and closing at once never lose each other's updates; embedded
# (one process), the same in this process's cache under a lock.

_live_lock = threading.Lock()


def _live_key(client: Client) -> str:
    return f"rutrans:limits:live:{client.key}"


def _open_sessions(key: str, now: float) -> dict[str, float]:
    sessions = cache.get(key) or {}
    return {sid: seen for sid, seen in sessions.items() if now - seen < LIVE_SESSION_TTL_S}


def _live_change(client: Client, session_id: str, now: float, *, add: bool) -> int:
    """Add (or refresh) or remove a session; returns how many the client has open now."""
    key = _live_key(client)
    if settings.REDIS_URL:
        pipe = broker_redis().pipeline(transaction=True)
        pipe.zremrangebyscore(key, "-inf", now - LIVE_SESSION_TTL_S)
        if add:
            pipe.zadd(key, {session_id: now})
        else:
            pipe.zrem(key, session_id)
        pipe.zcard(key)
        pipe.expire(key, LIVE_SESSION_TTL_S)
        return int(pipe.execute()[-2])
    with _live_lock:
        sessions = _open_sessions(key, now)
        if add:
            sessions[session_id] = now
        else:
            sessions.pop(session_id, None)
        cache.set(key, sessions, timeout=LIVE_SESSION_TTL_S)
        return len(sessions)


def join_live_session(client: Client, session_id: str, *, now: float | None = None) -> None:
    """Count a new live session; raises LimitExceeded (and counts nothing) when the client
    already has LIMIT_LIVE_SESSIONS open. Added first, then counted: two sessions opening at
    the same instant at the limit may both be refused, never both let in."""
    limit = limit_for(client, settings.LIMIT_LIVE_SESSIONS)
    if limit is None:
        return
    now = time.time() if now is None else now
    with _failing_open("live session"):
        open_now = _live_change(client, session_id, now, add=True)
        if open_now > limit:
            _live_change(client, session_id, now, add=False)
            metrics.SESSIONS_REFUSED.labels(reason="client_limit").inc()
            raise LimitExceeded(
                f"too many live sessions for this client ({open_now - 1} open, at most {limit})",
                limit="live_sessions",
                retry_after_s=LIVE_RETRY_AFTER_S,
            )


def refresh_live_session(client: Client, session_id: str, *, now: float | None = None) -> None:
    """The session is still open (every LIVE_REFRESH_S)."""
    if limit_for(client, settings.LIMIT_LIVE_SESSIONS) is None:
        return
    now = time.time() if now is None else now
    with _failing_open("live session refresh"):
        _live_change(client, session_id, now, add=True)


def leave_live_session(client: Client, session_id: str, *, now: float | None = None) -> None:
    """The session has ended."""
    now = time.time() if now is None else now
    with _failing_open("live session end"):
        _live_change(client, session_id, now, add=False)
