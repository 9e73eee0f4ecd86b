"""`manage.py protocol_schema`: write the WebSocket protocol's JSON Schema for the UI."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from translation.protocol.schema import protocol_schema_json

SCHEMA_PATH = Path(settings.BASE_DIR) / "static" / "js" / "protocol.schema.json"


class Command(BaseCommand):
    help = (
        "Generate static/js/protocol.schema.json from the protocol's models "
        "(translation/protocol/); --check only reports whether it is up to date."
    )

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")

    def handle(self, *args, **options):
        wanted = protocol_schema_json()
        current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
        if options["check"]:
            if current != wanted:
                raise CommandError(
                    f"{SCHEMA_PATH} is stale: run `python manage.py protocol_schema`"
                )
            self.stdout.write(f"{SCHEMA_PATH} is up to date")
            return
        SCHEMA_PATH.write_text(wanted, encoding="utf-8")
        self.stdout.write(f"wrote {SCHEMA_PATH}")
