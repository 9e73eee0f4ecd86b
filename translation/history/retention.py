"""How long the history keeps recordings and rows, and the purge that enforces it.

- HISTORY_RETENTION_DAYS: a finished row's recordings (input WAV, translated WAV, uploaded
  original) are deleted this long after it was created; its texts stay;
- HISTORY_TEXT_RETENTION_DAYS: the row itself (texts, timings) goes, with any file left;
- orphans either way: files in the storage (the media folder or the bucket) no row names
  (older than ORPHAN_GRACE_S, so a recording being stored right now is never taken), and rows
  naming a file that is gone (the reference is cleared, the text kept).

Files and rows go together: rows are changed or deleted first, their files deleted once that
has committed; a file whose deletion failed is an orphan for the next pass. The purge runs
every RETENTION_INTERVAL_S (celery beat on the real stack, the sweeper thread embedded) and by
hand (`manage.py purge_history`). Staff delete a session (or any grouping of rows: a call is
one more filter) with its audio through `delete_rows_with_audio`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from translation.history import storage
from translation.models import Call, Translation

logger = logging.getLogger(__name__)

MEDIA_FOLDERS = ("inputs", "outputs", "uploads")
"""Where the history's recordings live in the storage (under MEDIA_ROOT, or the bucket's keys);
nothing else there is touched."""
ORPHAN_GRACE_S = 3600
"""A file younger than this is never an orphan: its row may not be committed yet."""
BATCH = 500


@dataclass(frozen=True)
class RetentionPolicy:
    """Days recordings and rows are kept; None keeps them for ever."""

    audio_days: float | None
    text_days: float | None

    @classmethod
    def from_settings(cls) -> RetentionPolicy:
        return cls(
            audio_days=settings.HISTORY_RETENTION_DAYS or None,
            text_days=settings.HISTORY_TEXT_RETENTION_DAYS or None,
        )

    def audio_until(self, created_at: datetime) -> datetime | None:
        return None if self.audio_days is None else created_at + timedelta(days=self.audio_days)

    def row_until(self, created_at: datetime) -> datetime | None:
        return None if self.text_days is None else created_at + timedelta(days=self.text_days)

    def kept_until(self, created_at: datetime) -> dict[str, datetime | None]:
        """`audio_until` and `text_until` of what was created at `created_at` (None: for ever),
        as the history page shows them per call and per session."""
        return {
            "audio_until": self.audio_until(created_at),
            "text_until": self.row_until(created_at),
        }

    def describe(self) -> str:
        audio = "for ever" if self.audio_days is None else f"{self.audio_days:g} days"
        text = "for ever" if self.text_days is None else f"{self.text_days:g} days"
        return f"recordings are kept {audio}, texts {text}"


def kept_until_text(row: Translation, policy: RetentionPolicy | None = None) -> str:
    """What of a row is kept and until when, for the admin and /history."""
    policy = policy or RetentionPolicy.from_settings()
    row_until = policy.row_until(row.created_at)
    text = "text for ever" if row_until is None else f"text until {row_until:%Y-%m-%d}"
    if not has_recording(row):
        return f"no recording ({audio_gone_reason(row)}); {text}"
    audio_until = policy.audio_until(row.created_at)
    audio = "audio for ever" if audio_until is None else f"audio until {audio_until:%Y-%m-%d}"
    return f"{audio}, {text}"


def has_recording(row: Translation) -> bool:
    return bool(row.input_audio or row.output_audio or _upload_original(row))


def audio_gone_reason(row: Translation) -> str:
    """Why a row has no recording, in words for its reader."""
    removed = row.meta.get("audio_removed")
    if removed:
        return f"deleted on {removed['at'][:10]}: {removed['why']}"
    if not row.store_audio:
        return "not stored: the client or the server (STORE_AUDIO=0) keeps no recordings"
    return "not stored"


# --- what a row names on disk ---------------------------------------------------------------


def _upload_original(row: Translation) -> str:
    return str((row.meta.get("upload") or {}).get("stored_as") or "")


def _files_of(row: Translation) -> list[str]:
    names = [
        str(row.input_audio.name or ""),
        str(row.output_audio.name or ""),
        _upload_original(row),
    ]
    return [name for name in names if name]


def _without_files(row: Translation, why: str, now: datetime) -> None:
    """Forget the row's recordings (the caller deletes the files after the commit)."""
    row.input_audio = ""
    row.output_audio = ""
    meta = dict(row.meta)
    if "upload" in meta:
        meta["upload"] = {k: v for k, v in meta["upload"].items() if k != "stored_as"}
    meta["audio_removed"] = {"at": now.isoformat(), "why": why}
    row.meta = meta
    row.save(update_fields=["input_audio", "output_audio", "meta"])


