"""Retention: exactly the old recordings and rows go, files with their rows; orphans either
way are listed and removed; staff delete a session with its audio."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from translation.history import retention
from translation.models import Translation

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.HISTORY_RETENTION_DAYS = 30
    settings.HISTORY_TEXT_RETENTION_DAYS = 365
    return settings.MEDIA_ROOT


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def row_with_files(
    age: timedelta, *, status="done", source="live", original=False, session_id=""
) -> Translation:
    row = Translation.objects.create(
        source=source, status=status, session_id=session_id, text="hello", source_text="привет"
    )
    row.input_audio.save(f"{row.id}.wav", ContentFile(b"RIFF-in"), save=False)
    row.output_audio.save(f"{row.id}.wav", ContentFile(b"RIFF-out"), save=False)
    if original:
        name = default_storage.save(f"uploads/{row.id}/original.mp3", ContentFile(b"ID3"))
        row.meta = {"upload": {"filename": "a.mp3", "stored_as": name}}
    row.save()
    Translation.objects.filter(pk=row.pk).update(created_at=timezone.now() - age)
    return Translation.objects.get(pk=row.pk)


def names_of(row: Translation) -> set[str]:
    names = {row.input_audio.name, row.output_audio.name}
    stored = (row.meta.get("upload") or {}).get("stored_as")
    return names | ({stored} if stored else set())


def make_old(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_the_policy_removes_old_audio_then_old_rows_and_nothing_else(media):
    fresh = row_with_files(29 * DAY)
    old_audio = row_with_files(31 * DAY, source="upload", original=True)
    old_row = row_with_files(366 * DAY)
    running = row_with_files(400 * DAY, status="running")  # never touched while unfinished
    kept_files = names_of(fresh) | names_of(running)
    assert files_under(media) == kept_files | names_of(old_audio) | names_of(old_row)

    report = retention.enforce_retention()

    assert (report.rows_deleted, report.rows_audio_removed) == (1, 1)
    assert set(report.files_deleted) == names_of(old_audio) | names_of(old_row)
    assert files_under(media) == kept_files
    assert not (media / "uploads" / str(old_audio.id)).exists()  # its folder too
    assert set(Translation.objects.values_list("pk", flat=True)) == {
        fresh.pk,
        old_audio.pk,
        running.pk,
    }
    old_audio.refresh_from_db()
    assert not old_audio.input_audio and not old_audio.output_audio
    assert "stored_as" not in old_audio.meta["upload"] and old_audio.text == "hello"
    assert "HISTORY_RETENTION_DAYS" in retention.audio_gone_reason(old_audio)
    assert report.orphans == retention.Orphans([], [])
    # A second pass finds nothing more to do.
    again = retention.enforce_retention()
    assert (again.rows_deleted, again.rows_audio_removed, again.files_deleted) == (0, 0, [])


def test_zero_days_keeps_for_ever(media, settings):
    settings.HISTORY_RETENTION_DAYS = 0
    settings.HISTORY_TEXT_RETENTION_DAYS = 0
    row = row_with_files(5000 * DAY)
    report = retention.enforce_retention()
    assert (report.rows_deleted, report.rows_audio_removed) == (0, 0)
    assert files_under(media) == names_of(row)


def test_a_dry_run_changes_nothing(media):
    row = row_with_files(400 * DAY)
    before = files_under(media)
    report = retention.purge_history(audio_older_than=DAY, rows_older_than=DAY, dry_run=True)
    assert report.rows_deleted == 1 and set(report.files_deleted) == names_of(row)
    assert files_under(media) == before and Translation.objects.filter(pk=row.pk).exists()


def test_orphans_in_both_directions_are_listed_then_removed(media):
    row = row_with_files(DAY)
    half = row_with_files(DAY)
    (media / half.output_audio.name).unlink()  # a row naming a missing file
    stray = media / "outputs" / "stray.wav"  # a file no row names
    stray.write_bytes(b"RIFF")
    make_old(stray, retention.ORPHAN_GRACE_S + 60)
    fresh_stray = media / "inputs" / "being-stored.wav"  # maybe its row is not committed yet
    fresh_stray.write_bytes(b"RIFF")
    elsewhere = media / "notes.txt"  # not one of the history's folders: never touched
    elsewhere.write_text("x")
    make_old(elsewhere, retention.ORPHAN_GRACE_S + 60)

    found = retention.find_orphans()
    assert found.files_without_rows == ["outputs/stray.wav"]
    assert found.rows_missing_files == [(str(half.id), half.output_audio.name)]

    report = retention.purge_history(audio_older_than=None, rows_older_than=None)
    assert report.orphans == found
    assert not stray.exists() and fresh_stray.exists() and elsewhere.exists()
    half.refresh_from_db()
    assert not half.input_audio and not half.output_audio and half.text == "hello"
    assert "missing" in half.meta["audio_removed"]["why"]
    assert files_under(media) == names_of(row) | {"inputs/being-stored.wav", "notes.txt"}
    assert retention.find_orphans() == retention.Orphans([], [])


def test_staff_delete_a_session_with_its_audio(media):
    session = [row_with_files(DAY, session_id="a" * 32) for _ in range(3)]
    other = row_with_files(DAY, session_id="b" * 32)
    assert retention.delete_session("a" * 32) == 3
    assert list(Translation.objects.values_list("pk", flat=True)) == [other.pk]
    assert files_under(media) == names_of(other)
    assert all(not (media / name).exists() for row in session for name in names_of(row))


def test_staff_delete_a_call_with_both_lanes_and_their_audio(media):
    from translation.models import Call

    call, other_call = Call.objects.create(id="c" * 32), Call.objects.create(id="d" * 32)
    lanes = [row_with_files(DAY, session_id=s * 32) for s in "mt"]
    reconnect = row_with_files(DAY, session_id="n" * 32)  # the me lane again, a new connection
    kept = row_with_files(DAY, session_id="o" * 32)
    for row, speaker in zip([*lanes, reconnect], ["me", "them", "me"], strict=True):
        Translation.objects.filter(pk=row.pk).update(call=call, speaker=speaker)
    Translation.objects.filter(pk=kept.pk).update(call=other_call, speaker="me")

    assert retention.delete_call(call.id) == 3
    assert list(Translation.objects.values_list("pk", flat=True)) == [kept.pk]
    assert list(Call.objects.values_list("pk", flat=True)) == [other_call.pk]
    assert files_under(media) == names_of(kept)
    assert retention.delete_call("e" * 32) == 0  # unknown: nothing to do


def test_kept_until_says_what_is_kept_and_until_when(media, settings):
    row = row_with_files(DAY)
    day = row.created_at
    text = retention.kept_until_text(row)
    assert text == (
        f"audio until {(day + 30 * DAY):%Y-%m-%d}, text until {(day + 365 * DAY):%Y-%m-%d}"
    )
    unstored = Translation.objects.create(store_audio=False, status="done")
    assert retention.kept_until_text(unstored).startswith("no recording (not stored: ")
    settings.HISTORY_TEXT_RETENTION_DAYS = 0
    assert retention.kept_until_text(unstored).endswith("text for ever")
