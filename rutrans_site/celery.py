"""The Celery app. Workers: `celery -A rutrans_site worker -Q gpu,captions --pool solo` (one
per GPU; never fork after CUDA is initialised)."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rutrans_site.settings")

app = Celery("rutrans_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["workers"])


@worker_ready.connect
def _preload_models(sender=None, **_kwargs) -> None:
    """Load the models at start-up in the process that runs tasks (solo/threads pools only:
    a prefork parent must not touch CUDA), so the first utterance is not slow. Failures are
    logged and reported per task; the worker stays up."""
    from django.conf import settings

    pool_cls = getattr(getattr(sender, "controller", None), "pool_cls", None)
    pool_name = f"{getattr(pool_cls, '__module__', '')}.{getattr(pool_cls, '__name__', '')}"
    if not settings.PRELOAD_MODELS or not any(p in pool_name for p in ("solo", "thread")):
        return
    from workers import runtime

    runtime.preload()


@worker_init.connect
def _start_heartbeat(sender=None, **_kwargs) -> None:
    """Say this worker process is alive (a Redis key per process with a short TTL, refreshed by
    a daemon thread) before it consumes anything: recovery re-queues the rows of a worker whose
    heartbeat is gone (translation/liveness.py)."""
    from translation.liveness import start_heartbeat

    start_heartbeat(sender.hostname)


@worker_ready.connect
def _start_stale_sweeper(sender=None, **_kwargs) -> None:
    """Every STALE_SWEEP_INTERVAL_S, from a daemon thread (it touches no model, so any pool is
    fine): re-queue the rows of dead workers, fail translations stuck too long."""
    from translation.sweeper import start_stale_sweeper

    start_stale_sweeper()
