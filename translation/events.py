"""The channel-layer events between the workers (or the web tier's own services) and the
WebSocket consumers, as frozen dataclasses, plus `Outcome`: what a worker produced for a row.

One event, one channel-layer `type`, one consumer handler (Channels maps the type
`translation.audio_end` to the method `translation_audio_end`). Senders build an event and send
`event.to_message()`; handlers read `Event.from_message(message)`. The `type` strings live here
only. Messages hold plain values (str, int, float, bytes, dicts of them): channels_redis
serializes them with msgpack; a field that is a protocol message (translation/protocol/) travels
as the JSON-ready fields it sends (`sent_fields`) and is a model again on the other side.

Per live utterance a session gets one head (`UtteranceResult`, or `UtteranceFailed`), then for a
result zero or more `AudioPiece`s and one `AudioEnd`; partial captions come as `PartialReply`;
an upload's watchers get `JobStatus`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from pydantic import BaseModel

from translation.protocol.messages import JobMessage, PartialMessage, ResultMessage, sent_fields

ModelClass = type[BaseModel]

RESULT = "translation.result"
UTTERANCE_FAILED = "translation.failed"
AUDIO_PIECE = "translation.audio"
AUDIO_END = "translation.audio_end"
PARTIAL = "translation.partial"
JOB_STATUS = "job.status"
HISTORY_LOST = "history.lost"


@dataclass(frozen=True)
class Outcome:
    """What the worker produced for one row (the pipeline's result, Django-free)."""

    src: str
    tgt: str
    text: str
    source_text: str | None
    wav: bytes | None
    tts_failed: bool
    timings: dict[str, float]
    meta: dict[str, Any]
    voice: str = ""
    error: str = ""


@dataclass(frozen=True)
class Event:
    """A channel-layer event: its fields, and its `type` (a class constant)."""

    type: ClassVar[str]
    MODELS: ClassVar[dict[str, ModelClass]] = {}
    """Fields that are protocol messages: sent as dicts, read back as their models."""

    def to_message(self) -> dict[str, Any]:
        """The channel-layer message: `type` plus the fields (None fields left out)."""
        fields = {
            f.name: sent_fields(value)
            if isinstance(value := getattr(self, f.name), BaseModel)
            else value
            for f in dataclasses.fields(self)
            if getattr(self, f.name) is not None
        }
        return {"type": self.type, **fields}

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> Self:
        """The event a handler received; fields it does not know are a sender's bug."""
        if message.get("type") != cls.type:
            raise ValueError(f"{cls.__name__} expects type {cls.type!r}, got {message!r:.80}")
        return cls(
            **{
                k: cls.MODELS[k].model_validate(v) if k in cls.MODELS else v
                for k, v in message.items()
                if k != "type"
            }
        )


@dataclass(frozen=True)
class UtteranceResult(Event):
    """A live utterance's translated text (`result`: the protocol's result message), before
    its speech. `attempt` is the task run that produced it; `sent_at` the sender's clock."""

    type: ClassVar[str] = RESULT
    MODELS: ClassVar[dict[str, ModelClass]] = {"result": ResultMessage}
    seq: int
    result: ResultMessage
    attempt: int | None = None
    sent_at: float | None = None
    submit_ms: float | None = None  # set by the session: how long the submission took


@dataclass(frozen=True)
class UtteranceFailed(Event):
    """A live utterance that will have no result: the reason, for the person speaking."""

    type: ClassVar[str] = UTTERANCE_FAILED
    seq: int
    error: str
    attempt: int | None = None
    sent_at: float | None = None
    submit_ms: float | None = None
    # Refused by a per-client limit (translation/limits): which, and when to try again.
    code: str | None = None
    retry_after_s: int | None = None


@dataclass(frozen=True)
class AudioPiece(Event):
    """One WAV frame of a result's speech (it fits in one WebSocket message)."""

    type: ClassVar[str] = AUDIO_PIECE
    seq: int
    wav: bytes
    attempt: int | None = None


@dataclass(frozen=True)
class AudioEnd(Event):
    """A result's speech is complete: `pieces` frames were sent (and any synthesis error)."""

    type: ClassVar[str] = AUDIO_END
    seq: int
    pieces: int
    attempt: int | None = None
    error: str = ""
    timings: dict[str, float] | None = None


@dataclass(frozen=True)
class HistoryLost(Event):
    """A live utterance was answered but its history row could not be written: the database
    stayed away longer than DB_OUTAGE_HOLD_S. Told to its session at once (not in seq order:
    its result went out already)."""

    type: ClassVar[str] = HISTORY_LOST
    seq: int


SessionEvent = UtteranceResult | UtteranceFailed | AudioPiece | AudioEnd
"""What a live session re-orders by seq before it goes to the client."""


@dataclass(frozen=True)
class PartialReply(Event):
    """A worker's answer to a partial caption request: the `partial` message to show (before
    the session's local agreement sets its `stable` prefix), or why it `skipped` one (the
    session may then ask again)."""

    type: ClassVar[str] = PARTIAL
    MODELS: ClassVar[dict[str, ModelClass]] = {"partial": PartialMessage}
    seq: int
    part: int
    sent_at: float | None = None
    partial: PartialMessage | None = None
    src: str | None = None
    skipped: str | None = None


@dataclass(frozen=True)
class JobStatus(Event):
    """An upload's current state: the `job` message of `/ws/jobs/<id>` (the fields of
    `GET /api/translations/<id>`)."""

    type: ClassVar[str] = JOB_STATUS
    MODELS: ClassVar[dict[str, ModelClass]] = {"job": JobMessage}
    job: JobMessage
