"""`python manage.py fetch_models`: download Canary, language ID, the Silero voices and the
chosen Piper voices once, so that the worker runs offline afterwards (`HF_HUB_OFFLINE=1`)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Download the translation, language-ID and TTS models into the local caches."

    def add_arguments(self, parser):
        parser.add_argument(
            "--only",
            action="append",
            choices=["canary", "lid", "silero", "piper"],
            help="fetch only this component (repeatable); default: all",
        )
        parser.add_argument(
            "--languages",
            default="ru,en",
            help="Silero voices to fetch, comma-separated (default: ru,en)",
        )
        parser.add_argument(
            "--piper-voices",
            default="chosen",
            help="Piper voices to fetch: `chosen` (the Piper ones of TTS_VOICE_RU/TTS_VOICE_EN, "
            "the default), `all` (every Piper voice offered) or comma-separated ids "
            "(piper:ru_RU-denis-medium,...)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args, **options):
        from workers.models_fetch import COMPONENTS, all_piper_voices, fetch_models

        languages = [lang.strip() for lang in options["languages"].split(",") if lang.strip()]
        bad = [lang for lang in languages if lang not in ("ru", "en")]
        if bad:
            raise CommandError(f"unknown language(s) {bad}: use ru and/or en")
        piper_voices = self._piper_voices(options["piper_voices"], all_piper_voices())
        try:
            fetch_models(
                only=options["only"] or COMPONENTS,
                languages=languages,
                canary_model=settings.CANARY_MODEL,
                lid_model=settings.LID_MODEL,
                silero_cache_dir=settings.SILERO_CACHE_DIR,
                silero_base_url=settings.SILERO_BASE_URL,
                piper_voices_dir=settings.PIPER_VOICES_DIR,
                piper_voices=piper_voices,
                piper_base_url=settings.PIPER_BASE_URL,
                progress=not options["no_progress"],
                report=lambda line: self.stdout.write(line),
            )
        except Exception as exc:
            raise CommandError(f"download failed: {type(exc).__name__}: {exc}") from exc
        self.stdout.write(self.style.SUCCESS("models are ready; the worker can run offline"))

    @staticmethod
    def _piper_voices(choice: str, offered: list[str]) -> list[str]:
        if choice == "chosen":
            chosen = (settings.TTS_VOICE_RU, settings.TTS_VOICE_EN)
            return [voice for voice in chosen if voice in offered]
        if choice == "all":
            return offered
        voices = [v.strip() for v in choice.split(",") if v.strip()]
        voices = [v if v.startswith("piper:") else f"piper:{v}" for v in voices]
        if unknown := [v for v in voices if v not in offered]:
            raise CommandError(f"unknown Piper voice(s) {unknown}: choose from {offered}")
        return voices
