"""`manage.py sweep_stale`: mark translations stuck in queued/running as failed, once."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from translation.jobs.recovery import fail_stale_translations


class Command(BaseCommand):
    help = (
        "Mark translations still queued or running after STALE_TRANSLATION_S (or --older-than) "
        "as failed, telling their live session or upload watchers. Workers and the web process "
        "do this every STALE_SWEEP_INTERVAL_S on their own."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--older-than",
            type=float,
            default=None,
            metavar="SECONDS",
            help="age after which a queued/running translation counts as stuck "
            "(default: STALE_TRANSLATION_S)",
        )

    def handle(self, *args, older_than: float | None, **options) -> None:
        threshold = settings.STALE_TRANSLATION_S if older_than is None else older_than
        failed = fail_stale_translations(older_than_s=threshold)
        for row in failed:
            self.stdout.write(f"{row.id} {row.source} failed: {row.error}")
        self.stdout.write(
            f"{len(failed)} stuck translation(s) marked failed (older than {threshold:.0f} s)"
        )
