"""The broker's Redis database, read and written directly (not through Celery): worker
heartbeats, what waits in the queues, live captions' audio. One client per process."""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings

_client: Any = None
_lock = threading.Lock()


def broker_redis() -> Any:
    """The process's client for REDIS_URL (short timeouts: callers treat a slow Redis as
    unavailable, never wait on it)."""
    global _client
    with _lock:
        if _client is None:
            import redis

            _client = redis.Redis.from_url(
                settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
            )
        return _client


def forget_client() -> None:
    """Drop the client (tests that point REDIS_URL elsewhere)."""
    global _client
    with _lock:
        _client = None
