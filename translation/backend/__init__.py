"""The task backend: who runs the task code, and how the rest of the code reaches it.

The one place the deployment's shape is decided (issue 32: it was 15 `EMBEDDED` branches over
9 modules). Two implementations side by side, chosen once from the settings:
- `embedded.EmbeddedBackend` (no REDIS_URL): one process; the task bodies run on in-process
  worker threads (like Celery's `--pool threads`), the only worker is this process's own;
- `celery_backend.CeleryBackend` (REDIS_URL set): tasks go by name over the broker to separate
  worker processes, which are known by their heartbeats in Redis.

Callers ask `task_backend()` and never test which one they got; the worker side registers the
task bodies once (`register_tasks`, from `workers/apps.py`), Celery's declarations wrap the
same bodies (`workers/tasks.py`).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from translation.backend.base import (
    CaptionAudio,
    InlineAudio,
    LivenessUnknown,
    StoredAudio,
    TaskBackend,
    TaskBody,
    register_tasks,
)
from translation.backend.celery_backend import CeleryBackend
from translation.backend.embedded import EmbeddedBackend

__all__ = [
    "CaptionAudio",
    "InlineAudio",
    "LivenessUnknown",
    "StoredAudio",
    "TaskBackend",
    "TaskBody",
    "enqueue_translation",
    "forget_backends",
    "register_tasks",
    "task_backend",
]

_backends: dict[bool, TaskBackend] = {}
_chosen: TaskBackend | None = None
_lock = threading.Lock()


def task_backend() -> TaskBackend:
    """The backend, chosen once from the settings (again only when a test changes them)."""
    global _chosen
    chosen = _chosen
    if chosen is not None:
        return chosen
    with _lock:
        if _chosen is None:
            embedded = bool(settings.EMBEDDED)
            if embedded not in _backends:  # one of each kind per process: they hold threads
                _backends[embedded] = _build(embedded)
            _chosen = _backends[embedded]
        return _chosen


def enqueue_translation(translation_id: str) -> Future | None:
    """Queue the translation task of a history row (call after the row is committed)."""
    return task_backend().enqueue_translation(translation_id)


def _build(embedded: bool) -> TaskBackend:
    return EmbeddedBackend() if embedded else CeleryBackend()


def forget_backends() -> None:
    """Build the backends afresh on next use (tests that point REDIS_URL elsewhere)."""
    global _chosen
    with _lock:
        _backends.clear()
        _chosen = None


@receiver(setting_changed)
def _choose_again(setting: str, **_kwargs: Any) -> None:
    global _chosen
    if setting in ("EMBEDDED", "REDIS_URL"):
        _chosen = None