def _delete_files(names: Iterable[str]) -> list[str]:
    """Delete files through the storage API (and, in a local media folder, the upload
    folders they leave empty: an object store has no folders); returns those deleted."""
    deleted = []
    local = storage.storage_is_local()
    for name in names:
        try:
            default_storage.delete(name)
        except Exception as exc:  # noqa: BLE001 - OSError locally, botocore's errors for S3
            logger.warning("retention: could not delete %s: %s (an orphan now)", name, exc)
            continue
        deleted.append(name)
        if local:
            _remove_empty_upload_folder(name)
    return deleted


def _remove_empty_upload_folder(name: str) -> None:
    parent = Path(settings.MEDIA_ROOT, name).parent
    if parent.parent == Path(settings.MEDIA_ROOT, "uploads"):
        try:
            parent.rmdir()
        except OSError:  # not empty, or gone
            pass


# --- orphans ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Orphans:
    """Files no row names, and (row id, file) pairs naming a missing file."""

    files_without_rows: list[str]
    rows_missing_files: list[tuple[str, str]]


def find_orphans(*, now: float | None = None) -> Orphans:
    """Both kinds of orphan (reads only)."""
    now = time.time() if now is None else now
    named: dict[str, list[str]] = {}  # file -> the rows naming it
    for row in Translation.objects.only("id", "input_audio", "output_audio", "meta").iterator():
        for name in _files_of(row):
            named.setdefault(name, []).append(str(row.id))
    # Listed after the rows were read: a file a row read above names is listed unless it went.
    present: set[str] = set()
    unnamed: list[str] = []
    for folder in MEDIA_FOLDERS:
        for name, modified in storage.stored_files(folder):
            if modified is None:  # gone meanwhile
                continue
            present.add(name)
            if name not in named and now - modified >= ORPHAN_GRACE_S:
                unnamed.append(name)
    missing = [
        (row_id, name)
        for name, row_ids in named.items()
        if name not in present and not default_storage.exists(name)  # one more look
        for row_id in row_ids
    ]
    return Orphans(sorted(unnamed), sorted(missing))


# --- the purge --------------------------------------------------------------------------------


@dataclass
class PurgeReport:
    """What a purge did (or, dry, would do)."""

    dry_run: bool
    rows_deleted: int = 0
    rows_audio_removed: int = 0
    files_deleted: list[str] = field(default_factory=list)
    orphans: Orphans = field(default_factory=lambda: Orphans([], []))

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        return (
            f"{verb} {self.rows_deleted} rows, the recordings of {self.rows_audio_removed} more "
            f"rows, {len(self.files_deleted)} files; orphans: "
            f"{len(self.orphans.files_without_rows)} files without a row, "
            f"{len(self.orphans.rows_missing_files)} rows naming a missing file"
        )


