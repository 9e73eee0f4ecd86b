"""Start rutrans as real processes: Daphne (+ a Celery worker on the real stack).

Used by the end-to-end tests (and reusable by benchmarks): the same commands a user runs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rutrans_site.scaled import local_proxy_config, proxy_command, web_command, worker_command

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


NO_CLIENT_LIMITS = {
    "LIMIT_UPLOADS_PER_MINUTE": "0",
    "LIMIT_QUEUED_JOBS": "0",
    "LIMIT_AUDIO_S_PER_HOUR": "0",
    "LIMIT_LIVE_SESSIONS": "0",
}
"""A benchmark's sessions all come from 127.0.0.1, one client to the limits: its stack turns
the per-client limits off (the load it offers is what it measures; translation/limits)."""
FUNCTIONAL_ADMISSION = {
    "ADMISSION_MAX_LOAD": "0.9",
    "ADMISSION_MAX_LOOP_CPU": "1000",
    "CALIBRATE_AT_START": "0",
}
"""A functional test's few sessions, on a CI machine whose load makes the tiny models' measured
rate low, are admitted up to 0.9 of it (the product's default, 0.7, leaves room for the web
tier's own CPU on a shared host), and its connection storms (tests/reliability) are not
refused for the web loop's CPU; its workers start without the calibration batch (the slow test
doubles would take a minute over it); admission has tests of its own."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    port: int
    env: dict[str, str]
    data_dir: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)
    redis_server: Any = None  # a PrivateRedis of its own (`real_stack(redis_db=None)`), or None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def log_text(self, name: str) -> str:
        path = self.logs.get(name)
        return path.read_text(errors="replace") if path and path.exists() else ""

    def _spawn(self, name: str, command: list[str], env: dict[str, str] | None = None):
        """A process of the stack, in its own session, logging to `<name>.log`."""
        log = self.data_dir / f"{name}.log"
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env or self.env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name], self.logs[name] = proc, log
        return proc, log

    def start_worker(self, name: str = "worker") -> subprocess.Popen:
        node = f"{name}-{uuid.uuid4().hex[:6]}@%h"
        command = [*worker_command(node), "--without-gossip", "--without-mingle"]
        proc, log = self._spawn(name, command)
        # Ready = consuming and, with PRELOAD_MODELS, the models loaded.
        marker = b"models preloaded" if self.env.get("PRELOAD_MODELS") == "1" else b" ready."
        _wait_for(lambda: marker in log.read_bytes(), f"celery worker {name}", proc, 120)
        return proc

    def start_web(self, name: str) -> int:
        """Another Daphne process of the same stack (same database, Redis, settings) on a port
        of its own, as a second web replica; returns the port."""
        port = free_port()
        proc, _log = self._spawn(name, web_command(port))
        _wait_for(lambda: _http_ok(f"http://127.0.0.1:{port}/healthz"), name, proc, 60)
        return port

    def start_proxy(self, web_ports: list[int], name: str = "proxy") -> int:
        """HAProxy in front of these web processes, with the compose file's config
        (rutrans_site/scaled.py renders it); returns its port."""
        port = free_port()
        config = self.data_dir / f"{name}.cfg"
        config.write_text(local_proxy_config(web_ports))
        env = self.env | {"PROXY_ADDRESS": "127.0.0.1", "PROXY_PORT": str(port)}
        proc, _log = self._spawn(name, proxy_command(config), env)
        _wait_for(lambda: _http_ok(f"http://127.0.0.1:{port}/healthz"), name, proc, 30)
        return port

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)


def start_stack(
    data_dir: Path,
    *,
    database_url: str | None,
    redis_url: str | None,
    extra_env: dict[str, str] | None = None,
    with_worker: bool = True,
    functional: bool = True,
) -> Stack:
    """Embedded when redis_url is None (one Daphne process does everything). A benchmark's
    stack (`functional=False`) runs the product's admission defaults."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    if functional:
        env = FUNCTIONAL_ADMISSION | env
    env.update(
        DJANGO_SETTINGS_MODULE="rutrans_site.settings",
        RUTRANS_DATA_DIR=str(data_dir),
        PYTHONUNBUFFERED="1",
        PRELOAD_MODELS="1",
        LOG_LEVEL="INFO",
    )
    env.pop("SECRET_KEY", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    if redis_url:
        env["REDIS_URL"] = redis_url
    if database_url or redis_url:
        env["SECRET_KEY"] = "e2e-" + uuid.uuid4().hex
    env.update(extra_env or {})
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    stack = Stack(port=free_port(), env=env, data_dir=data_dir)
    log = data_dir / "daphne.log"
    proc = subprocess.Popen(
        web_command(stack.port),
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    stack.procs["daphne"], stack.logs["daphne"] = proc, log
    try:
        _wait_for(lambda: _http_ok(stack.http_url + "/healthz"), "daphne", proc, 60)
        if not redis_url and env.get("PRELOAD_MODELS") == "1":  # embedded: models in-process
            _wait_for(lambda: b"models preloaded" in log.read_bytes(), "model load", proc, 120)
        if redis_url and with_worker:
            stack.start_worker()
    except BaseException:
        stack.stop_all()
        raise
    return stack


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def _wait_for(check, what: str, proc: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} while starting")
        if check():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not become ready in {timeout_s:.0f} s")


@contextmanager
def real_stack(
    data_dir: Path,
    *,
    name: str,
    redis_db: int | None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """Daphne + a Celery worker on the real services, each stack with a PostgreSQL database
    (`name`) and a Redis database (`redis_db`) of its own, removed afterwards. `redis_db`
    None: a redis-server of the stack's own (`stack.redis_server`), which a test may stop."""
    from tests.services import (
        PrivateRedis,
        drop_postgres_database,
        fresh_postgres_database,
        fresh_redis_database,
    )

    private = PrivateRedis().start() if redis_db is None else None
    stack = start_stack(
        data_dir,
        database_url=fresh_postgres_database(name),
        redis_url=private.url if private else fresh_redis_database(redis_db or 0),
        extra_env=extra_env,
    )
    stack.redis_server = private
    try:
        yield stack
    finally:
        stack.stop_all()
        if private is not None:
            private.stop()
        drop_postgres_database(name)
