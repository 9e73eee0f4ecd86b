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


def error_message(
    error: str, *, seq: int | None = None, code: str = "", retry_after_s: int | None = None
) -> str:
    """An error; a client over one of its limits also gets the limit's `code` and
    `retry_after_s` (the seconds until it would pass, like HTTP's Retry-After)."""
    message: dict[str, Any] = {"type": "error", "error": error}
    if seq is not None:
        message["seq"] = seq
    if code:
        message["code"] = code
    if retry_after_s is not None:
        message["retry_after_s"] = retry_after_s
    return json.dumps(message)


def status_message(state: str, **fields: Any) -> str:
    return json.dumps({"type": "status", "state": state, **fields})


# A new session refused because the workers are behind or full: the WebSocket close code
# "try again later" (RFC 6455 registry), sent after a `refused` status, with the reason text.
TRY_AGAIN_LATER = 1013
CLIENT_LIMIT_CLOSE_CODE = 4429
"""Close code of a session refused by a per-client limit (translation/limits), after an error
message saying which and when to retry; the server being overloaded is 1013 instead."""
MAX_CLOSE_REASON_BYTES = 123  # RFC 6455: a close frame's reason


class CapacityStatus(BaseModel):
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
    return status.model_dump_json(exclude_none=True)


HistoryNotice = Literal["history_paused", "recording_paused", "history_lost"]

HISTORY_NOTICES: dict[HistoryNotice, str] = {
    "history_paused": "history paused: the database is not reachable; every sentence is still "
    "translated and spoken, and kept in the history when the database is back",
    "recording_paused": "recordings paused: the server's disk is full; every sentence is still "
    "translated and spoken, and its text kept, but not its audio",
    "history_lost": "not kept in the history: the database was away too long; this sentence "
    "was translated and spoken, but is missing from the transcript",
}


class HistoryStatus(BaseModel):
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
    return HistoryStatus(state=state, seq=seq, message=HISTORY_NOTICES[state]).model_dump_json()


def close_reason(text: str) -> str:
    """`text` cut to fit a WebSocket close frame (at most 123 bytes of UTF-8)."""
    encoded = text.encode()
    if len(encoded) <= MAX_CLOSE_REASON_BYTES:
        return text
    return encoded[: MAX_CLOSE_REASON_BYTES - 3].decode(errors="ignore") + "…"


def result_payload(
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
) -> dict[str, Any]:
    """The result JSON (the consumer adds its own push timing before sending). `start_s` and
    `end_s` place a live utterance in the session's audio stream (seconds); `lid` is language
    ID's guess (`lang`, `confidence` 0..1) when the source was `auto`."""
    message: dict[str, Any] = {
        "type": "result",
        "seq": seq,
        "id": translation_id,
        "src": src,
        "tgt": tgt,
        "text": text,
        "tts_failed": tts_failed,
        "timings": timings,
    }
    if source_text is not None:
        message["source_text"] = source_text
    if error:
        message["error"] = error
    if start_s is not None and end_s is not None:
        message["start_s"] = round(start_s, 3)
        message["end_s"] = round(end_s, 3)
    if lid and "lang" in lid and "confidence" in lid:
        message["lid"] = {"lang": lid["lang"], "confidence": round(float(lid["confidence"]), 3)}
    return message


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
    message: dict[str, Any] = {"type": "audio_end", "seq": seq, "pieces": pieces}
    if error:
        message["error"] = error
    if timings:
        message["timings"] = timings
    return json.dumps(message, ensure_ascii=False)


def bounded_json(message: dict[str, Any], *, text_fields: tuple[str, ...]) -> str:
    """The message as JSON of at most MAX_MESSAGE_BYTES: if it is larger, the `text_fields`
    are shortened and `truncated: true` is set (the full text stays in the history and the
    REST API). Only an extremely long text (hundreds of KB) gets here."""
    encoded = json.dumps(message, ensure_ascii=False)
    if len(encoded.encode()) <= MAX_MESSAGE_BYTES:
        return encoded
    budget = MAX_MESSAGE_BYTES // (4 * max(1, len(text_fields)) + 4)  # chars: ≤4 bytes each
    shortened = {**message, "truncated": True}
    for name in text_fields:
        if isinstance(shortened.get(name), str):
            shortened[name] = shortened[name][:budget] + "…"
    return json.dumps(shortened, ensure_ascii=False)
