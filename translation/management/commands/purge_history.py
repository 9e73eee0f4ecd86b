"""`manage.py purge_history`: the retention purge by hand, with a dry run."""

from __future__ import annotations

import re
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from translation.history.retention import RetentionPolicy, purge_history

UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_age(text: str) -> timedelta:
    """`30d`, `12h`, `90m`, `45s` (a number and a unit)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dhms])\s*", text or "")
    if match is None:
        raise CommandError(f"--older-than {text!r}: use a number and a unit, e.g. 30d, 12h, 90m")
    return timedelta(**{UNITS[match[2]]: float(match[1])})


class Command(BaseCommand):
    help = (
        "Delete old history: with --older-than, finished rows older than that with their "
        "recordings (only the recordings with --audio-only); without, what the settings say "
        "(HISTORY_RETENTION_DAYS for recordings, HISTORY_TEXT_RETENTION_DAYS for rows). "
        "Orphans are listed and removed either way: files no row names, rows naming a "
        "missing file. --dry-run changes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--older-than", metavar="AGE", help="e.g. 30d, 12h, 90m")
        parser.add_argument(
            "--audio-only", action="store_true", help="delete recordings, keep the rows"
        )
        parser.add_argument("--dry-run", action="store_true", help="report, change nothing")

    def handle(self, *args, older_than: str | None, audio_only: bool, dry_run: bool, **options):
        audio: timedelta | None
        rows: timedelta | None
        if older_than is not None:
            age = parse_age(older_than)
            audio, rows = age, (None if audio_only else age)
        else:
            policy = RetentionPolicy.from_settings()
            self.stdout.write(f"policy: {policy.describe()}")
            audio = None if policy.audio_days is None else timedelta(days=policy.audio_days)
            rows = (
                None if policy.text_days is None or audio_only else timedelta(days=policy.text_days)
            )
        report = purge_history(audio_older_than=audio, rows_older_than=rows, dry_run=dry_run)
        for name in report.orphans.files_without_rows:
            self.stdout.write(f"orphan file (no row names it): {name}")
        for row_id, name in report.orphans.rows_missing_files:
            self.stdout.write(f"orphan row {row_id}: its file {name} is missing")
        for name in report.files_deleted if dry_run else ():
            self.stdout.write(f"would delete {name}")
        self.stdout.write(("dry run: " if dry_run else "") + report.summary())
