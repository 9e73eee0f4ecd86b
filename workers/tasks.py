"""Celery tasks: thin interfaces over workers.services."""

from __future__ import annotations

from celery import shared_task

from workers.services import complete_translation


@shared_task(
    name="translation.translate",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def translate(self, translation_id: str) -> None:
    complete_translation(translation_id, worker=self.request.hostname or "celery")
