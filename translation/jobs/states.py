"""The job state machine: which status may follow which, and the one function that moves a row.

    queued ──start──▶ running ──finish──▶ done
     │ │ ▲             │ │ └──────fail──▶ failed
     │ │ └──requeue────┘ └─retake (a new attempt on another worker)
     │ └─resend (its task was lost: handed to the queue again)
     └──finish / fail / stale──▶ done / failed

`done` and `failed` are final. A queued row may be finished directly (recovery re-queued it
while its first run was still going and that run finished first) or failed (stale, or its
worker lost on the last attempt). Every writer of `status` goes through `move` with the status
it expects the row to be in (the "status guard"): a row found elsewhere raises `StaleStatus`, so
two writers that race (a worker finishing, the sweeper failing) never both win.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone

from translation.models import Translation

Status = Translation.Status

TRANSITIONS: dict[str, frozenset[str]] = {
    Status.QUEUED: frozenset({Status.QUEUED, Status.RUNNING, Status.DONE, Status.FAILED}),
    Status.RUNNING: frozenset({Status.RUNNING, Status.QUEUED, Status.DONE, Status.FAILED}),
    Status.DONE: frozenset(),
    Status.FAILED: frozenset(),
}
"""Allowed moves, from → to. `running → running` is a new attempt (a dead worker's row);
`queued → queued` a task sent again."""


class IllegalTransition(ValueError):
    """A move the state machine does not have (a bug in the caller, not a race)."""


class StaleStatus(RuntimeError):
    """The row is not in the status its writer expected: someone else moved it first."""


def check(current: str, target: str) -> None:
    """Raise IllegalTransition unless `current → target` is in TRANSITIONS."""
    if target not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(f"a job cannot go from '{current}' to '{target}'")


def move(
    row: Translation,
    target: str,
    *,
    expected: Iterable[str],
    fields: Iterable[str] = (),
    save: bool = True,
    at: datetime | None = None,
) -> Translation:
    """Move a (locked) row to `target`: check that it is in one of the `expected` statuses
    (else StaleStatus) and that the move exists (else IllegalTransition), set the status and
    the timestamp that goes with it (`at`, when it happened before it could be written: a run
    that ended while the database was away), and save the status with `fields` (the caller's
    other changes). `save=False` for a caller that saves the whole row itself."""
    expected = frozenset(expected)
    if row.status not in expected:
        raise StaleStatus(
            f"translation {row.id} is '{row.status}', not {' or '.join(sorted(expected))}"
        )
    check(row.status, target)
    now = at or timezone.now()
    changed = {"status", *fields}
    if target == Status.RUNNING:
        row.started_at = now
        changed.add("started_at")
    elif target == Status.QUEUED:
        row.enqueued_at = now
        changed.add("enqueued_at")
    else:
        row.finished_at = now
        changed.add("finished_at")
    row.status = target
    if save:
        row.save(update_fields=sorted(changed))
    return row


def fail(
    row: Translation, error: str, *, expected: Iterable[str], at: datetime | None = None
) -> Translation:
    """Move a row to `failed` with a reason a person can act on."""
    row.error = error
    return move(row, Status.FAILED, expected=expected, fields=["error"], at=at)
