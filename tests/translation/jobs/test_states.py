"""The job state machine (translation/jobs/states.py) and its users: start, finish, fail,
stale and recovery. PostgreSQL only (the embedded liveness: no Redis needed)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from translation.events import Outcome
from translation.jobs import lifecycle, recovery, states
from translation.jobs.liveness import this_worker
from translation.models import Translation

Status = Translation.Status

ALL = [Status.QUEUED, Status.RUNNING, Status.DONE, Status.FAILED]
ALLOWED = {
    (Status.QUEUED, Status.QUEUED),
    (Status.QUEUED, Status.RUNNING),
    (Status.QUEUED, Status.DONE),
    (Status.QUEUED, Status.FAILED),
    (Status.RUNNING, Status.RUNNING),
    (Status.RUNNING, Status.QUEUED),
    (Status.RUNNING, Status.DONE),
    (Status.RUNNING, Status.FAILED),
}


@pytest.mark.parametrize("current", ALL)
@pytest.mark.parametrize("target", ALL)
def test_the_table_allows_exactly_these_moves(current, target):
    if (current, target) in ALLOWED:
        states.check(current, target)
    else:
        with pytest.raises(states.IllegalTransition, match=f"from '{current}' to '{target}'"):
            states.check(current, target)


def test_a_move_sets_the_status_and_its_timestamp_without_a_database():
    row = Translation(status=Status.QUEUED)
    states.move(row, Status.RUNNING, expected=[Status.QUEUED], save=False)
    assert row.status == Status.RUNNING and row.started_at is not None
    states.move(row, Status.QUEUED, expected=[Status.RUNNING], save=False)
    assert row.status == Status.QUEUED and row.enqueued_at is not None
    states.move(row, Status.DONE, expected=[Status.QUEUED], save=False)
    assert row.status == Status.DONE and row.finished_at is not None


def test_the_status_guard_refuses_a_row_someone_else_moved():
    row = Translation(status=Status.DONE)
    with pytest.raises(states.StaleStatus, match="is 'done', not queued or running"):
        states.move(row, Status.FAILED, expected=[Status.QUEUED, Status.RUNNING], save=False)
    assert row.status == Status.DONE and row.finished_at is None


def test_final_statuses_go_nowhere_even_when_expected():
    with pytest.raises(states.IllegalTransition):
        states.fail(Translation(status=Status.FAILED), "again", expected=[Status.FAILED])


def test_the_status_order_lives_on_the_model():
    ranks = [Translation.status_rank(s) for s in ALL]
    assert ranks == [0, 1, 2, 2] and Translation.status_rank("unheard-of") == 0


# --- with the database -----------------------------------------------------------------------


def row_of(status=Status.QUEUED, *, age_s=0.0, **fields) -> Translation:
    row = Translation.objects.create(id=uuid.uuid4(), source="upload", status=status, **fields)
    then = timezone.now() - timedelta(seconds=age_s)
    Translation.objects.filter(pk=row.pk).update(
        created_at=then, enqueued_at=then, started_at=then if status == Status.RUNNING else None
    )
    return Translation.objects.get(pk=row.pk)


def outcome() -> Outcome:
    return Outcome(
        src="en", tgt="ru", text="т", source_text="t", wav=None, tts_failed=False,
        timings={"ast_ms": 1.0}, meta={},
    )  # fmt: skip


@pytest.mark.django_db
def test_start_then_finish_moves_queued_to_running_to_done():
    row = row_of()
    started = lifecycle.start_translation(str(row.pk), worker=this_worker())
    assert started is not None and started.status == Status.RUNNING and started.attempts == 1
    done = lifecycle.finish_translation(str(row.pk), outcome(), worker=this_worker())
    assert done is not None and done.status == Status.DONE and done.finished_at is not None
    # A finished row is never started, finished or failed again.
    assert lifecycle.start_translation(str(row.pk), worker=this_worker()) is None
    assert lifecycle.finish_translation(str(row.pk), outcome()) is None
    assert lifecycle.fail_translation(str(row.pk), "late") is None
    assert Translation.objects.get(pk=row.pk).status == Status.DONE


@pytest.mark.django_db
def test_a_row_running_on_a_dead_worker_is_taken_over_or_failed_after_its_last_attempt(settings):
    settings.TRANSLATION_MAX_ATTEMPTS = 2
    row = row_of(Status.RUNNING, worker="gone#1", attempts=1)
    taken = lifecycle.start_translation(str(row.pk), worker=this_worker())
    assert taken is not None and taken.attempts == 2 and taken.worker == this_worker()
    Translation.objects.filter(pk=row.pk).update(worker="gone#2")
    assert lifecycle.start_translation(str(row.pk), worker=this_worker()) is None
    failed = Translation.objects.get(pk=row.pk)
    assert failed.status == Status.FAILED and "on each of 2 attempts" in failed.error


@pytest.mark.django_db
def test_only_the_current_run_records_its_end():
    row = row_of(Status.RUNNING, worker=this_worker(), attempts=1)
    assert lifecycle.fail_translation(str(row.pk), "boom", worker="other#1") is None
    failed = lifecycle.fail_translation(str(row.pk), "boom", worker=this_worker())
    assert failed is not None and (failed.status, failed.error) == (Status.FAILED, "boom")


@pytest.mark.django_db
def test_stale_rows_fail_through_the_state_machine():
    old_queued, old_running = row_of(age_s=600), row_of(Status.RUNNING, age_s=600)
    fresh, done = row_of(age_s=5), row_of(Status.DONE, age_s=600)
    failed = recovery.fail_stale_translations(older_than_s=300)
    assert {r.pk for r in failed} == {old_queued.pk, old_running.pk}
    statuses = dict(Translation.objects.values_list("pk", "status"))
    assert statuses[fresh.pk] == Status.QUEUED and statuses[done.pk] == Status.DONE
    assert all(r.finished_at is not None and "no worker finished" in r.error for r in failed)


@pytest.mark.django_db
def test_recovery_requeues_a_dead_workers_row_and_stamps_enqueued_at(dispatched, settings):
    settings.TRANSLATION_MAX_ATTEMPTS = 3
    row = row_of(Status.RUNNING, age_s=60, worker="gone#1", attempts=1)
    before = row.enqueued_at
    result = recovery.recover_translations()
    assert [r.pk for r in result.requeued] == [row.pk]
    again = Translation.objects.get(pk=row.pk)
    assert again.status == Status.QUEUED and again.meta["recovered"] == ["gone#1"]
    assert again.enqueued_at > before


# --- lost queued work, from what the database knows ----------------------------------------


@pytest.fixture
def broker_mode(settings, dispatched):
    """Recovery as on the real stack (a broker that can lose messages), nothing really sent."""
    settings.EMBEDDED = False
    settings.WORKER_DEAD_AFTER_S = 15
    settings.TRANSLATION_MAX_ATTEMPTS = 2
    return dispatched


@pytest.mark.django_db
def test_a_lone_old_queued_row_on_an_idle_queue_is_sent_again(
    broker_mode, django_capture_on_commit_callbacks
):
    lost = row_of(age_s=60)
    fresh = row_of(age_s=2)
    with django_capture_on_commit_callbacks(execute=True):
        assert recovery._resend_lost_tasks() == [str(lost.pk)]
    assert broker_mode == [str(lost.pk)]
    again = Translation.objects.get(pk=lost.pk)
    assert again.meta["resent"] == 1 and again.enqueued_at > lost.enqueued_at
    assert Translation.objects.get(pk=fresh.pk).meta == {}
    # Re-sent just now: not again until another WORKER_DEAD_AFTER_S has gone by.
    assert recovery._resend_lost_tasks() == []


@pytest.mark.django_db
def test_a_row_the_fifo_queue_moved_past_is_sent_again(broker_mode):
    lost = row_of(age_s=90)
    later = row_of(Status.RUNNING, age_s=60, worker="w#1")  # enqueued after it, long started
    assert recovery._resend_lost_tasks() == [str(lost.pk)]
    assert Translation.objects.get(pk=later.pk).status == Status.RUNNING


@pytest.mark.django_db
def test_a_backlog_waiting_its_turn_is_not_sent_again(broker_mode):
    row_of(Status.RUNNING, age_s=120, worker="w#1")  # enqueued before the backlog
    backlog = [row_of(age_s=age) for age in (100, 80, 60)]
    assert recovery._resend_lost_tasks() == []
    assert broker_mode == [] and all(Translation.objects.get(pk=r.pk).meta == {} for r in backlog)


@pytest.mark.django_db
def test_a_row_is_sent_again_at_most_max_attempts_times(broker_mode):
    lost = row_of(age_s=60)
    Translation.objects.filter(pk=lost.pk).update(meta={"resent": 2})
    assert recovery._resend_lost_tasks() == []


@pytest.mark.django_db
def test_embedded_nothing_is_lost_so_nothing_is_sent_again(settings, dispatched):
    settings.EMBEDDED = True
    row_of(age_s=600)
    assert recovery._resend_lost_tasks() == []
