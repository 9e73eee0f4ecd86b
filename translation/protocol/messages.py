"""Server → client on `/ws/translate` and `/ws/jobs/<id>`: every message as a pydantic model,
and the builders that write them.

A `result` JSON is followed by zero or more binary WAV frames (the translation spoken sentence
by sentence, each a complete WAV of at most MAX_MESSAGE_BYTES), then `audio_end`; `error`,
`status` (the session's state, the workers' backlog, what the history keeps) and `partial`
(a caption) JSON come between. translation/protocol/schema.py publishes the JSON Schema of these
models for the UI; tests validate real messages against them.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# No server message is larger than this (Daphne closes the socket above 1 MiB; smaller messages
# also keep a slow client's first audio from waiting behind one huge frame).
MAX_MESSAGE_BYTES = 256 * 1024


class StablePrefix(BaseModel):
    """A `partial`'s committed part (local agreement, translation/streaming/captions.py): how
    many leading characters of its `source_text` and `text` are committed. The server
    guarantees that every later partial of the same seq begins with these same characters, so
    neither number ever decreases within a seq; the `result` (final) replaces everything and
    may differ."""

    model_config = ConfigDict(strict=True, frozen=True)

    source_text: int = Field(ge=0, description="committed leading characters of source_text")
    text: int = Field(ge=0, description="committed leading characters of text")


def _always_sent(schema: dict[str, Any]) -> None:
    """`type` and `state` have defaults for the builders' sake, but every message carries them:
    the schema (and the browser's types generated from it) says they are required."""
    required = schema.setdefault("required", [])
    for key in ("state", "type"):
        if key in schema.get("properties", {}) and key not in required:
            required.insert(0, key)


def _left_out(message: BaseModel) -> set[str]:
    """The fields a message does not send: those that default to None and are None. A field
    that may be null but has no default is always sent, null included (the schema says it is
    required)."""
    return {
        name
        for name, info in type(message).model_fields.items()
        if not info.is_required() and getattr(message, name) is None
    }


def sent_fields(message: BaseModel) -> dict[str, Any]:
    """A message's fields as it sends them (JSON-ready values, `_left_out` left out): its text
    frame, and what a channel-layer event carries of it (translation/events.py)."""
    return message.model_dump(mode="json", exclude=_left_out(message))


class _Message(BaseModel):
    """A server → client message. `wire()` is its text frame: a field that defaults to None is
    sent only when set; one that may be null without a default always is."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_always_sent)

    def wire(self) -> str:
        return self.model_dump_json(exclude=_left_out(self))


class _SessionStatus(_Message):
    type: Literal["status"] = "status"


class ReadyStatus(_SessionStatus):
    """The connection is open: `session` is the server's id for it (a transcript's key)."""

    state: Literal["ready"] = "ready"
    session: str


class ConfiguredStatus(_SessionStatus):
    """The control in force, as the server understood it (sent after each control)."""

    state: Literal["configured"] = "configured"
    mode: str
    src: str
    tgt: str | None
    sample_rate: int
    channels: int
    voice: dict[str, str]
    captions: bool
    call: str | None
    speaker: Literal["me", "them"] | None
    store_audio: bool


class QueuedStatus(_SessionStatus):
    """An utterance was cut and stored (`id`: its history id); `start_s`/`end_s` place it in
    the session's stream on the wall clock (on a call: the call's clock)."""

    state: Literal["queued"] = "queued"
    seq: int
    id: str
    submit_ms: float
    start_s: float
    end_s: float


class FlushedStatus(_SessionStatus):
    """A flush found no utterance open: nothing was queued."""

    state: Literal["flushed"] = "flushed"
    utterance: bool


class CaptionsStatus(_SessionStatus):
    """An utterance's caption counters once it is cut: partials `due`, `sent`, `skipped`."""

    state: Literal["captions"] = "captions"
    seq: int
    due: int
    sent: int
    skipped: int


