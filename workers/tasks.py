"""Celery tasks: thin interfaces over workers.services."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from translation.constants import CAPTION_TASK, PURGE_HISTORY_TASK, TRANSLATE_TASK
from translation.history import retention
from translation.jobs.liveness import this_worker
from translation.streaming.caption_dispatch import CaptionRequest
from workers.captions import caption_partial
from workers.services import complete_translation


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
    complete_translation(translation_id, worker=this_worker(self.request.hostname or "celery"))


# A live caption: stale within seconds, so never redelivered (no acks_late) nor retried.
@shared_task(name=CAPTION_TASK, acks_late=False)
def caption(request: dict) -> None:
    caption_partial(CaptionRequest.model_validate(request))  # it travelled as JSON


# Periodic (CELERY_BEAT_SCHEDULE): the retention purge; the next run repeats a failed one.
@shared_task(name=PURGE_HISTORY_TASK, acks_late=False)
def purge_history() -> None:
    retention.enforce_retention()
