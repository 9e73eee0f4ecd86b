"""Writes of a job's run: a worker starts it, finishes it or fails it; and telling whoever
waits for a row that failed outside its own run."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from translation.events import Outcome
from translation.jobs import liveness, states, transient_audio
from translation.jobs.delivery import deliver_result, notify_job_status
from translation.models import Call, Translation

logger = logging.getLogger(__name__)

T = TypeVar("T")

Status = Translation.Status

WORKER_LOST_REASON = (
    "the worker translating this stopped (it was killed or lost its connection) on each of "
    "{attempts} attempts; it was not tried again: send it again, or check the worker logs if "
    "it keeps happening"
)


def start_translation(translation_id: str, *, worker: str) -> Translation | None:
    """Mark a row running on `worker` (its identity, `liveness.this_worker`). None when the
    row is unknown, finished, or running on another live worker: a duplicate or redelivered
    message (that worker finishes it). A row whose worker died is taken over, or failed once it
    has had TRANSLATION_MAX_ATTEMPTS runs.

    A live utterance cut while PostgreSQL was away (`transient_audio.is_deferred`) is written
    here once the database answers; while it does not, its unsaved row is run all the same
    (its end is written by `finish_translation`, which waits for the database). Any other
    row waits for the database up to DB_OUTAGE_HOLD_S (`written`); past it, the task retries."""
    deferred = transient_audio.deferred_row(translation_id)
    if deferred is None:  # a row the database holds: wait for it through an outage
        return written(lambda: _start(translation_id, worker))
    try:
        if database.away:  # known to be down: no wait for a connection
            raise OperationalError("the database is unreachable (DatabaseWatch)")
        return _start(translation_id, worker)
    except (OperationalError, InterfaceError):
        database.went_away()
        logger.warning(
            "translation %s: database unreachable; running its deferred row", deferred.pk
        )
        deferred.status, deferred.worker, deferred.attempts = Status.RUNNING, worker[:200], 1
        deferred.started_at = timezone.now()
        transient_audio.put_deferred_row(deferred)  # written with its worker and start
        return deferred


def _start(translation_id: str, worker: str) -> Translation | None:
    lost: Translation | None = None
    with transaction.atomic():
        row = _locked_row(translation_id)
        if row is None or row.is_terminal:
            return None
        if row.status == Status.RUNNING and row.worker != worker:
            try:
                alive = row.worker in liveness.live_workers([row.worker])
            except liveness.LivenessUnknown:
                alive = True  # cannot tell: leave it to its worker or to recovery
            if alive:
                logger.info("translation %s runs on %s; skipping a duplicate", row.id, row.worker)
                return None
            if row.attempts >= settings.TRANSLATION_MAX_ATTEMPTS:
                reason = WORKER_LOST_REASON.format(attempts=row.attempts)
                lost = states.fail(row, reason, expected=[Status.RUNNING])
        if lost is None:
            row.worker = worker[:200]
            row.attempts += 1
            submitted_at = row.meta.get("submitted_at")
            if submitted_at:
                row.timings["queue_ms"] = round((time.time() - submitted_at) * 1000.0, 2)
            states.move(
                row,
                Status.RUNNING,
                expected=[Status.QUEUED, Status.RUNNING],
                fields=["worker", "attempts", "timings"],
            )
    if lost is not None:
        tell_waiters(lost)
        return None
    notify_job_status(row)
    return row


def _locked_row(translation_id: str) -> Translation | None:
    """The row, locked for this transaction; a deferred row is inserted first (raw, so its
    `created_at` is when it was spoken), with its recording when it keeps one."""
    row = Translation.objects.select_for_update().filter(pk=translation_id).first()
    if row is not None:
        return row
    deferred = transient_audio.deferred_row(translation_id)
    if deferred is None:
        return None
    if deferred.call_id:
        Call.objects.get_or_create(id=deferred.call_id)
    if deferred.store_audio and not deferred.input_audio:
        wav = ContentFile(transient_audio.get_input(deferred.pk))
        deferred.input_audio.save(f"{deferred.pk}.wav", wav, save=False)
    deferred.save_base(raw=True, force_insert=True)
    logger.info("translation %s: deferred row written", deferred.pk)
    return Translation.objects.select_for_update().get(pk=translation_id)


def _owned_by(row: Translation, worker: str | None) -> bool:
    """May `worker` record the end of this row? Yes while the run it started is the current one,
    or when recovery re-queued the row and nobody has started it again (the re-queued message
    then finds it finished). No once it is finished or another worker has started it."""
    if row.is_terminal:
        return False
    if worker is None:  # a caller outside a worker's run (tests, tools)
        return True
    if row.status == Status.QUEUED:
        return True
    return row.status == Status.RUNNING and row.worker == worker


class DatabaseWatch:
    """Whether this process last found PostgreSQL unreachable. While it is, live utterances
    are deferred at once (`submit_utterance`, `start_translation`) instead of each waiting
    DB_POOL_TIMEOUT_S for a connection that will not come; one thread of its own tries the
    server every DB_RETRY_S and ends the outage when it answers."""

    def __init__(self) -> None:
        self._away = threading.Event()
        self._lock = threading.Lock()

    @property
    def away(self) -> bool:
        return self._away.is_set()

    @staticmethod
    def is_outage(exc: BaseException) -> bool:
        """Is `exc` PostgreSQL out of reach (not a bad query, not SQLite's lock)?"""
        return isinstance(exc, (OperationalError, InterfaceError)) and (
            connection.vendor == "postgresql"
        )

    def went_away(self) -> None:
        if connection.vendor != "postgresql":
            return
        with self._lock:
            if self._away.is_set():
                return
            self._away.set()
        logger.warning("database unreachable: deferring live rows until it answers")
        threading.Thread(target=self._wait_for_it, name="rutrans-db-watch", daemon=True).start()

    def _wait_for_it(self) -> None:
        import psycopg

        params = {**connection.get_connection_params(), "connect_timeout": 2}
        while True:
            time.sleep(settings.DB_RETRY_S)
            try:  # a connection of its own: the pool may be waiting out its reconnect backoff
                with psycopg.connect(**params) as probe:
                    probe.execute("SELECT 1")
            except psycopg.Error:
                continue
            # A new pool connects now, not at its next reconnect backoff (PostgreSQL's backend
            # only: its wrapper has the pool).
            if getattr(connection, "pool", None) is not None:
                connection.close_pool()  # type: ignore[attr-defined]
            self._away.clear()
            logger.warning("database reachable again")
            return


database = DatabaseWatch()


def written(write: Callable[[], T]) -> T:
    """`write()`, tried again every DB_RETRY_S while the database cannot be reached, for up to
    DB_OUTAGE_HOLD_S: the end of a run is already computed, and a restart or failover of
    PostgreSQL must neither lose it nor have it translated again (the task's own retry would).
    Any other database error, and the last one past the hold, is raised."""
    deadline = time.monotonic() + settings.DB_OUTAGE_HOLD_S
    while True:
        try:
            return write()
        except (OperationalError, InterfaceError) as exc:
            database.went_away()
            if time.monotonic() >= deadline:
                raise
            logger.warning(
                "database unreachable (%s); writing again in %s s", exc, settings.DB_RETRY_S
            )
            if not connection.in_atomic_block:
                connection.close_if_unusable_or_obsolete()  # the next try connects anew
            time.sleep(settings.DB_RETRY_S)


def finish_translation(
    translation_id: str, outcome: Outcome, *, worker: str | None = None
) -> Translation | None:
    """Record a finished translation (text, audio, timings) as done, waiting out a database
    outage (`written`). With `worker`, only while that worker's run is the row's current one
    (`_owned_by`); None otherwise: the outcome of a run that was superseded is dropped, so no
    translation ever produces two results."""
    return _ended(lambda ended: _record_done(translation_id, outcome, worker, ended))


def _ended(record: Callable[[datetime], Translation | None]) -> Translation | None:
    """Record the end of a run (`record(when it ended)`, whenever the database takes it: the
    workers' rate reads it), then clear its cached audio and tell its job watchers."""
    ended = timezone.now()
    row = written(lambda: record(ended))
    if row is not None:
        _forget_transient(row)
        notify_job_status(row)
    return row


def _record_done(
    translation_id: str, outcome: Outcome, worker: str | None, ended: datetime
) -> Translation | None:
    with transaction.atomic():
        row = _locked_row(translation_id)
        if row is None:
            logger.warning("translation %s: no such row; dropping its outcome", translation_id)
            return None
        if not _owned_by(row, worker):
            logger.info("translation %s: dropping the outcome of %s (%s)", row.id, worker, row)
            return None
        row.src_lang, row.tgt_lang = outcome.src, outcome.tgt
        row.text = outcome.text
        row.source_text = outcome.source_text or ""
        row.tts_failed = outcome.tts_failed
        row.error = outcome.error
        row.voice = outcome.voice
        row.timings = {**row.timings, **outcome.timings}
        row.meta = {**row.meta, **outcome.meta}
        if outcome.wav:
            _keep_output(row, outcome.wav)
        states.move(
            row, Status.DONE, expected=[Status.QUEUED, Status.RUNNING], save=False, at=ended
        )
        row.save()
    return row


def _forget_transient(row: Translation) -> None:
    """A finished row's input leaves the cache (it has its file, or it keeps none)."""
    if not row.store_audio or transient_audio.is_deferred(row):
        transient_audio.forget_input(row.id)
    if transient_audio.is_deferred(row):
        transient_audio.forget_deferred_row(row.id)


def _keep_output(row: Translation, wav: bytes) -> None:
    """The translated WAV: a file beside the row; keeping no audio, an upload's waits in the
    cache for its one download, and a live utterance's (already sent) is not kept."""
    if row.store_audio:
        row.output_audio.save(f"{row.id}.wav", ContentFile(wav), save=False)
    elif row.source == Translation.Source.UPLOAD:
        transient_audio.put_output(row.id, wav)


def fail_translation(
    translation_id: str, error: str, *, worker: str | None = None
) -> Translation | None:
    """Record that a translation failed, with a reason a person can act on. With `worker`,
    only while that worker's run is the row's current one; None when unknown or not. A database
    outage is waited out (`written`)."""
    return _ended(lambda ended: _record_failed(translation_id, error, worker, ended))


def _record_failed(
    translation_id: str, error: str, worker: str | None, ended: datetime
) -> Translation | None:
    with transaction.atomic():
        row = _locked_row(translation_id)
        if row is None or not _owned_by(row, worker):
            return None
        states.fail(row, error, expected=[Status.QUEUED, Status.RUNNING], at=ended)
    return row


def tell_waiters(row: Translation) -> None:
    """A row that failed outside its own run: its upload watchers and live session learn it."""
    notify_job_status(row)
    deliver_result(row, wav=None)
