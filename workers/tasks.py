"""The task bodies, once: thin interfaces over workers.services. The task backend runs them
(`translation.backend`): registered by name for the embedded worker threads (`BODIES`, from
`workers/apps.py`), and declared to Celery below, each declaration a wrapper of its body."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from translation.backend import TaskBody
from translation.constants import CAPTION_TASK, PURGE_HISTORY_TASK, TRANSLATE_TASK
from translation.history.retention import enforce_retention
from translation.jobs.liveness import this_worker
from translation.streaming.caption_dispatch import CaptionRequest
from workers.captions import caption_partial
from workers.services import complete_translation


def translate_body(translation_id: str, node: str | None = None) -> None:
    """Translate and speak one history row (model and audio errors are recorded on the row)."""
    complete_translation(translation_id, worker=this_worker(node))


def caption_body(request: CaptionRequest) -> None:
    """Translate the audio of a partial caption so far."""
    caption_partial(request)


def purge_history_body() -> None:
    """The retention purge (periodic)."""
    enforce_retention()


BODIES: dict[str, TaskBody] = {
    TRANSLATE_TASK: translate_body,
    CAPTION_TASK: caption_body,
    PURGE_HISTORY_TASK: purge_history_body,
}


# acks_late, reject_on_worker_lost and no result come from the settings (CELERY_TASK_*). A
# database that is briefly unreachable (restart, failover) retries the whole task; model and
# audio errors are recorded on the row by the service and never reach here.
@shared_task(
    name=TRANSLATE_TASK,
    bind=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=1,
    retry_backoff_max=30,
    max_retries=8,
)
def translate(self, translation_id: str) -> None:
    translate_body(translation_id, self.request.hostname or "celery")


# A live caption: stale within seconds, so never redelivered (no acks_late) nor retried.
@shared_task(name=CAPTION_TASK, acks_late=False)
def caption(request: dict) -> None:
    caption_body(CaptionRequest.model_validate(request))  # it travelled as JSON


# Periodic (CELERY_BEAT_SCHEDULE): the retention purge; the next run repeats a failed one.
@shared_task(name=PURGE_HISTORY_TASK, acks_late=False)
def purge_history() -> None:
    purge_history_body()
