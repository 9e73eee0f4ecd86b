"""Celery worker process hooks: what a worker does when it starts, apart from taking tasks.

Connected at Django start-up (`workers/apps.py`), which Celery's Django fix-up runs before the
worker starts, so `rutrans_site/celery.py` only builds the app.
"""

from __future__ import annotations

from typing import Any

from celery.signals import worker_init, worker_ready
from django.conf import settings


@worker_init.connect
def start_heartbeat(sender: Any = None, **_kwargs: Any) -> None:
    """Say this worker process is alive (a Redis key per process with a short TTL, refreshed by
    a daemon thread) before it consumes anything: recovery re-queues the rows of a worker whose
    heartbeat is gone (translation/jobs/liveness.py)."""
    from translation.jobs.liveness import start_heartbeat

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

    runtime.preload()


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
