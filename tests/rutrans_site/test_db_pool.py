"""The PostgreSQL pool bounds a process's server connections, however many threads it runs:
a worker's WORKER_CONCURRENCY task threads (Celery's threads pool) or Daphne's sync threads.

A process with the real settings runs 40 threads, each querying in a loop and closing its
connection after each query, as Celery's Django fixup does after every task (and Django after
every request): with the pool, `close()` hands the connection back. Meanwhile a separate
connection counts the server's connections to the database."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from tests.services import drop_postgres_database, fresh_postgres_database

pytestmark = [pytest.mark.services, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]
THREADS = 40
THREADED_QUERIES = """
import threading, django
django.setup()
from django.db import connection

def run():
    for _ in range(15):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(0.02)")
        connection.close()  # what celery/fixups/django.py does on task_postrun

threads = [threading.Thread(target=run) for _ in range(THREADS)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print("done")
""".replace("THREADS", str(THREADS))


def peak_connections(url: str, env: dict[str, str], tmp_path) -> int:
    """Run the threads in a process of their own; the most server connections seen."""
    name = url.rsplit("/", 1)[1]
    base = {k: v for k, v in os.environ.items() if not k.startswith("DB_POOL_")}
    base.update(
        DJANGO_SETTINGS_MODULE="rutrans_site.settings",
        RUTRANS_DATA_DIR=str(tmp_path),
        DATABASE_URL=url,
        SECRET_KEY="x" * 50,
        **env,
    )
    base.pop("REDIS_URL", None)
    peak = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak
        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            while not stop.is_set():
                (count,) = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)
                ).fetchone()
                peak = max(peak, count)
                time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", THREADED_QUERIES],
            cwd=ROOT,
            env=base,
            capture_output=True,
            text=True,
            timeout=90,
        )
    finally:
        stop.set()
        watcher.join()
    assert proc.returncode == 0 and "done" in proc.stdout, proc.stderr[-3000:]
    return peak


@pytest.fixture
def database():
    url = fresh_postgres_database("rutrans_pool")
    yield url
    drop_postgres_database("rutrans_pool")


def test_forty_threads_share_at_most_the_pools_connections(database, tmp_path):
    peak = peak_connections(database, {"DB_POOL_MAX_SIZE": "5", "DB_POOL_MIN_SIZE": "1"}, tmp_path)
    assert 1 <= peak <= 5


def test_without_the_pool_each_thread_opens_its_own(database, tmp_path):
    """The bound above is the pool's: with DB_POOL_MAX_SIZE=0 the threads open many more."""
    peak = peak_connections(database, {"DB_POOL_MAX_SIZE": "0"}, tmp_path)
    assert peak > 5
