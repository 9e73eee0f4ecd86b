"""The embedded default's worker: the task code the in-process worker thread runs
(`translation.messaging.dispatch` knows only task names), and the model warm-up at start-up.

The task bodies import the model code when they first run, so registering them costs nothing
in a web process that never runs one (the slim web image has no model packages).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

from translation.constants import CAPTION_TASK, PURGE_HISTORY_TASK, TRANSLATE_TASK
from translation.messaging import dispatch

if TYPE_CHECKING:
    from translation.streaming.caption_dispatch import CaptionRequest


def translate(translation_id: str) -> None:
    from translation.jobs.liveness import this_worker
    from workers.services import complete_translation

    complete_translation(translation_id, worker=this_worker())


def caption(request: CaptionRequest) -> None:
    from workers.captions import caption_partial

    caption_partial(request)


def purge_history() -> None:
    from translation.history.retention import enforce_retention

    enforce_retention()


def install() -> None:
    """Register the task bodies with the dispatcher (every process, at Django start-up)."""
    dispatch.register_embedded_task(TRANSLATE_TASK, translate)
    dispatch.register_embedded_task(CAPTION_TASK, caption)
    dispatch.register_embedded_task(PURGE_HISTORY_TASK, purge_history)


def warm_up() -> None:
    """Embedded mode: load the models on the worker thread at start-up, in the background, so
    the first utterance does not wait for them (it queues behind the load if it comes early).
    The real stack's workers do this on `worker_ready` instead."""
    if settings.EMBEDDED and settings.PRELOAD_MODELS:
        from workers import runtime

        dispatch.embedded_executor().submit(runtime.preload)
