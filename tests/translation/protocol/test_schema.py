"""The WebSocket protocol's JSON Schema: the committed file is what the models generate, real
messages fit the models, and the UI's JavaScript handles every server → client type."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from translation.jobs.selectors import job_state
from translation.models import Translation
from translation.protocol import messages, schema
from translation.protocol.messages import (
    CaptionsStatus,
    HistoryStatus,
    ReadyStatus,
    audio_end_message,
    error_message,
    history_status_message,
    result_message,
)
from translation.streaming.captions import UtteranceAgreement, partial_message

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_FILE = ROOT / "static" / "js" / "protocol.schema.json"
# Where the UI receives each socket's messages.
HANDLERS = {
    "/ws/translate": ROOT / "static/js/ws-client.js",
    "/ws/jobs/<id>": ROOT / "static/js/upload.js",
}


def test_the_committed_schema_is_up_to_date():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema.protocol_schema_json(), (
        "static/js/protocol.schema.json is stale: run `python manage.py protocol_schema`"
    )
    call_command("protocol_schema", "--check")


def test_the_check_fails_for_a_stale_file(tmp_path, monkeypatch):
    from translation.management.commands import protocol_schema as command

    monkeypatch.setattr(command, "SCHEMA_PATH", tmp_path / "protocol.schema.json")
    with pytest.raises(CommandError, match="is stale"):
        call_command("protocol_schema", "--check")
    call_command("protocol_schema")
    call_command("protocol_schema", "--check")


def test_the_schema_lists_each_socket_and_its_messages():
    document = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert document["client_to_server"] == {"/ws/translate": {"$ref": "#/$defs/ControlMessage"}}
    for path, types in schema.server_message_types().items():
        refs = [
            item["$ref"].rsplit("/", 1)[1] for item in document["server_to_client"][path]["oneOf"]
        ]
        consts = [document["$defs"][name]["properties"]["type"]["const"] for name in refs]
        assert consts == types


@pytest.mark.parametrize(("path", "message_type"), [
    (path, message_type)
    for path, types in schema.server_message_types().items()
    for message_type in types
])  # fmt: skip
def test_the_ui_handles_every_server_message_type(path, message_type):
    source = HANDLERS[path].read_text(encoding="utf-8")
    handled = re.search(rf"""(type\s*===\s*|case\s+)["']{re.escape(message_type)}["']""", source)
    assert handled, f"{HANDLERS[path].name} has no handler for {message_type!r} messages of {path}"


def test_real_messages_fit_their_models():
    result = result_message(
        seq=0, translation_id="x", src="en", tgt="ru", text="т", source_text="t",
        tts_failed=False, timings={"ast_ms": 1.0}, start_s=0.0, end_s=1.0,
        lid={"lang": "en", "confidence": 0.9},
    )  # fmt: skip
    messages.ResultMessage.model_validate_json(result.wire())
    messages.AudioEndMessage.model_validate_json(audio_end_message(seq=0, pieces=2, error="e"))
    messages.ErrorMessage.model_validate_json(error_message("bad", seq=3))
    paused = HistoryStatus.model_validate_json(history_status_message("history_paused", 5))
    assert (paused.state, paused.seq) == ("history_paused", 5) and "database" in paused.message
    full = HistoryStatus.model_validate_json(history_status_message("recording_paused", 6))
    assert "disk is full" in full.message
    ReadyStatus.model_validate_json(ReadyStatus(session="abc").wire())
    CaptionsStatus.model_validate_json(CaptionsStatus(seq=1, due=3, sent=2, skipped=1).wire())
    partial = partial_message(
        seq=1, part=2, src="en", tgt="ru", text="т", source_text=None, start_s=0.0,
        end_s=1.0, speech_s=0.8, timings={"ast_ms": 2.0},
    )  # fmt: skip
    # What the session sends: the worker's partial after local agreement (with `stable`).
    messages.PartialMessage.model_validate_json(partial.wire())
    messages.PartialMessage.model_validate_json(UtteranceAgreement().apply(partial).wire())
    row = Translation(status=Translation.Status.QUEUED, source=Translation.Source.UPLOAD)
    messages.JobMessage.model_validate_json(job_state(row).wire())


def test_an_unknown_field_does_not_fit():
    with pytest.raises(ValueError, match="extra"):
        messages.ErrorMessage.model_validate({"type": "error", "error": "x", "surprise": 1})
