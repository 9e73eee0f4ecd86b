"""Hands a queued translation to whoever runs the task code.

Real stack (REDIS_URL set): a Celery message by task *name* on queue `gpu`, so the web tier
never imports the model code. Embedded default: the same task code on one in-process worker
thread (like `--pool solo`: one utterance at a time, in order), off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from django.conf import settings

logger = logging.getLogger(__name__)

TASK_NAME = "translation.translate"
QUEUE = "gpu"

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_event_loop: asyncio.AbstractEventLoop | None = None
_embedded_finals_waiting = 0  # submitted to the embedded worker thread, not yet started


def enqueue_translation(translation_id: str) -> Future | None:
    """Queue the translation task for a history row (call after the row is committed)."""
    if settings.EMBEDDED:
        _count_embedded_final(+1)
        return _embedded_executor().submit(_run_embedded, str(translation_id))
    from rutrans_site.celery import app

    app.send_task(TASK_NAME, args=[str(translation_id)], queue=QUEUE)
    return None


def _embedded_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rutrans-worker")
        return _executor


def _run_embedded(translation_id: str) -> None:
    from django.db import close_old_connections

    from translation.liveness import this_worker
    from workers.services import complete_translation

    _count_embedded_final(-1)
    close_old_connections()
    try:
        complete_translation(translation_id, worker=this_worker())
    except Exception:
        logger.exception("embedded translation %s failed", translation_id)
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


def warm_up_embedded_worker() -> None:
    """Embedded mode: load the models on the worker thread at start-up, in the background,
    so the first utterance does not wait for them (it queues behind the load if it comes
    early). The real stack's workers do this on `worker_ready` instead."""
    if settings.EMBEDDED and settings.PRELOAD_MODELS:
        from workers import runtime

        _embedded_executor().submit(runtime.preload)


def remember_event_loop(loop: asyncio.AbstractEventLoop) -> None:
    """The embedded server's loop: the in-memory channel layer may only be used from it."""
    global _event_loop
    _event_loop = loop


def embedded_event_loop() -> asyncio.AbstractEventLoop | None:
    loop = _event_loop
    return loop if settings.EMBEDDED and loop is not None and loop.is_running() else None


_layer_loop: asyncio.AbstractEventLoop | None = None
_layer_loop_lock = threading.Lock()


def channel_layer_loop() -> asyncio.AbstractEventLoop:
    """The event loop on which sync code (a Celery worker, a view) talks to the channel layer.

    Embedded: the server's own loop (the in-memory layer lives there). Otherwise one private
    loop on a daemon thread for the whole process, so channels_redis keeps its connection pool
    between pushes instead of `async_to_sync` building a loop and a connection per push.
    """
    loop = embedded_event_loop()
    if loop is not None:
        return loop
    global _layer_loop
    with _layer_loop_lock:
        if _layer_loop is None or _layer_loop.is_closed():
            _layer_loop = asyncio.new_event_loop()
            threading.Thread(
                target=_layer_loop.run_forever, name="rutrans-channel-layer", daemon=True
            ).start()
        return _layer_loop


def embedded_worker_executor() -> ThreadPoolExecutor | None:
    """The embedded worker thread (None on the real stack): work that must not race the
    in-process translation for the database runs there."""
    return _embedded_executor() if settings.EMBEDDED else None
