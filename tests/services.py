"""Access to the real services the tests need. In CI (CI=true) a missing service is a test
failure, never a skip."""

from __future__ import annotations

import os
import socket

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
# Appended to every database a stack test creates, so two checkouts can test side by side.
DATABASE_SUFFIX = os.environ.get("TEST_DB_SUFFIX", "")


def missing(what: str) -> None:
    """Fail in CI, skip on a developer's machine."""
    if IN_CI:
        pytest.fail(f"{what} is not available, and CI=true requires it", pytrace=False)
    pytest.skip(f"{what} is not available")


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_redis() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_TEST_URL, socket_timeout=2).ping()
    except Exception:  # noqa: BLE001 - any failure means no Redis
        missing(f"Redis at {REDIS_TEST_URL}")
    return REDIS_TEST_URL


def fresh_redis_database(db: int) -> str:
    """An emptied Redis database of the caller's own. Each real stack under test takes its
    own: the Celery queue "gpu" lives in the database, so two stacks sharing one would take
    each other's tasks."""
    import redis

    url = require_redis().rsplit("/", 1)[0] + f"/{db}"
    redis.Redis.from_url(url).flushdb()
    return url


def require_postgres() -> str:
    import psycopg

    try:
        psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3).close()
    except Exception:  # noqa: BLE001
        missing(f"PostgreSQL at {POSTGRES_ADMIN_URL}")
    return POSTGRES_ADMIN_URL


def fresh_postgres_database(name: str) -> str:
    """Drop and create a database for a subprocess stack; returns its URL."""
    import psycopg

    admin = require_postgres()
    name += DATABASE_SUFFIX
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres_database(name: str) -> None:
    import psycopg

    name += DATABASE_SUFFIX
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PrivateRedis:
    """A redis-server of the caller's own on a free port (no persistence), so a test can stop
    and restart it without touching the shared one."""

    def __init__(self, port: int | None = None) -> None:
        from tests.stack import free_port

        self.port = port or free_port()
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        import shutil
        import subprocess
        import time

        binary = shutil.which("redis-server")
        if binary is None:
            missing("redis-server (apt-get install redis-server)")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", self.port):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None
