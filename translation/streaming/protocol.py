"""The `/ws/translate` protocol schema: control validation and the server's messages.

Client → server: a control JSON (first text frame, may be resent between utterances), binary
little-endian int16 PCM frames, and the text "__flush__". Server → client: `result` JSON,
then zero or more binary WAV frames (the translation spoken sentence by sentence, each a
complete WAV of at most MAX_MESSAGE_BYTES), then `audio_end`; `error` and `status` JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
    model_validator,
)

from translation.constants import (
    CALL_ID_PATTERN,
    LANGS,
    MAX_STREAM_RATE,
    MIN_STREAM_RATE,
    VOICES,
    Lang,
    SourceLang,
    Speaker,
)

FLUSH = "__flush__"
MODES: dict[str, tuple[str, str | None]] = {
    "auto": ("auto", None),
    "en->ru": ("en", "ru"),
    "ru->en": ("ru", "en"),
}
MAX_CONTROL_BYTES = 4_096
# No server message is larger than this (Daphne closes the socket above 1 MiB; smaller messages
# also keep a slow client's first audio from waiting behind one huge frame).
MAX_MESSAGE_BYTES = 256 * 1024


class ProtocolError(ValueError):
    """A client message that breaks the protocol; its text is sent back as the error."""


@dataclass(frozen=True)
class SessionConfig:
    """A validated control message."""

    src: SourceLang
    tgt: Lang | None  # None only with src "auto": the other language than the detected one
    sample_rate: int = 48_000
    channels: int = 2
    voices: tuple[tuple[str, str], ...] = ()  # (target language, voice) pairs
    captions: bool | None = None  # live captions: None follows the server (LIVE_CAPTIONS)
    call: str | None = None  # the call this connection is a lane of (32 hex characters)
    speaker: Speaker | None = None  # which lane: "me" or "them" (set exactly when call is)
    store_audio: bool | None = None  # keep the recordings: None follows the server (STORE_AUDIO)

    @property
    def mode(self) -> str:
        if self.src == "auto":
            return "auto" if self.tgt is None else f"auto->{self.tgt}"
        return f"{self.src}->{self.tgt}"


def _lang(value: Any, field: str, *, allow_auto: bool) -> str:
    allowed = ("auto", *LANGS) if allow_auto else LANGS
    if not isinstance(value, str) or value not in allowed:
        raise ProtocolError(f"{field} must be one of {', '.join(allowed)} (got {_shown(value)})")
    return value


def _voices(value: Any) -> tuple[tuple[str, str], ...]:
    """Accepts {"ru": "baya", "en": "en_3"}; a bare string applies to the language it names."""
    if value is None:
        return ()
    if isinstance(value, str):
        matches = [lang for lang, names in VOICES.items() if value in names]
        if not matches:
            raise ProtocolError(f"unknown voice {value[:40]!r}")
        return ((matches[0], value),)
    if not isinstance(value, dict):
        raise ProtocolError('voice must be an object like {"ru": "baya", "en": "en_0"}')
    pairs = []
    for lang, name in value.items():
        _lang(lang, "voice language", allow_auto=False)
        if name in (None, ""):
            continue
        if not isinstance(name, str) or name not in VOICES[lang]:
            shown = repr(name[:40]) if isinstance(name, str) else _shown(name)
            sample = ", ".join(VOICES[lang][:5])
            raise ProtocolError(f"unknown {lang} voice {shown} (e.g. {sample})")
        pairs.append((lang, name))
    return tuple(sorted(pairs))


class ControlMessage(BaseModel):
    """The control JSON's schema: every field's type and range, checked strictly (no coercion:
    "48000" is not 48000, true is not 1). Unknown fields are ignored. A new field is one line
    here (its `description` completes the error "<field> must be <description>") and one in
    `SessionConfig`/`parse_control`.

    JSON is parsed by pydantic-core (jiter), which refuses nesting deeper than 200 levels with
    a validation error instead of the stdlib parser's RecursionError.
    """

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    mode: Literal["auto", "en->ru", "ru->en"] | None = Field(
        None, description=f"one of {', '.join(MODES)}"
    )
    src: SourceLang = Field("auto", description="one of auto, en, ru")
    tgt: Lang | None = Field(None, description="one of en, ru or null")
    sample_rate: Annotated[int, Field(ge=MIN_STREAM_RATE, le=MAX_STREAM_RATE)] = Field(
        48_000, description=f"an integer from {MIN_STREAM_RATE} to {MAX_STREAM_RATE}"
    )
    channels: Annotated[int, Field(ge=1, le=2)] = Field(2, description="an integer from 1 to 2")
    voice: Annotated[tuple[tuple[str, str], ...], PlainValidator(_voices)] = Field(
        (), description='an object like {"ru": "baya", "en": "en_0"}'
    )
    captions: bool | None = Field(None, description="true or false")
    call: Annotated[str, StringConstraints(pattern=CALL_ID_PATTERN)] | None = Field(
        None, description="a call's id: 32 lower-case hex characters, or null"
    )
    speaker: Literal["me", "them"] | None = Field(None, description='"me", "them" or null')
    store_audio: bool | None = Field(None, description="true or false")

    @model_validator(mode="after")
    def _call_has_a_speaker(self) -> ControlMessage:
        if (self.call is None) != (self.speaker is None):
            raise ValueError("call and speaker come together: a lane of a call names both")
        return self


class StablePrefix(BaseModel):
    """A `partial`'s committed part (local agreement, translation/streaming/captions.py): how
    many leading characters of its `source_text` and `text` are committed. The server
    guarantees that every later partial of the same seq begins with these same characters, so
    neither number ever decreases within a seq; the `result` (final) replaces everything and
    may differ."""

    model_config = ConfigDict(strict=True, frozen=True)

    source_text: int = Field(ge=0, description="committed leading characters of source_text")
    text: int = Field(ge=0, description="committed leading characters of text")


def _shown(value: Any, limit: int = 40) -> str:
    """A client's value as JSON, shortened, for an error message."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # not JSON, or an int too long to print
        text = type(value).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _utf8_size(raw: str | bytes) -> int:
    return len(raw.encode("utf-8", "surrogatepass")) if isinstance(raw, str) else len(raw)


