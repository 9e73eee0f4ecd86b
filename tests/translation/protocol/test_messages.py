"""The server's messages (translation/protocol/messages.py): each builder's wire JSON, the
session's statuses keyed by state (each sends exactly its fields), and the size bound."""

import json

import pytest

from translation.protocol.messages import (
    MAX_MESSAGE_BYTES,
    CaptionsStatus,
    ConfiguredStatus,
    FlushedStatus,
    JobMessage,
    QueuedStatus,
    ReadyStatus,
    ResultMessage,
    audio_end_message,
    bounded_json,
    error_message,
    result_message,
)

HELLO = {
    "seq": 3, "translation_id": "abc", "src": "en", "tgt": "ru", "text": "привет",
    "source_text": "hello", "tts_failed": False,
}  # fmt: skip


def test_result_message_shape():
    payload = result_message(**HELLO, timings={"total_ms": 5.0})
    assert json.loads(payload.wire()) == {
        "type": "result",
        "seq": 3,
        "id": "abc",
        "src": "en",
        "tgt": "ru",
        "text": "привет",
        "source_text": "hello",
        "tts_failed": False,
        "timings": {"total_ms": 5.0},
    }


def test_result_message_places_a_live_utterance_in_its_stream():
    payload = result_message(**HELLO, timings={}, start_s=12.34567, end_s=15.5)
    assert (payload.start_s, payload.end_s) == (12.346, 15.5)


def test_result_message_carries_what_language_id_detected():
    common = dict(
        seq=0, translation_id="x", src="ru", tgt="en", text="hi", source_text=None,
        tts_failed=False, timings={},
    )  # fmt: skip
    lid = {"lang": "ru", "confidence": 0.876543, "scores": {"en": 0.1}}
    assert json.loads(result_message(**common, lid=lid).wire())["lid"] == {
        "lang": "ru",
        "confidence": 0.877,
    }
    assert "lid" not in json.loads(result_message(**common).wire())  # a fixed direction: no guess


def test_audio_end_message():
    assert json.loads(audio_end_message(seq=3, pieces=2)) == {
        "type": "audio_end",
        "seq": 3,
        "pieces": 2,
    }
    message = json.loads(
        audio_end_message(seq=0, pieces=0, error="speech synthesis failed", timings={"tts_ms": 5})
    )
    assert message["error"] == "speech synthesis failed" and message["timings"] == {"tts_ms": 5}


JOB = {
    "id": "a", "status": "done", "source": "upload", "src": "en", "tgt": "ru", "voice": None,
    "source_text": "hi", "text": "привет", "tts_failed": False, "error": "", "timings": {},
    "duration_s": 1.5, "has_audio": True, "created_at": "2026-01-02T03:04:05+00:00",
    "finished_at": None,
}  # fmt: skip


def test_a_job_sends_its_nulls_but_not_an_unset_truncated():
    """Its fields as `GET /api/translations/<id>` has them (nulls included), and its type."""
    job = JobMessage(**JOB)
    assert json.loads(job.wire()) == {"type": "job", **JOB}
    assert json.loads(bounded_json(job, text_fields=("text", "source_text"))) == {
        "type": "job",
        **JOB,
    }
    assert job.state() == JOB


def test_bounded_json_never_exceeds_the_message_limit():
    huge = JobMessage(**{**JOB, "text": "я" * 300_000, "source_text": "x" * 300_000})
    encoded = bounded_json(huge, text_fields=("text", "source_text"))
    message = json.loads(encoded)
    assert len(encoded.encode()) <= MAX_MESSAGE_BYTES
    assert message["truncated"] is True and message["id"] == "a"
    assert message["text"].startswith("яяя") and message["text"].endswith("…")


def test_each_session_status_sends_its_state_and_every_field_it_has():
    """Nulls included (a `configured` without a call says `"call": null`), no other field."""
    assert json.loads(ReadyStatus(session="abc").wire()) == {
        "type": "status",
        "state": "ready",
        "session": "abc",
    }
    configured = ConfiguredStatus(
        mode="en->ru", src="en", tgt="ru", sample_rate=16_000, channels=1, voice={},
        captions=False, call=None, speaker=None, store_audio=True,
    )  # fmt: skip
    wire = json.loads(configured.wire())
    assert (wire["state"], wire["call"], wire["speaker"]) == ("configured", None, None)
    assert json.loads(FlushedStatus(utterance=False).wire())["utterance"] is False
    queued = QueuedStatus(seq=2, id="r", submit_ms=1.5, start_s=0.3, end_s=1.2)
    assert json.loads(queued.wire()) == {
        "type": "status", "state": "queued", "seq": 2, "id": "r", "submit_ms": 1.5,
        "start_s": 0.3, "end_s": 1.2,
    }  # fmt: skip
    captions = CaptionsStatus.model_validate({"seq": 1, "due": 3, "sent": 2, "skipped": 1})
    assert json.loads(captions.wire())["skipped"] == 1
    with pytest.raises(ValueError, match="extra"):
        ReadyStatus.model_validate({"session": "a", "seq": 1})  # a field of another state


def test_an_error_says_only_what_it_has():
    assert json.loads(error_message("bad")) == {"type": "error", "error": "bad"}
    limited = json.loads(error_message("slow down", code="live_sessions", retry_after_s=9))
    assert (limited["code"], limited["retry_after_s"]) == ("live_sessions", 9)


def test_a_result_over_the_limit_is_shortened_as_a_model_too():
    result = ResultMessage(
        seq=0, id="a", src="en", tgt="ru", text="я" * 300_000, tts_failed=False, timings={}
    )
    encoded = bounded_json(result, text_fields=("text", "source_text"))
    assert len(encoded.encode()) <= MAX_MESSAGE_BYTES
    assert json.loads(encoded)["truncated"] is True and "source_text" not in json.loads(encoded)
