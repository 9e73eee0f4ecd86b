"""`python manage.py fetch_models`: download Canary, language ID and the Silero voices once,
so that the worker runs offline afterwards (`HF_HUB_OFFLINE=1`)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Download the translation, language-ID and TTS models into the local caches."

    def add_arguments(self, parser):
        parser.add_argument(
            "--only",
            action="append",
            choices=["canary", "lid", "silero"],
            help="fetch only this component (repeatable); default: all",
        )
        parser.add_argument(
            "--languages",
            default="ru,en",
            help="Silero voices to fetch, comma-separated (default: ru,en)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args, **options):
        from workers.models_fetch import COMPONENTS, fetch_models

        languages = [lang.strip() for lang in options["languages"].split(",") if lang.strip()]
        bad = [lang for lang in languages if lang not in ("ru", "en")]
        if bad:
            raise CommandError(f"unknown language(s) {bad}: use ru and/or en")
        try:
            fetch_models(
                only=options["only"] or COMPONENTS,
                languages=languages,
                canary_model=settings.CANARY_MODEL,
                lid_model=settings.LID_MODEL,
                silero_cache_dir=settings.SILERO_CACHE_DIR,
                silero_base_url=settings.SILERO_BASE_URL,
                progress=not options["no_progress"],
                report=lambda line: self.stdout.write(line),
            )
        except Exception as exc:
            raise CommandError(f"download failed: {type(exc).__name__}: {exc}") from exc
        self.stdout.write(self.style.SUCCESS("models are ready; the worker can run offline"))
