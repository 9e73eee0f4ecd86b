"""Access to the real services the tests need. In CI (CI=true) a missing service is a test
failure, never a skip."""

from __future__ import annotations

import os
import socket
from pathlib import Path

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


class PrivatePostgres:
    """A PostgreSQL server of the caller's own (initdb in a temporary folder, a free port,
    trust auth), so a test can really stop and start it; the shared one is never touched. The
    server refuses to run as root: it runs as the `postgres` user when the tests run as root
    (in a folder of /tmp that user can reach: pytest's own are private to root)."""

    def __init__(self) -> None:
        import tempfile

        from tests.stack import free_port

        self.root, self.port = Path(tempfile.mkdtemp(prefix="rutrans-pg-")), free_port()
        self.data = self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/rutrans"

    def _run(self, tool: str, *args: str) -> None:
        import glob
        import subprocess

        found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
        if not found:
            missing(f"PostgreSQL's {tool} (apt-get install postgresql)")
        command = [found[-1], *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def create(self) -> PrivatePostgres:
        import shutil

        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "rutrans")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.root / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        import shutil

        try:
            self.stop()
        except Exception:  # noqa: BLE001 - already stopped
            pass
        shutil.rmtree(self.root, ignore_errors=True)


class LocalS3:
    """An S3 endpoint of the test run's own: moto's server in a thread of the pytest process,
    on a free port, reachable by the stack's subprocesses too. Any credentials are accepted;
    each test takes a bucket of its own (`new_bucket`)."""

    ACCESS_KEY = "rutrans-test"
    SECRET_KEY = "rutrans-test-secret"
    REGION = "us-east-1"

    def __init__(self) -> None:
        from tests.stack import free_port

        self.port = free_port()
        self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalS3:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError:
            missing("moto's S3 server (pip install 'moto[server]')")
        import logging

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        self.server = None

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=self.REGION,
            aws_access_key_id=self.ACCESS_KEY,
            aws_secret_access_key=self.SECRET_KEY,
        )

    def new_bucket(self, prefix: str = "rutrans") -> str:
        import uuid

        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def read(self, bucket: str, key: str) -> bytes:
        return self.client().get_object(Bucket=bucket, Key=key)["Body"].read()

    def env(self, bucket: str) -> dict[str, str]:
        """The environment a web or worker process stores its recordings in `bucket` with."""
        return {
            "S3_BUCKET": bucket,
            "S3_ENDPOINT_URL": self.url,
            "S3_REGION": self.REGION,
            "S3_ACCESS_KEY_ID": self.ACCESS_KEY,
            "S3_SECRET_ACCESS_KEY": self.SECRET_KEY,
            "S3_ADDRESSING_STYLE": "path",
        }

    def storages(self, bucket: str) -> dict:
        """STORAGES for an in-process test, as settings_storage builds it from `env`."""
        from rutrans_site.settings_storage import storages_setting

        return storages_setting(
            bucket,
            endpoint_url=self.url,
            region=self.REGION,
            access_key=self.ACCESS_KEY,
            secret_key=self.SECRET_KEY,
            addressing_style="path",
        )
