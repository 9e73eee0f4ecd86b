"""Rows whose run was lost: stale ones failed (`fail_stale_translations`), those of dead
workers re-queued or failed after their last attempt, and queued rows whose task is gone sent
again (`recover_translations`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from translation.backend import enqueue_translation, task_backend
from translation.jobs import liveness, states
from translation.jobs.lifecycle import WORKER_LOST_REASON, tell_waiters
from translation.models import Translation

logger = logging.getLogger(__name__)

Status = Translation.Status


STALE_REASON = (
    "no worker finished this translation in time (the worker may have died or the task been "
    "lost); it was marked failed after {age:.0f} s: send it again"
)


def fail_stale_translations(*, older_than_s: float) -> list[Translation]:
    """Mark rows stuck in `queued`/`running` for longer than `older_than_s` as failed, and tell
    whoever waits for them (upload watchers, the live session). Returns the rows it failed.

    A running row's age counts from its (latest) start, a queued row's from its creation.
    Rows locked by someone else right now are skipped (another sweeper, or a worker finishing
    them), so several workers may sweep at once.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=older_than_s)
    stuck = Q(status=Status.QUEUED, created_at__lt=cutoff) | Q(
        status=Status.RUNNING, started_at__lt=cutoff
    )
    failed: list[Translation] = []
    with transaction.atomic():
        rows = Translation.objects.select_for_update(skip_locked=True).filter(stuck)
        for row in rows:
            since = row.started_at if row.status == Status.RUNNING else row.created_at
            since = since or row.created_at  # a running row always has started_at
            reason = STALE_REASON.format(age=(now - since).total_seconds())
            failed.append(states.fail(row, reason, expected=[row.status]))
    for row in failed:
        logger.warning("translation %s was stuck; marked failed: %s", row.id, row.error)
        tell_waiters(row)
    return failed


@dataclass(frozen=True)
class Recovery:
    """What one recovery pass did: rows re-queued, rows failed after their last attempt, and
    ids of queued rows whose lost task was sent again."""

    requeued: list[Translation]
    failed: list[Translation]
    resent: list[str] = field(default_factory=list)


def recover_translations() -> Recovery:
    """Re-queue every `running` row whose worker is dead (its heartbeat expired, see
    `translation.jobs.liveness`), or fail it with a clear error once it has had
    TRANSLATION_MAX_ATTEMPTS runs; tell the failed rows' waiters; then send again the tasks of
    queued rows that the database shows lost (`_resend_lost_tasks`). Nothing happens while the
    heartbeats cannot be read. Rows locked by someone else are skipped (several processes
    recover at once), and a re-queued row's old message, should the broker deliver it again,
    finds the row taken or finished (`start_translation`)."""
    running = Translation.objects.filter(status=Status.RUNNING)
    workers = set(running.values_list("worker", flat=True).distinct())
    try:
        dead = workers - liveness.live_workers(workers)
    except liveness.LivenessUnknown as exc:
        logger.warning("recovery skipped: worker heartbeats unreadable: %s", exc)
        return Recovery([], [])
    requeued: list[Translation] = []
    failed: list[Translation] = []
    with transaction.atomic():
        rows = running.select_for_update(skip_locked=True).filter(worker__in=dead)
        for row in rows:
            if row.attempts >= settings.TRANSLATION_MAX_ATTEMPTS:
                reason = WORKER_LOST_REASON.format(attempts=row.attempts)
                failed.append(states.fail(row, reason, expected=[Status.RUNNING]))
                continue
            row.meta = {**row.meta, "recovered": [*row.meta.get("recovered", []), row.worker]}
            states.move(row, Status.QUEUED, expected=[Status.RUNNING], fields=["meta"])
            transaction.on_commit(partial(enqueue_translation, str(row.id)))
            requeued.append(row)
    resent = _resend_lost_tasks()
    for row in requeued:
        logger.warning(
            "translation %s: worker %s is gone; re-queued (attempt %d of %d next)",
            row.id,
            row.worker,
            row.attempts + 1,
            settings.TRANSLATION_MAX_ATTEMPTS,
        )
    for row in failed:
        logger.warning(
            "translation %s: worker %s is gone; failed: %s", row.id, row.worker, row.error
        )
        tell_waiters(row)
    return Recovery(requeued, failed, resent)


def _resend_lost_tasks() -> list[str]:
    """Send the task again for every queued row whose message the database shows lost: queued
    for over WORKER_DEAD_AFTER_S (since `enqueued_at`) while the finals queue, first in first
    out, has moved past it (a row enqueued after it started over WORKER_DEAD_AFTER_S ago), or
    stood idle (nothing running, nothing started since it was enqueued). A worker took its
    message and died before starting it, or the broker lost it. A backlog waiting its turn
    matches neither rule. Each row is re-sent at most TRANSLATION_MAX_ATTEMPTS times (the
    stale sweep fails it in the end); a copy that finds the row taken is skipped
    (`start_translation`). A backend that loses nothing (embedded: the queue is in-process) has
    nothing to re-send. Returns the ids
    sent again."""
    if not task_backend().loses_messages:
        return []
    grace = timezone.now() - timedelta(seconds=settings.WORKER_DEAD_AFTER_S)
    old = Translation.objects.filter(status=Status.QUEUED, enqueued_at__lt=grace)
    if not old.exists():
        return []
    idle = not Translation.objects.filter(status=Status.RUNNING).exists()
    overtaken = Translation.objects.filter(
        enqueued_at__gt=OuterRef("enqueued_at"), started_at__lt=grace
    )
    started_since = Translation.objects.filter(started_at__gt=OuterRef("enqueued_at"))
    lost_rule = Exists(overtaken) | ~Exists(started_since) if idle else Exists(overtaken)
    lost: list[str] = []
    with transaction.atomic():
        for row in old.filter(lost_rule).select_for_update(skip_locked=True):
            resends = int(row.meta.get("resent", 0))
            if resends >= settings.TRANSLATION_MAX_ATTEMPTS:
                continue
            row.meta = {**row.meta, "resent": resends + 1}
            states.move(row, Status.QUEUED, expected=[Status.QUEUED], fields=["meta"])
            transaction.on_commit(partial(enqueue_translation, str(row.id)))
            lost.append(str(row.id))
    for pk in lost:
        logger.warning("translation %s: queued, but its task is gone; sending it again", pk)
    return lost
