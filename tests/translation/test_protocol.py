import json

import pytest

from translation.protocol import ProtocolError, parse_control, result_payload


@pytest.mark.parametrize(
    ("control", "src", "tgt"),
    [
        ({"mode": "en->ru"}, "en", "ru"),
        ({"mode": "ru->en", "src": "en", "tgt": "ru"}, "ru", "en"),  # mode overrides
        ({"mode": "auto"}, "auto", None),
        ({"src": "en", "tgt": None}, "en", "ru"),  # tgt null: the other language
        ({"src": "ru"}, "ru", "en"),
        ({}, "auto", None),
        ({"src": "auto", "tgt": "ru"}, "auto", "ru"),
    ],
)
def test_direction_rules(control, src, tgt):
    config = parse_control(json.dumps(control))
    assert (config.src, config.tgt) == (src, tgt)


def test_defaults_and_unknown_fields_ignored():
    config = parse_control('{"mode": "en->ru", "colour": "blue"}')
    assert (config.sample_rate, config.channels, config.voices) == (48_000, 2, ())


def test_audio_format_and_voices():
    config = parse_control(
        {
            "mode": "auto",
            "sample_rate": 44_100,
            "channels": 1,
            "voice": {"ru": "xenia", "en": "en_5"},
        }
    )
    assert (config.sample_rate, config.channels) == (44_100, 1)
    assert config.voice_for("ru") == "xenia" and config.voice_for("en") == "en_5"
    assert parse_control({"voice": "aidar"}).voice_for("ru") == "aidar"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"mode": "de->fr"}', "unknown mode 'de->fr'"),
        ('{"src": "de"}', "src must be one of auto, en, ru"),
        ('{"src": "en", "tgt": "en"}', "nothing to translate"),
        ('{"sample_rate": 4000}', "sample_rate must be an integer from 8000 to 96000"),
        ('{"sample_rate": "48000"}', "sample_rate must be an integer"),
        ('{"channels": 3}', "channels must be an integer from 1 to 2"),
        ('{"channels": true}', "channels must be an integer"),
        ('{"voice": {"ru": "boris"}}', "unknown ru voice 'boris'"),
        ('{"voice": 7}', "voice must be an object"),
        ("x" * 5000, "too large"),
    ],
)
def test_invalid_controls_say_why(raw, message):
    with pytest.raises(ProtocolError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_control(raw)


def test_result_payload_shape():
    payload = result_payload(
        seq=3,
        translation_id="abc",
        src="en",
        tgt="ru",
        text="привет",
        source_text="hello",
        tts_failed=False,
        timings={"total_ms": 5.0},
    )
    assert payload == {
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


def test_result_payload_places_a_live_utterance_in_its_stream():
    payload = result_payload(
        seq=3,
        translation_id="x",
        src="en",
        tgt="ru",
        text="привет",
        source_text="hello",
        tts_failed=False,
        timings={},
        start_s=12.34567,
        end_s=15.5,
    )
    assert (payload["start_s"], payload["end_s"]) == (12.346, 15.5)


def test_result_payload_carries_what_language_id_detected():
    common = dict(
        seq=0, translation_id="x", src="ru", tgt="en", text="hi", source_text=None,
        tts_failed=False, timings={},
    )  # fmt: skip
    lid = {"lang": "ru", "confidence": 0.876543, "scores": {"en": 0.1}}
    assert result_payload(**common, lid=lid)["lid"] == {"lang": "ru", "confidence": 0.877}
    assert "lid" not in result_payload(**common)  # a fixed direction: no guess


def test_audio_end_message():
    from translation.protocol import audio_end_message

    assert json.loads(audio_end_message(seq=3, pieces=2)) == {
        "type": "audio_end",
        "seq": 3,
        "pieces": 2,
    }
    message = json.loads(
        audio_end_message(seq=0, pieces=0, error="speech synthesis failed", timings={"tts_ms": 5})
    )
    assert message["error"] == "speech synthesis failed" and message["timings"] == {"tts_ms": 5}


def test_bounded_json_never_exceeds_the_message_limit():
    from translation.protocol import MAX_MESSAGE_BYTES, bounded_json

    small = {"type": "job", "text": "привет", "source_text": "hi"}
    assert json.loads(bounded_json(small, text_fields=("text", "source_text"))) == small
    huge = {"type": "job", "text": "я" * 300_000, "source_text": "x" * 300_000, "id": "a"}
    encoded = bounded_json(huge, text_fields=("text", "source_text"))
    message = json.loads(encoded)
    assert len(encoded.encode()) <= MAX_MESSAGE_BYTES
    assert message["truncated"] is True and message["id"] == "a"
    assert message["text"].startswith("яяя") and message["text"].endswith("…")
