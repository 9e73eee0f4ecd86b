"""The recovery sweeper: a daemon thread that, every STALE_SWEEP_INTERVAL_S, re-queues (or fails)
the translations of dead workers (`recovery.recover_translations`) and fails translations stuck
in `queued`/`running` for STALE_TRANSLATION_S (`recovery.fail_stale_translations`).

Every Celery worker starts one on `worker_ready` (rutrans_site/celery.py) and so does the web
process (rutrans_site/asgi.py); in the embedded default each pass runs on the embedded worker
thread (the backend's `serial_executor`), so it never races the in-process translation for the
SQLite database. Several sweepers
at once are fine: rows locked by another are skipped. `manage.py sweep_stale` runs one pass.
Where no celery beat runs (the embedded backend), the same thread queues the retention purge
every RETENTION_INTERVAL_S (`TaskBackend.purge_if_due`).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Executor

from django.conf import settings

from translation.backend import task_backend

logger = logging.getLogger(__name__)

_started: threading.Thread | None = None
_start_lock = threading.Lock()


def sweep_once(older_than_s: float | None = None) -> int:
    """One pass: recover the dead workers' rows, fail the stale ones (telling their waiters);
    returns how many rows it re-queued or failed."""
    from django.db import close_old_connections

    from translation.jobs.recovery import fail_stale_translations, recover_translations

    close_old_connections()
    try:
        recovery = recover_translations()
        threshold = settings.STALE_TRANSLATION_S if older_than_s is None else older_than_s
        stale = fail_stale_translations(older_than_s=threshold)
        if stale:
            logger.warning("stale-job sweep: %d stuck translation(s) marked failed", len(stale))
        return len(recovery.requeued) + len(recovery.failed) + len(recovery.resent) + len(stale)
    finally:
        close_old_connections()


def start_stale_sweeper(*, executor: Executor | None = None) -> threading.Thread | None:
    """Start the process's sweeper thread (once; a no-op when STALE_SWEEP_INTERVAL_S is 0).
    With `executor`, each pass is submitted there instead of run on the thread itself."""
    global _started
    interval = float(settings.STALE_SWEEP_INTERVAL_S)
    if interval <= 0:
        return None
    with _start_lock:
        if _started is not None and _started.is_alive():
            return _started
        _started = threading.Thread(
            target=_sweep_forever,
            args=(interval, executor),
            name="rutrans-stale-sweeper",
            daemon=True,
        )
        _started.start()
        return _started


def _sweep_forever(interval: float, executor: Executor | None) -> None:
    stop = threading.Event()  # never set: the thread ends with the process
    purged_at = time.monotonic()
    while not stop.wait(interval):
        try:
            if executor is not None:
                executor.submit(sweep_once).result()
            else:
                sweep_once()
        except Exception as exc:  # noqa: BLE001 - database down etc.: try again next time
            logger.warning("recovery sweep failed: %s: %s", type(exc).__name__, exc)
        if task_backend().purge_if_due(purged_at, time.monotonic()):
            purged_at = time.monotonic()  # embedded (no celery beat): queued on its worker
