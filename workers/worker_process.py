"""Celery worker process hooks: what a worker does when it starts, apart from taking tasks.

Connected at Django start-up (`workers/apps.py`), which Celery's Django fix-up runs before the
worker starts, so `rutrans_site/celery.py` only builds the app.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import bootsteps
from celery.signals import worker_init, worker_ready
from django.conf import settings

logger = logging.getLogger(__name__)


class ExitWithConsumer(bootsteps.StartStopStep):
    """A worker whose consumer has stopped for good (Celery's "Unrecoverable error": the broker
    gone past BROKER_RECONNECT_TRIES, a fatal bug) exits at once with the worker's non-zero
    code: its heartbeat stops first, and no task thread (one waiting on the batcher, a long
    upload: the warm shutdown's pool join) keeps a process that can take no task alive. Its
    unacknowledged tasks go back to the queue (acks_late), its running rows to recovery. A
    warm shutdown asked for (SIGTERM: exit code 0) still lets running tasks finish. Stopped
    right after the consumer, before the pool (it requires the pool, so it starts after it)."""

    requires = ("celery.worker.components:Pool",)

    def stop(self, worker: Any) -> None:
        code = getattr(worker, "exitcode", None)
        if not code:
            return
        from translation.jobs.liveness import stop_heartbeat

        logger.critical("the consumer has stopped for good: exiting now (code %s)", code)
        stop_heartbeat()
        logging.shutdown()  # flush the log before the process ends without its atexit hooks
        os._exit(code if isinstance(code, int) else 1)


@worker_init.connect
def start_heartbeat(sender: Any = None, **_kwargs: Any) -> None:
    """Say this worker process is alive (a Redis key per process with a short TTL, refreshed by
    a daemon thread) before it consumes anything: recovery re-queues the rows of a worker whose
    heartbeat is gone (translation/backend/celery_backend.py). The worker's blueprint, built
    after this signal, gets `ExitWithConsumer`."""
    from translation.jobs.liveness import start_heartbeat

    sender.app.steps["worker"].add(ExitWithConsumer)
    start_heartbeat(sender.hostname)


@worker_ready.connect
def preload_models(sender: Any = None, **_kwargs: Any) -> None:
    """Load the models at start-up in the process that runs tasks (solo/threads pools only:
    a prefork parent must not touch CUDA), so the first utterance is not slow. Failures are
    logged and reported per task; the worker stays up."""
    pool_cls = getattr(getattr(sender, "controller", None), "pool_cls", None)
    pool_name = f"{getattr(pool_cls, '__module__', '')}.{getattr(pool_cls, '__name__', '')}"
    if not settings.PRELOAD_MODELS or not any(p in pool_name for p in ("solo", "thread")):
        return
    from workers import runtime

    runtime.preload(calibrate=settings.CALIBRATE_AT_START)


@worker_ready.connect
def start_stale_sweeper(sender: Any = None, **_kwargs: Any) -> None:
    """Every STALE_SWEEP_INTERVAL_S, from a daemon thread (it touches no model, so any pool is
    fine): re-queue the rows of dead workers, fail translations stuck too long."""
    from translation.jobs.sweeper import start_stale_sweeper

    start_stale_sweeper()


@worker_ready.connect
def serve_metrics(sender: Any = None, **_kwargs: Any) -> None:
    """This worker's Prometheus metrics on WORKER_METRICS_PORT (0: off), once per process, from
    a daemon thread (translation/metrics.py). A threads or solo pool counts its tasks in this
    process; workers sharing a host need a port each."""
    from translation import metrics

    metrics.serve(settings.WORKER_METRICS_PORT)
