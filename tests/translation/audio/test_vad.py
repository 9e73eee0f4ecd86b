"""Speech in a whole recording: the upload check and the silent stretches left out."""

import numpy as np
import pytest

from tests.speech import speech_16k, speech_like
from translation.audio.vad import (
    JOIN_GAP_MS,
    NoSpeechFound,
    find_speech,
    keep_speech,
    require_speech,
)

SR = 16_000


def test_long_silences_are_cut_out_and_speech_kept_in_order():
    first = speech_16k("The train leaves at nine o'clock.", "en")
    second = speech_16k("Поезд отправляется в девять часов.", "ru")
    silence = np.zeros(8 * SR, np.float32)
    audio = np.concatenate([silence, first, silence, silence, second, silence])

    speech = find_speech(audio)
    assert len(speech.spans) == 2
    (a_start, a_end), (b_start, b_end) = speech.spans
    assert a_start <= len(silence) <= a_end  # the first sentence, a little padding
    assert b_start <= 3 * len(silence) + len(first) <= b_end
    kept = keep_speech(audio, speech)
    gap = round(JOIN_GAP_MS * SR / 1000)
    assert len(kept) == (a_end - a_start) + gap + (b_end - b_start)
    assert len(kept) < len(first) + len(second) + 2 * SR  # 40 s in, ~5 s out
    np.testing.assert_array_equal(kept[: a_end - a_start], audio[a_start:a_end])


def test_continuous_speech_is_one_span_and_kept_whole():
    audio = speech_like(3.0)
    speech = find_speech(audio)
    assert speech.spans == ((0, len(audio)),)
    assert speech.speech_ms > 2000
    np.testing.assert_array_equal(keep_speech(audio, speech), audio)


@pytest.mark.parametrize(
    "audio",
    [
        np.zeros(10 * SR, np.float32),
        (0.3 * np.random.default_rng(1).standard_normal(10 * SR)).astype(np.float32),
        speech_like(0.005),
        np.zeros(0, np.float32),
    ],
    ids=["silence", "white-noise", "5-ms", "empty"],
)
def test_too_little_speech_is_refused(audio):
    with pytest.raises(NoSpeechFound, match="no speech found"):
        require_speech(audio, min_speech_ms=250)


def test_the_minimum_is_the_setting():
    audio = speech_like(0.5)
    require_speech(audio, min_speech_ms=250)
    with pytest.raises(NoSpeechFound, match="at least 2000 ms needed"):
        require_speech(audio, min_speech_ms=2000)
