"""Client → server on `/ws/translate`: the control JSON (the first text frame, may be resent
between utterances) validated into a `SessionConfig`, binary little-endian int16 PCM frames, and
the text "__flush__"."""

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
