"""Hands queued work to whoever runs the task code.

Real stack (REDIS_URL set): a Celery message by task *name* through the current Celery app
(`rutrans_site.celery`), so the web tier never imports the model code. Embedded default: the
same task code on in-process worker threads (like `--pool threads`), off the event loop. The
task bodies are registered here by the worker side (`workers/apps.py`): this layer knows task
names, never the code behind them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from celery import current_app
from django.conf import settings

from translation.constants import FINALS_QUEUE, TRANSLATE_TASK

logger = logging.getLogger(__name__)

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_embedded_tasks: dict[str, Callable[..., None]] = {}
_embedded_finals_waiting = 0  # submitted to the embedded worker thread, not yet started


def register_embedded_task(name: str, body: Callable[..., None]) -> None:
    """The code the embedded worker thread runs for the task `name` (the worker side calls
    this at start-up)."""
    _embedded_tasks[name] = body


def send_task(name: str, *, args: list[Any], queue: str, expires: float | None = None) -> None:
    """A Celery message for the task `name` on `queue` (the real stack)."""
    current_app.send_task(name, args=args, queue=queue, expires=expires)


def run_embedded(name: str, *args: Any) -> Future:
    """Run the task `name` on the embedded worker thread, after what is queued there."""
    return embedded_executor().submit(_run_embedded, name, args)


def enqueue_translation(translation_id: str) -> Future | None:
    """Queue the translation task for a history row (call after the row is committed)."""
    if settings.EMBEDDED:
        _count_embedded_final(+1)
        return run_embedded(TRANSLATE_TASK, str(translation_id))
    send_task(TRANSLATE_TASK, args=[str(translation_id)], queue=FINALS_QUEUE)
    return None


def embedded_executor() -> ThreadPoolExecutor:
    """The embedded worker's threads (WORKER_CONCURRENCY, as a Celery threads pool): tasks
    start in order; their model work meets in the one batcher thread (workers/batcher.py)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=max(1, settings.WORKER_CONCURRENCY), thread_name_prefix="rutrans-worker"
            )
        return _executor


def embedded_worker_executor() -> ThreadPoolExecutor | None:
    """The embedded worker thread (None on the real stack): work that must not race the
    in-process translation for the database runs there."""
    return embedded_executor() if settings.EMBEDDED else None


def _run_embedded(name: str, args: tuple[Any, ...]) -> None:
    from django.db import close_old_connections

    if name == TRANSLATE_TASK:
        _count_embedded_final(-1)
    body = _embedded_tasks.get(name)
    close_old_connections()
    try:
        if body is None:
            raise LookupError(f"no embedded code registered for the task {name!r}")
        body(*args)
    except Exception:
        logger.exception("embedded task %s%r failed", name, args[:1])
    finally:
        close_old_connections()


def _count_embedded_final(delta: int) -> None:
    global _embedded_finals_waiting
    with _executor_lock:
        _embedded_finals_waiting += delta


def embedded_finals_waiting() -> int:
    """Embedded: translations queued on the worker thread and not started yet (live captions
    step aside for them)."""
    return _embedded_finals_waiting
