"""The `/ws/translate` protocol schema: control validation and the server's messages.

Client → server: a control JSON (first text frame, may be resent between utterances), binary
little-endian int16 PCM frames, and the text "__flush__". Server → client: `result` JSON
followed by one binary WAV frame (none when `tts_failed`), `error` and `status` JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

Lang = Literal["en", "ru"]
SourceLang = Literal["auto", "en", "ru"]
LANGS: tuple[str, ...] = ("en", "ru")
FLUSH = "__flush__"
MODES: dict[str, tuple[str, str | None]] = {
    "auto": ("auto", None),
    "en->ru": ("en", "ru"),
    "ru->en": ("ru", "en"),
}
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 96_000
MAX_CONTROL_BYTES = 4_096

# Silero voices by target language (ru: v5_ru family; en: v3_en).
VOICES: dict[str, tuple[str, ...]] = {
    "ru": ("aidar", "baya", "kseniya", "xenia", "eugene"),
    "en": tuple(f"en_{i}" for i in range(118)),
}


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

    @property
    def mode(self) -> str:
        if self.src == "auto":
            return "auto" if self.tgt is None else f"auto->{self.tgt}"
        return f"{self.src}->{self.tgt}"

    def voice_for(self, lang: str) -> str | None:
        return dict(self.voices).get(lang)


def _lang(value: Any, field: str, *, allow_auto: bool) -> str:
    allowed = ("auto", *LANGS) if allow_auto else LANGS
    if value not in allowed:
        raise ProtocolError(f"{field} must be one of {', '.join(allowed)} (got {value!r})")
    return value


def _int_in(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ProtocolError(f"{field} must be an integer from {low} to {high} (got {value!r})")
    return value


def _voices(value: Any) -> tuple[tuple[str, str], ...]:
    """Accepts {"ru": "baya", "en": "en_3"}; a bare string applies to the language it names."""
    if value is None:
        return ()
    if isinstance(value, str):
        matches = [lang for lang, names in VOICES.items() if value in names]
        if not matches:
            raise ProtocolError(f"unknown voice {value!r}")
        return ((matches[0], value),)
    if not isinstance(value, dict):
        raise ProtocolError('voice must be an object like {"ru": "baya", "en": "en_0"}')
    pairs = []
    for lang, name in value.items():
        _lang(lang, "voice language", allow_auto=False)
        if name in (None, ""):
            continue
        if name not in VOICES[lang]:
            sample = ", ".join(VOICES[lang][:5])
            raise ProtocolError(f"unknown {lang} voice {name!r} (e.g. {sample})")
        pairs.append((lang, name))
    return tuple(sorted(pairs))


def parse_control(raw: str | bytes | dict[str, Any]) -> SessionConfig:
    """Validate a control message. `mode` overrides src/tgt; with src set and tgt null the
    target is the other language; unknown fields are ignored."""
    if isinstance(raw, (str, bytes)):
        if len(raw) > MAX_CONTROL_BYTES:
            raise ProtocolError(f"control message too large (max {MAX_CONTROL_BYTES} bytes)")
        try:
            payload = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProtocolError(f"invalid JSON: {exc}") from None
    else:
        payload = raw
    if not isinstance(payload, dict):
        raise ProtocolError("control message must be a JSON object")

    mode = payload.get("mode")
    if mode is not None:
        if mode not in MODES:
            raise ProtocolError(f"unknown mode {mode!r} (use one of {', '.join(MODES)})")
        src, tgt = MODES[mode]
    else:
        src = _lang(payload.get("src", "auto"), "src", allow_auto=True)
        tgt_raw = payload.get("tgt")
        tgt = None if tgt_raw is None else _lang(tgt_raw, "tgt", allow_auto=False)
        if tgt is None and src != "auto":
            tgt = "ru" if src == "en" else "en"
        if tgt is not None and tgt == src:
            raise ProtocolError(f"src and tgt are both {src!r}: nothing to translate")

    return SessionConfig(
        src=src,  # type: ignore[arg-type]
        tgt=tgt,  # type: ignore[arg-type]
        sample_rate=_int_in(
            payload.get("sample_rate", 48_000), "sample_rate", MIN_SAMPLE_RATE, MAX_SAMPLE_RATE
        ),
        channels=_int_in(payload.get("channels", 2), "channels", 1, 2),
        voices=_voices(payload.get("voice")),
        captions=_flag(payload.get("captions"), "captions"),
    )


def _flag(value: Any, field: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ProtocolError(f"{field} must be true or false (got {value!r})")
    return value


def error_message(error: str, *, seq: int | None = None) -> str:
    message: dict[str, Any] = {"type": "error", "error": error}
    if seq is not None:
        message["seq"] = seq
    return json.dumps(message)


def status_message(state: str, **fields: Any) -> str:
    return json.dumps({"type": "status", "state": state, **fields})


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
) -> dict[str, Any]:
    """The result JSON (the consumer adds its own push timing before sending). `start_s` and
    `end_s` place a live utterance in the session's audio stream (seconds)."""
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
    return message
