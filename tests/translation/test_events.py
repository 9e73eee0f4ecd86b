"""The typed channel-layer events: one `type` each, a message of plain values, and back."""

from __future__ import annotations

import json

import msgpack
import pytest

from translation import events
from translation.events import (
    AudioEnd,
    AudioPiece,
    JobStatus,
    PartialReply,
    UtteranceFailed,
    UtteranceResult,
)
from translation.protocol.messages import JobMessage, PartialMessage, ResultMessage, StablePrefix

RESULT = ResultMessage(
    seq=1, id="r", src="en", tgt="ru", text="hi", tts_failed=False, timings={"ast_ms": 2.0}
)
PARTIAL = PartialMessage(
    seq=4, part=2, src="en", tgt="ru", text="при", source_text="hel", start_s=0.0, end_s=1.0,
    speech_s=0.9, timings={"ast_ms": 3.0}, stable=StablePrefix(source_text=0, text=0),
)  # fmt: skip
JOB = JobMessage(
    id="x", status="queued", source="upload", src="auto", tgt=None, voice=None, source_text="",
    text="", tts_failed=False, error="", timings={}, duration_s=None, has_audio=False,
    created_at="2026-01-02T03:04:05+00:00", finished_at=None,
)  # fmt: skip

EXAMPLES = [
    UtteranceResult(seq=1, result=RESULT, attempt=1, sent_at=5.0),
    UtteranceFailed(seq=2, error="no result in time"),
    AudioPiece(seq=1, wav=b"RIFF....", attempt=1),
    AudioEnd(seq=1, pieces=2, attempt=1, error="", timings={"tts_ms": 3.0}),
    PartialReply(seq=4, part=2, sent_at=1.0, partial=PARTIAL, src="en"),
    PartialReply(seq=4, part=3, skipped="behind"),
    JobStatus(job=JOB),
]


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: type(e).__name__)
def test_each_event_survives_the_channel_layer_serialization(event):
    message = event.to_message()
    assert message["type"] == event.type
    wire = msgpack.unpackb(msgpack.packb(message, use_bin_type=True), raw=False)
    assert type(event).from_message(wire) == event  # a protocol message is a model again


def test_types_are_distinct_and_map_to_handler_names():
    types = [events.RESULT, events.UTTERANCE_FAILED, events.AUDIO_PIECE, events.AUDIO_END]
    types += [events.PARTIAL, events.JOB_STATUS]
    assert len(set(types)) == len(types)
    assert {cls.type for cls in map(type, EXAMPLES)} == set(types)


def test_none_fields_are_left_out_and_a_wrong_type_is_refused():
    assert "skipped" not in PartialReply(seq=1, part=1, partial=PARTIAL).to_message()
    with pytest.raises(ValueError, match="expects type"):
        AudioPiece.from_message(AudioEnd(seq=1, pieces=0).to_message())


def test_every_event_has_one_consumer_handler():
    """Channels calls the method named after the type (`translation.audio_end` →
    `translation_audio_end`); the live consumer's hot path maps the same names."""
    from translation.jobs.consumer import JobStatusConsumer
    from translation.streaming.consumer import TranslateConsumer

    for event_type in (events.RESULT, events.UTTERANCE_FAILED, events.AUDIO_PIECE):
        assert callable(getattr(TranslateConsumer, event_type.replace(".", "_")))
    for event_type in (events.AUDIO_END, events.PARTIAL):
        handler = event_type.replace(".", "_")
        assert TranslateConsumer.HOT_MESSAGES[event_type] == handler
        assert callable(getattr(TranslateConsumer, handler))
    assert callable(getattr(JobStatusConsumer, events.JOB_STATUS.replace(".", "_")))


def test_a_protocol_message_travels_as_the_fields_it_sends():
    """Its nulls as on the wire: a job's unknown target is null, a partial's unset
    `truncated` is absent; read back, each is the same model."""
    job = JobStatus(job=JOB).to_message()["job"]
    assert job["type"] == "job" and (job["tgt"], job["finished_at"]) == (None, None)
    assert "truncated" not in job
    partial = PartialReply(seq=4, part=2, partial=PARTIAL).to_message()["partial"]
    assert partial == json.loads(PARTIAL.wire())
