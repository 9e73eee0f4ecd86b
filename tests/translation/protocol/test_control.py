import json
import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from translation.constants import MAX_STREAM_RATE, MIN_STREAM_RATE, VOICES
from translation.protocol.control import (
    MAX_CONTROL_BYTES,
    MODES,
    ControlMessage,
    ProtocolError,
    SessionConfig,
    parse_control,
)


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
    config = parse_control('{"mode": "en->ru", "colour": "blue", "deep": [[[[{"a": [1e999]}]]]]}')
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
    assert dict(config.voices) == {"ru": "xenia", "en": "en_5"}
    assert parse_control({"voice": "aidar"}).voices == (("ru", "aidar"),)
    assert parse_control('{"voice": {"ru": null, "en": ""}}').voices == ()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('"en->ru"', "must be a JSON object"),
        ('{"mode": "de->fr"}', 'mode must be one of auto, en->ru, ru->en (got "de->fr")'),
        ('{"src": "de"}', 'src must be one of auto, en, ru (got "de")'),
        ('{"src": null}', "src must be one of auto, en, ru (got null)"),
        ('{"tgt": 7}', "tgt must be one of en, ru or null (got 7)"),
        ('{"src": "en", "tgt": "en"}', "nothing to translate"),
        ('{"sample_rate": 4000}', "sample_rate must be an integer from 8000 to 96000 (got 4000)"),
        ('{"sample_rate": "48000"}', 'sample_rate must be an integer from 8000 to 96000 (got "'),
        ('{"sample_rate": 48000.0}', "sample_rate must be an integer"),
        ('{"sample_rate": 1e400}', "sample_rate must be an integer"),
        ('{"channels": 3}', "channels must be an integer from 1 to 2 (got 3)"),
        ('{"channels": true}', "channels must be an integer from 1 to 2 (got true)"),
        ('{"voice": {"ru": "boris"}}', "unknown ru voice 'boris'"),
        ('{"voice": {"ru": 5}}', "unknown ru voice 5"),
        ('{"voice": {"de": "x"}}', 'voice language must be one of en, ru (got "de")'),
        ('{"voice": 7}', "voice must be an object"),
        ('{"voice": "hal"}', "unknown voice 'hal'"),
        ("x" * 5000, "too large"),
        ('{"a": "' + "ж" * 2100 + '"}', "too large"),  # 4,200 bytes in 2,108 characters
        (b"\xff\xfe{}", "invalid JSON"),
    ],
)
def test_invalid_controls_say_why(raw, message):
    with pytest.raises(ProtocolError) as caught:
        parse_control(raw)
    assert message in str(caught.value)


# --- issue 16: hostile controls once killed the socket (RecursionError, TypeError) ---------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("[" * 999 + "]" * 999, "invalid JSON: recursion limit exceeded"),
        ('{"x": ' + "[" * 2000 + "]" * 2000 + "}", "invalid JSON: recursion limit exceeded"),
        ('{"mode": {"a": 1}}', 'mode must be one of auto, en->ru, ru->en (got {"a": 1})'),
        ('{"mode": ["en->ru"]}', 'mode must be one of auto, en->ru, ru->en (got ["en->ru"])'),
        ('{"src": {"a": 1}}', "src must be one of"),
        ('{"voice": {"ru": ["baya"]}}', 'unknown ru voice ["baya"]'),
        ('{"sample_rate": ' + "9" * 4000 + "}", "sample_rate must be an integer"),
    ],
)
def test_hostile_controls_get_an_error_not_an_exception(raw, message):
    assert len(raw.encode()) <= MAX_CONTROL_BYTES
    with pytest.raises(ProtocolError) as caught:
        parse_control(raw)
    assert message in str(caught.value)
    assert len(str(caught.value)) < 200  # a long hostile value is not echoed back whole


# --- the schema, fuzzed: any JSON value in any field ---------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**300), max_value=10**300)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
VALID_FIELDS = {
    "mode": st.sampled_from([*MODES, None]),
    "src": st.sampled_from(["auto", "en", "ru"]),
    "tgt": st.sampled_from(["en", "ru", None]),
    "sample_rate": st.integers(MIN_STREAM_RATE, MAX_STREAM_RATE),
    "channels": st.sampled_from([1, 2]),
    "voice": st.sampled_from([None, "baya", "en_3", {"ru": "xenia"}, {"en": "en_7", "ru": None}]),
    "captions": st.sampled_from([True, False, None]),
    "call": st.sampled_from([None, "0" * 32, "0123456789abcdef" * 2]),
    "speaker": st.sampled_from([None, "me", "them"]),
    "store_audio": st.sampled_from([True, False, None]),
}
assert set(VALID_FIELDS) == set(ControlMessage.model_fields), "fuzz every field of the schema"


@st.composite
def controls(draw) -> dict:
    """A control whose fields are each absent, valid, or any JSON value at all."""
    control = {}
    for name, valid in VALID_FIELDS.items():
        kind = draw(st.sampled_from(["absent", "valid", "any"]))
        if kind != "absent":
            control[name] = draw(valid if kind == "valid" else JSON_VALUES)
    if draw(st.booleans()):
        control[draw(st.text(max_size=10))] = draw(JSON_VALUES)  # unknown fields are ignored
    return control