def _explain(error: ValidationError) -> str:
    """The first problem of a control message, in the protocol's words."""
    first = error.errors(include_url=False)[0]
    kind, loc = first["type"], first["loc"]
    if kind == "json_invalid":
        return f"invalid JSON: {first['msg'].removeprefix('Invalid JSON: ')}"
    if kind == "value_error":  # our own validators' ProtocolError (or the model's check)
        return str(first["ctx"]["error"])
    if not loc:
        return "control message must be a JSON object"
    field = str(loc[0])
    info = ControlMessage.model_fields.get(field)
    expected = info.description if info is not None and info.description else first["msg"]
    return f"{field} must be {expected} (got {_shown(first.get('input'))})"


def parse_control(raw: str | bytes | dict[str, Any]) -> SessionConfig:
    """Validate a control message against `ControlMessage`. `mode` overrides src/tgt; with src
    set and tgt null the target is the other language; unknown fields are ignored. Any input
    (any JSON, any depth, any size) raises ProtocolError or returns a config, nothing else."""
    try:
        if isinstance(raw, (str, bytes)):
            if len(raw) > MAX_CONTROL_BYTES or _utf8_size(raw) > MAX_CONTROL_BYTES:
                raise ProtocolError(f"control message too large (max {MAX_CONTROL_BYTES} bytes)")
            control = ControlMessage.model_validate_json(raw)
        else:
            control = ControlMessage.model_validate(raw)
    except ValidationError as exc:
        raise ProtocolError(_explain(exc)) from None

    if control.mode is not None:
        src, tgt = MODES[control.mode]
    else:
        src, tgt = control.src, control.tgt
        if tgt is None and src != "auto":
            tgt = "ru" if src == "en" else "en"
        if tgt is not None and tgt == src:
            raise ProtocolError(f"src and tgt are both {src!r}: nothing to translate")

    return SessionConfig(
        src=src,  # type: ignore[arg-type]
        tgt=tgt,  # type: ignore[arg-type]
        sample_rate=control.sample_rate,
        channels=control.channels,
        voices=control.voice,
        captions=control.captions,
        call=control.call,
        speaker=control.speaker,
        store_audio=control.store_audio,
    )


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