StatusMessage = ReadyStatus | ConfiguredStatus | QueuedStatus | FlushedStatus | CaptionsStatus
"""The session's own states (the backlog's are `CapacityStatus`, the history's `HistoryStatus`)."""
SESSION_STATUSES = (ReadyStatus, ConfiguredStatus, QueuedStatus, FlushedStatus, CaptionsStatus)


class ErrorMessage(_Message):
    """Something went wrong: with `seq`, that utterance has no result; without, the message
    or frame the client sent was refused (the session goes on)."""

    type: Literal["error"] = "error"
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

    type: Literal["result"] = "result"
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

    type: Literal["audio_end"] = "audio_end"
    seq: int
    pieces: int = Field(ge=0)
    error: str | None = None
    timings: dict[str, float] | None = None


class PartialMessage(_Message):
    """A provisional caption of the utterance still being spoken (shown until its final)."""

    type: Literal["partial"] = "partial"
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


JobStatusName = Literal["queued", "running", "done", "failed"]
JobSource = Literal["live", "upload"]
"""A job's status and where it came from: the values of the model's choices."""


class JobMessage(_Message):
    """`/ws/jobs/<id>`: the job's state (the fields of `GET /api/translations/<id>`; its
    nullable fields are sent as null)."""

    type: Literal["job"] = "job"
    id: str
    status: JobStatusName
    source: JobSource
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

    def state(self) -> dict[str, Any]:
        """The body of `GET /api/translations/<id>`: every field but the message's `type` (and
        `truncated`, which only a shortened frame sets)."""
        return self.model_dump(mode="json", exclude={"type", "truncated"})


def error_message(
    error: str, *, seq: int | None = None, code: str = "", retry_after_s: int | None = None
) -> str:
    """An error; a client over one of its limits also gets the limit's `code` and
    `retry_after_s` (the seconds until it would pass, like HTTP's Retry-After)."""
    return ErrorMessage(error=error, seq=seq, code=code or None, retry_after_s=retry_after_s).wire()


# A new session refused because the workers are behind or full: the WebSocket close code
# "try again later" (RFC 6455 registry), sent after a `refused` status, with the reason text.
TRY_AGAIN_LATER = 1013
CLIENT_LIMIT_CLOSE_CODE = 4429
"""Close code of a session refused by a per-client limit (translation/limits), after an error
message saying which and when to retry; the server being overloaded is 1013 instead."""
MAX_CLOSE_REASON_BYTES = 123  # RFC 6455: a close frame's reason


class CapacityStatus(_Message):
    """The workers' backlog as a session is told it (translation/jobs/capacity.py decides):

    - `busy`: translations are `lag_s` seconds behind (over MAX_QUEUE_LAG_S); every utterance
      is still answered, late; repeated while the lag moves;
    - `clear`: the workers have caught up;
    - `refused`: this new session is not admitted; the socket closes with code 1013 and
      `message` as the reason; try again after `retry_after_s`.
    """

    model_config = ConfigDict(frozen=True)

    type: Literal["status"] = "status"
    state: Literal["busy", "clear", "refused"]
    lag_s: float = Field(description="how far behind the translations are (seconds)")
    queued: int = Field(description="utterances and uploads waiting for a worker")
    captions_paused: bool = Field(description="no live captions are sent while this is true")
    retry_after_s: int | None = Field(None, description="refused: when to try again (seconds)")
    message: str


def capacity_status_message(status: CapacityStatus) -> str:
    return status.wire()


HistoryNotice = Literal["history_paused", "recording_paused", "history_lost"]

HISTORY_NOTICES: dict[HistoryNotice, str] = {
    "history_paused": "history paused: the database is not reachable; every sentence is still "
    "translated and spoken, and kept in the history when the database is back",
    "recording_paused": "recordings paused: the server's disk is full; every sentence is still "
    "translated and spoken, and its text kept, but not its audio",
    "history_lost": "not kept in the history: the database was away too long; this sentence "
    "was translated and spoken, but is missing from the transcript",
}