def deeply_nested(depth: int, opener: str) -> str:
    if opener == "[":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def check_parsed(raw) -> SessionConfig | None:
    """parse_control either returns a valid config or raises ProtocolError with a short,
    clear message: never another exception."""
    try:
        config = parse_control(raw)
    except ProtocolError as exc:
        assert 0 < len(str(exc)) < 300
        return None
    assert config.src in ("auto", "en", "ru") and config.tgt in ("en", "ru", None)
    assert config.src != config.tgt and (config.tgt is not None or config.src == "auto")
    assert MIN_STREAM_RATE <= config.sample_rate <= MAX_STREAM_RATE
    assert type(config.sample_rate) is int and config.channels in (1, 2)
    assert type(config.channels) is int
    for lang, voice in config.voices:
        assert voice in VOICES[lang]
    assert (config.call is None) == (config.speaker is None)
    assert config.call is None or re.fullmatch("[0-9a-f]{32}", config.call)
    assert config.speaker in (None, "me", "them")
    assert config.store_audio in (True, False, None)
    return config


FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(controls())
def test_any_value_in_any_field_is_accepted_only_when_valid(control):
    raw = json.dumps(control, ensure_ascii=False)
    config = check_parsed(raw)
    if config is None:
        return
    # Accepted: each given field had the schema's type (no coercion, no bool for int).
    for name in ("sample_rate", "channels"):
        if name in control:
            assert type(control[name]) is int and getattr(config, name) == control[name]
    if "mode" in control and control["mode"] is not None:
        assert (config.src, config.tgt) == MODES[control["mode"]]
    assert check_parsed(control) == config  # the same answer from an already decoded dict


@FUZZ
@given(
    st.integers(min_value=1, max_value=10_000),
    st.sampled_from(["[", "{"]),
    st.sampled_from(["bare", "in_a_field"]),
)
def test_any_nesting_depth_is_an_error_or_ignored(depth, opener, where):
    nested = deeply_nested(depth, opener)
    raw = nested if where == "bare" else '{"mode": "en->ru", "x": ' + nested + "}"
    config = check_parsed(raw)
    levels = depth + (where == "in_a_field")
    # jiter's limit is about 200 levels (one more for a list of lists than for objects).
    if len(raw.encode()) > MAX_CONTROL_BYTES or levels > 201 or raw.startswith("["):
        assert config is None
    elif levels < 190:  # deep but small: an unknown field, ignored
        assert config is not None and config.mode == ("en->ru" if where != "bare" else "auto")


@FUZZ
@given(st.text(max_size=300) | st.binary(max_size=300))
def test_any_text_or_bytes_is_an_error_or_a_config(raw):
    check_parsed(raw)


@FUZZ
@given(st.integers(min_value=-(10**4000), max_value=10**4000) | st.floats())
def test_huge_and_odd_numbers_in_numeric_fields(number):
    if isinstance(number, float) and not math.isfinite(number):
        literal = "NaN" if math.isnan(number) else ("1e999" if number > 0 else "-1e999")
    else:
        literal = json.dumps(number)
    for name in ("sample_rate", "channels"):
        assert check_parsed(f'{{"{name}": {literal}}}') is None or (
            type(number) is int and 1 <= number <= MAX_STREAM_RATE
        )


# --- a call's lanes ------------------------------------------------------------------------------

CALL = "0123456789abcdef" * 2


@pytest.mark.parametrize("speaker", ["me", "them"])
def test_a_lane_of_a_call_names_the_call_and_its_speaker(speaker):
    config = parse_control({"mode": "en->ru", "call": CALL, "speaker": speaker})
    assert (config.call, config.speaker) == (CALL, speaker)
    assert parse_control({"mode": "en->ru"}).call is None


@pytest.mark.parametrize(
    ("control", "message"),
    [
        (
            {"call": "abc", "speaker": "me"},
            'call must be a call\'s id: 32 lower-case hex characters, or null (got "abc")',
        ),
        ({"call": CALL.upper(), "speaker": "me"}, "call must be a call's id"),
        ({"call": CALL + "0", "speaker": "me"}, "call must be a call's id"),
        ({"call": "g" * 32, "speaker": "me"}, "call must be a call's id"),
        (
            {"call": 12345, "speaker": "me"},
            "call must be a call's id: 32 lower-case hex characters, or null (got 12345)",
        ),
        ({"call": CALL, "speaker": "you"}, 'speaker must be "me", "them" or null (got "you")'),
        ({"call": CALL, "speaker": "Me"}, 'speaker must be "me", "them" or null'),
        ({"call": CALL, "speaker": 1}, 'speaker must be "me", "them" or null (got 1)'),
        ({"call": CALL}, "call and speaker come together"),
        ({"speaker": "them"}, "call and speaker come together"),
    ],
)
def test_a_bad_call_or_speaker_is_refused_in_the_schemas_words(control, message):
    with pytest.raises(ProtocolError) as caught:
        parse_control(json.dumps(control))
    assert message in str(caught.value)


def test_store_audio_is_a_strict_boolean():
    assert parse_control({"mode": "en->ru", "store_audio": False}).store_audio is False
    assert parse_control({"mode": "en->ru"}).store_audio is None
    with pytest.raises(ProtocolError, match="store_audio must be true or false"):
        parse_control('{"mode": "en->ru", "store_audio": 0}')
