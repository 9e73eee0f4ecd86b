"""The WebSocket messages as pydantic models, and the JSON Schema generated from them.

Client → server: `ControlMessage` (protocol.py, which validates it). Server → client: the models
below describe what the builders in protocol.py, captions.py and the job selectors produce
(tests validate real messages against them). `manage.py protocol_schema` writes the schema to
`static/js/protocol.schema.json` for the UI; a test keeps the committed file up to date and
checks that the UI handles every server → client `type`.
"""

from __future__ import annotations

import json
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from translation.streaming.protocol import (
    CapacityStatus,
    ControlMessage,
    HistoryStatus,
    StablePrefix,
)

SCHEMA_ID = "https://rutrans.local/protocol.schema.json"


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StatusMessage(_Message):
    """The session's state: `ready` (with its id), `configured` (the control in force),
    `queued` (an utterance was cut and stored), `flushed` (nothing was open), `captions` (an
    utterance's caption counters)."""

    type: Literal["status"]
    state: Literal["ready", "configured", "queued", "flushed", "captions"]
    session: str | None = None
    mode: str | None = None
    src: str | None = None
    tgt: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    voice: dict[str, str] | None = None
    captions: bool | None = None
    call: str | None = None
    speaker: Literal["me", "them"] | None = None
    store_audio: bool | None = None
    seq: int | None = None
    id: str | None = None
    submit_ms: float | None = None
    start_s: float | None = None
    end_s: float | None = None
    utterance: bool | None = None
    due: int | None = None
    sent: int | None = None
    skipped: int | None = None


class ErrorMessage(_Message):
    """Something went wrong: with `seq`, that utterance has no result; without, the message
    or frame the client sent was refused (the session goes on)."""

    type: Literal["error"]
    error: str
    seq: int | None = None
    code: str | None = None
    retry_after_s: int | None = None


class LanguageGuess(_Message):
    lang: str
    confidence: float = Field(ge=0, le=1)


class ResultMessage(_Message):
    """An utterance's translated text; its speech follows as binary WAV frames, then
    `audio_end`."""

    type: Literal["result"]
    seq: int
    id: str
    src: str
    tgt: str
    text: str
    tts_failed: bool
    timings: dict[str, float]
    source_text: str | None = None
    error: str | None = None
    start_s: float | None = None
    end_s: float | None = None
    lid: LanguageGuess | None = None
    truncated: bool | None = None


class AudioEndMessage(_Message):
    """A result's speech is complete: `pieces` WAV frames came after its `result`."""

    type: Literal["audio_end"]
    seq: int
    pieces: int = Field(ge=0)
    error: str | None = None
    timings: dict[str, float] | None = None


class PartialMessage(_Message):
    """A provisional caption of the utterance still being spoken (shown until its final)."""

    type: Literal["partial"]
    seq: int
    part: int = Field(ge=1)
    src: str
    tgt: str
    text: str
    source_text: str
    start_s: float
    end_s: float
    speech_s: float
    timings: dict[str, float]
    stable: StablePrefix
    truncated: bool | None = None


class JobMessage(_Message):
    """`/ws/jobs/<id>`: the job's state (the fields of `GET /api/translations/<id>`)."""

    type: Literal["job"]
    id: str
    status: Literal["queued", "running", "done", "failed"]
    source: Literal["live", "upload"]
    src: str
    tgt: str | None
    voice: str | None
    source_text: str
    text: str
    tts_failed: bool
    error: str
    timings: dict[str, float]
    duration_s: float | None
    has_audio: bool
    created_at: str | None
    finished_at: str | None
    truncated: bool | None = None


SERVER_MESSAGES: dict[str, tuple[type[BaseModel], ...]] = {
    "/ws/translate": (
        StatusMessage,
        CapacityStatus,
        HistoryStatus,
        ErrorMessage,
        ResultMessage,
        AudioEndMessage,
        PartialMessage,
    ),
    "/ws/jobs/<id>": (JobMessage, ErrorMessage),
}
"""What each socket sends (text frames); `/ws/translate` sends binary WAV frames too."""


def server_message_types() -> dict[str, list[str]]:
    """The `type` values each socket sends, e.g. {"/ws/translate": ["status", ...]}."""
    return {
        path: [get_args(model.model_fields["type"].annotation)[0] for model in models]
        for path, models in SERVER_MESSAGES.items()
    }


def protocol_schema() -> dict[str, Any]:
    """The JSON Schema document: every message under `$defs`, and per socket what goes which
    way (`client_to_server`, `server_to_client`: a `oneOf` told apart by `type`)."""
    defs: dict[str, Any] = {}

    def ref(model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        defs[model.__name__] = schema
        return {"$ref": f"#/$defs/{model.__name__}"}

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "rutrans WebSocket protocol",
        "description": "Generated by `python manage.py protocol_schema` from "
        "translation/streaming/schema.py; do not edit.",
        "client_to_server": {"/ws/translate": ref(ControlMessage)},
        "server_to_client": {
            path: {"oneOf": [ref(model) for model in models]}
            for path, models in SERVER_MESSAGES.items()
        },
        "$defs": dict(sorted(defs.items())),
    }


def protocol_schema_json() -> str:
    """The schema as the committed file holds it (stable key order, a final newline)."""
    return json.dumps(protocol_schema(), indent=2, ensure_ascii=False) + "\n"
