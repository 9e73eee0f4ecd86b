"""`manage.py doctor`: what a user runs when something is wrong with the models or the GPU."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Check the worker's device and precision, the GPU, the model files, their load times "
        "and one synthetic round trip (language ID -> Canary -> the voice); exit 1 on any problem."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-load", action="store_true", help="only the device and file checks (fast)"
        )

    def handle(self, *args, **options):
        from workers import diagnostics, runtime  # torch and NeMo: only when the command runs

        checks = []
        for title, run in (
            ("Device", lambda: diagnostics.device_checks(settings)),
            ("Model files", lambda: diagnostics.model_file_checks(settings)),
            ("Storage", lambda: diagnostics.storage_checks(settings)),
        ):
            checks += self._section(title, run())
        if not options["no_load"]:
            loads, engines = diagnostics.load_checks(runtime.get_engine)
            checks += self._section("Loading (as the worker does)", loads)
            checks += self._section("Round trip", diagnostics.round_trip_check(engines))

        problems = [check for check in checks if not check.ok]
        if problems:
            summary = "; ".join(f"{check.label}: {check.problem}" for check in problems)
            raise CommandError(f"{len(problems)} problem(s): {summary}")
        self.stdout.write(self.style.SUCCESS("All checks passed."))

    def _section(self, title, checks):
        self.stdout.write(title)
        for check in checks:
            mark = "ok  " if check.ok else "FAIL"
            self.stdout.write(f"  {mark} {check.label:<20} {check.found}")
            if not check.ok:
                self.stdout.write(f"       -> {check.problem}")
        return checks