class HistoryStatus(_Message):
    """What the history keeps of a live session, when it is less than usual; sent once each
    time it changes, from utterance `seq` on, and never an error (every utterance is still
    answered): `history_paused` (PostgreSQL cannot be reached: the rows are written when it is
    back, within DB_OUTAGE_HOLD_S), `recording_paused` (the media disk is at its
    MEDIA_MIN_FREE_MB floor: no audio is kept); and `history_lost` for the one utterance `seq`
    that was answered but not kept (the database stayed away past the hold)."""

    model_config = ConfigDict(frozen=True)

    type: Literal["status"] = "status"
    state: HistoryNotice
    seq: int = Field(description="the first utterance this applies to")
    message: str


def history_status_message(state: HistoryNotice, seq: int) -> str:
    return HistoryStatus(state=state, seq=seq, message=HISTORY_NOTICES[state]).wire()


def close_reason(text: str) -> str:
    """`text` cut to fit a WebSocket close frame (at most 123 bytes of UTF-8)."""
    encoded = text.encode()
    if len(encoded) <= MAX_CLOSE_REASON_BYTES:
        return text
    return encoded[: MAX_CLOSE_REASON_BYTES - 3].decode(errors="ignore") + "…"


def result_message(
    *,
    seq: int,
    translation_id: str,
    src: str,
    tgt: str,
    text: str,
    source_text: str | None,
    tts_failed: bool,
    timings: dict[str, float],
    error: str = "",
    start_s: float | None = None,
    end_s: float | None = None,
    lid: dict[str, Any] | None = None,
) -> ResultMessage:
    """The result (the consumer adds its own push timing before sending). `start_s` and
    `end_s` place a live utterance in the session's audio stream (seconds); `lid` is language
    ID's guess (`lang`, `confidence` 0..1) when the source was `auto`."""
    if start_s is None or end_s is None:  # placed only with both ends
        start_s = end_s = None
    guess = None
    if lid and "lang" in lid and "confidence" in lid:
        guess = LanguageGuess(lang=lid["lang"], confidence=round(float(lid["confidence"]), 3))
    return ResultMessage(
        seq=seq,
        id=translation_id,
        src=src,
        tgt=tgt,
        text=text,
        tts_failed=tts_failed,
        timings=timings,
        source_text=source_text,
        error=error or None,
        start_s=None if start_s is None else round(start_s, 3),
        end_s=None if end_s is None else round(end_s, 3),
        lid=guess,
    )


def audio_end_message(
    *,
    seq: int,
    pieces: int,
    error: str = "",
    timings: dict[str, float] | None = None,
) -> str:
    """Closes a result's audio: `pieces` WAV frames came after its `result` JSON. `error`
    says why audio is missing or incomplete; `timings` adds what was measured after the
    result was sent (speech synthesis)."""
    return AudioEndMessage(
        seq=seq, pieces=pieces, error=error or None, timings=timings or None
    ).wire()


def bounded_json(message: _Message, *, text_fields: tuple[str, ...]) -> str:
    """The message as JSON of at most MAX_MESSAGE_BYTES: if it is larger, the `text_fields`
    are shortened and `truncated: true` is set (the full text stays in the history and the
    REST API). Only an extremely long text (hundreds of KB) gets here."""
    fields = sent_fields(message)
    encoded = json.dumps(fields, ensure_ascii=False)
    if len(encoded.encode()) <= MAX_MESSAGE_BYTES:
        return encoded
    budget = MAX_MESSAGE_BYTES // (4 * max(1, len(text_fields)) + 4)  # chars: ≤4 bytes each
    shortened = {**fields, "truncated": True}
    for name in text_fields:
        if isinstance(shortened.get(name), str):
            shortened[name] = shortened[name][:budget] + "…"
    return json.dumps(shortened, ensure_ascii=False)