def purge_history(
    *,
    audio_older_than: timedelta | None,
    rows_older_than: timedelta | None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> PurgeReport:
    """Delete finished rows created more than `rows_older_than` ago with their files, and the
    recordings of finished rows older than `audio_older_than` (None: keep); then the orphans.
    Rows still queued or running are never touched. Dry: report only."""
    now = now or timezone.now()
    report = PurgeReport(dry_run=dry_run)
    finished = Translation.objects.filter(status__in=Translation.TERMINAL)
    if rows_older_than is not None:
        old_rows = finished.filter(created_at__lt=now - rows_older_than)
        report.rows_deleted, files = _delete_rows(old_rows, dry_run=dry_run)
        report.files_deleted += files
    if audio_older_than is not None:
        days = audio_older_than.total_seconds() / 86400
        why = f"older than {days:g} days (HISTORY_RETENTION_DAYS)"
        old_audio = finished.filter(created_at__lt=now - audio_older_than)
        if rows_older_than is not None:  # those go whole (a dry run has not deleted them)
            old_audio = old_audio.filter(created_at__gte=now - rows_older_than)
        report.rows_audio_removed, files = _remove_recordings(old_audio, why, dry_run=dry_run)
        report.files_deleted += files
    report.orphans = find_orphans(now=now.timestamp())
    if not dry_run:
        report.files_deleted += _remove_orphans(report.orphans, now)
    return report


def enforce_retention() -> PurgeReport:
    """The periodic purge: the settings' policy (HISTORY_RETENTION_DAYS, _TEXT_)."""
    policy = RetentionPolicy.from_settings()
    report = purge_history(
        audio_older_than=None if policy.audio_days is None else timedelta(days=policy.audio_days),
        rows_older_than=None if policy.text_days is None else timedelta(days=policy.text_days),
    )
    if report.rows_deleted or report.rows_audio_removed or report.files_deleted:
        logger.info("retention: %s", report.summary())
    return report


def _delete_rows(rows: QuerySet, *, dry_run: bool) -> tuple[int, list[str]]:
    deleted, files = 0, []
    ids = list(rows.values_list("pk", flat=True))
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        with transaction.atomic():
            batch = list(Translation.objects.select_for_update().filter(pk__in=chunk))
            names = [name for row in batch for name in _files_of(row)]
            if not dry_run:
                Translation.objects.filter(pk__in=[row.pk for row in batch]).delete()
        deleted += len(batch)
        files += names if dry_run else _delete_files(names)
    return deleted, files


def _remove_recordings(rows: QuerySet, why: str, *, dry_run: bool) -> tuple[int, list[str]]:
    changed, files = 0, []
    with_audio = rows.filter(
        ~Q(input_audio="") | ~Q(output_audio="") | Q(meta__upload__has_key="stored_as")
    )
    ids = list(with_audio.values_list("pk", flat=True))
    now = timezone.now()
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        with transaction.atomic():
            batch = list(Translation.objects.select_for_update().filter(pk__in=chunk))
            names = [name for row in batch for name in _files_of(row)]
            if not dry_run:
                for row in batch:
                    _without_files(row, why, now)
        changed += len(batch)
        files += names if dry_run else _delete_files(names)
    return changed, files


def _remove_orphans(orphans: Orphans, now: datetime) -> list[str]:
    deleted = _delete_files(orphans.files_without_rows)
    by_row: dict[str, list[str]] = {}
    for row_id, name in orphans.rows_missing_files:
        by_row.setdefault(row_id, []).append(name)
    for row_id, names in by_row.items():
        with transaction.atomic():
            row = Translation.objects.select_for_update().filter(pk=row_id).first()
            if row is None:
                continue
            present = [name for name in _files_of(row) if name not in names]
            _without_files(row, "its file was missing from the storage", now)
        _delete_files(present)  # the rest of a half-missing recording goes too
    return deleted


# --- staff: delete a session (or a call, or any selection) with its audio ----------------------


def delete_rows_with_audio(rows: QuerySet) -> tuple[int, list[str]]:
    """Delete these rows and every recording they name; returns (rows, files deleted)."""
    return _delete_rows(rows, dry_run=False)


def delete_call(call_id: str) -> int:
    """Delete a call (or a live page, a call of one lane): every utterance of its lanes and
    connections with their recordings, then the call itself; returns how many rows went."""
    deleted, _files = delete_rows_with_audio(Translation.objects.filter(call_id=call_id))
    Call.objects.filter(pk=call_id).delete()
    return deleted


def delete_session(session_id: str) -> int:
    """Delete a live session's rows and recordings; returns how many rows went."""
    deleted, _files = delete_rows_with_audio(
        Translation.objects.filter(source=Translation.Source.LIVE, session_id=session_id)
    )
    return deleted
