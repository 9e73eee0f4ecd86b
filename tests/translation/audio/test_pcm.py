import itertools
import math
import struct

import numpy as np
import pytest
import soxr
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.translation.audio.signals import mono16k, peak_frequency, rms, stereo_pcm, tone
from translation.audio.pcm import (
    AudioFormatError,
    BoundedAudioBuffer,
    PcmStream,
    StreamingResampler,
    pcm16_to_mono_float32,
    resample_float32,
    validate_frame,
)

# -- frames and downmix --------------------------------------------------------------------


def test_tone_keeps_frequency_and_amplitude_at_16k():
    out = mono16k(stereo_pcm(tone(1000, 48000, 1.0)), 48000, 2)

    assert out.dtype == np.float32
    assert out.size == 16000
    middle = out[1000:-1000]  # away from the edges the filter sees silence
    assert abs(peak_frequency(middle, 16000) - 1000) < 3
    assert np.max(np.abs(middle)) == pytest.approx(0.5, rel=0.05)
    assert rms(middle) == pytest.approx(0.5 / math.sqrt(2), rel=0.05)


def test_tone_above_new_nyquist_is_attenuated_90_db():
    source = tone(12000, 48000, 1.0)
    out = mono16k(stereo_pcm(source), 48000, 2)

    attenuation_db = 20 * math.log10(rms(out[200:-200]) / rms(source))
    assert attenuation_db <= -90


def test_opposite_channels_cancel_and_equal_channels_stay():
    x = tone(440, 48000, 0.1)
    assert np.abs(pcm16_to_mono_float32(stereo_pcm(x, -x), 2)).max() < 1e-4
    same = pcm16_to_mono_float32(stereo_pcm(x), 2)
    np.testing.assert_allclose(same, x, atol=1 / 32768)


def test_pcm16_scale_is_minus_one_to_just_below_one():
    pcm = struct.pack("<3h", -32768, 0, 32767)
    out = pcm16_to_mono_float32(pcm, 1)
    assert out.tolist() == [-1.0, 0.0, pytest.approx(32767 / 32768)]


@pytest.mark.parametrize(("size", "channels"), [(1, 1), (3, 1), (2, 2), (6, 2), (1922, 2)])
def test_frame_not_whole_samples_is_rejected(size, channels):
    with pytest.raises(AudioFormatError, match=f"{size} bytes.*multiple of {2 * channels}"):
        validate_frame(b"\0" * size, channels=channels, max_bytes=4096)


def test_empty_and_oversized_frames_are_rejected():
    with pytest.raises(AudioFormatError, match="empty"):
        validate_frame(b"", channels=2, max_bytes=4096)
    with pytest.raises(AudioFormatError, match="larger than 4096"):
        validate_frame(b"\0" * 4100, channels=1, max_bytes=4096)
    validate_frame(b"\0" * 4096, channels=2, max_bytes=4096)


def test_pcm_stream_rejects_a_bad_frame_and_keeps_going():
    stream = PcmStream(48000, 2)
    good = stereo_pcm(tone(1000, 48000, 0.02))
    with pytest.raises(AudioFormatError):
        stream.feed(good[:-1])
    out = np.concatenate([stream.feed(good), stream.finish()])
    assert out.size == 320


@pytest.mark.parametrize(("rate", "channels"), [(7999, 2), (96001, 1), (48000, 3), (48000, 0)])
def test_unsupported_stream_formats_are_rejected(rate, channels):
    with pytest.raises(AudioFormatError):
        PcmStream(rate, channels)


# -- resampling ----------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 96000])
def test_output_length_is_ceil_of_the_ratio(rate):
    n_in = rate + 37
    out = mono16k(b"\0\0" * n_in, rate, 1)
    assert out.size == math.ceil(n_in * 16000 / rate)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 96000])
def test_streaming_equals_libsoxr_one_shot(rate):
    rng = np.random.default_rng(rate)
    x = rng.uniform(-0.5, 0.5, rate // 2 + 11).astype(np.float32)
    expected = soxr.resample(x, rate, 16000, quality="HQ")
    out = resample_float32(x, rate)
    assert out.size == math.ceil(x.size * 16000 / rate)
    n = min(out.size, expected.size)
    np.testing.assert_allclose(out[:n], expected[:n], atol=1e-6)


@pytest.mark.parametrize("rate", [8000, 44100])
def test_tone_survives_other_rates(rate):
    out = resample_float32(tone(1000, rate, 1.0), rate)
    assert abs(peak_frequency(out[800:-800], 16000) - 1000) < 3
    assert rms(out[800:-800]) == pytest.approx(0.5 / math.sqrt(2), rel=0.05)


def test_same_rate_passes_through():
    x = np.random.default_rng(1).standard_normal(1000).astype(np.float32)
    resampler = StreamingResampler(16000, 16000)
    parts = [resampler.process(x[:300]), resampler.process(x[300:]), resampler.finish()]
    np.testing.assert_array_equal(np.concatenate(parts), x)


def test_resampler_reset_starts_a_new_stream():
    x = tone(300, 48000, 0.05)
    resampler = StreamingResampler(48000)
    first = np.concatenate([resampler.process(x), resampler.finish()])
    resampler.process(x[:123])
    resampler.reset()
    second = np.concatenate([resampler.process(x), resampler.finish()])
    np.testing.assert_array_equal(first, second)


@st.composite
def frame_stream(draw):
    """A random int16 stereo or mono recording and a split into sample-aligned chunks."""
    rate = draw(st.sampled_from([8000, 16000, 22050, 44100, 48000, 96000]))
    channels = draw(st.sampled_from([1, 2]))
    n_frames = draw(st.integers(min_value=2, max_value=6000))
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    samples = np.random.default_rng(seed).integers(-32768, 32768, n_frames * channels)
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=n_frames - 1), max_size=20)))
    return rate, channels, samples.astype("<i2").tobytes(), cuts


@settings(max_examples=60, deadline=None)
@given(frame_stream())
def test_chunked_stream_equals_one_shot(case):
    rate, channels, pcm, cuts = case
    block = 2 * channels
    bounds = [0, *cuts, len(pcm) // block]
    stream = PcmStream(rate, channels)
    parts = [stream.feed(pcm[a * block : b * block]) for a, b in itertools.pairwise(bounds)]
    chunked = np.concatenate([*parts, stream.finish()])

    whole = mono16k(pcm, rate, channels)
    assert chunked.shape == whole.shape
    np.testing.assert_allclose(chunked, whole, atol=1e-6)


# -- bounded buffer ------------------------------------------------------------------------


def test_bounded_buffer_append_take_and_overflow():
    buffer = BoundedAudioBuffer(10)
    buffer.append(np.arange(4, dtype=np.float32))
    buffer.append(np.arange(4, 8, dtype=np.float32))
    assert len(buffer) == 8 and buffer.free == 2
    assert buffer.view().tolist() == list(range(8))

    with pytest.raises(BufferError, match="3 samples do not fit in 2 free"):
        buffer.append(np.zeros(3, np.float32))
    assert len(buffer) == 8  # unchanged by the failed append

    head = buffer.take(3)
    assert head.tolist() == [0, 1, 2]
    assert buffer.view().tolist() == [3, 4, 5, 6, 7]
    head[:] = -1  # a copy: the buffer does not change
    assert buffer.view()[0] == 3

    buffer.append(np.arange(8, 13, dtype=np.float32))
    assert buffer.view().tolist() == list(range(3, 13))
    assert buffer.take(100).tolist() == list(range(3, 13))
    assert len(buffer) == 0

    buffer.append(np.ones(5, np.float32))
    buffer.clear()
    assert len(buffer) == 0 and buffer.view().size == 0


def test_bounded_buffer_view_is_not_a_copy():
    buffer = BoundedAudioBuffer(4)
    buffer.append(np.zeros(2, np.float32))
    assert np.shares_memory(buffer.view(), buffer.view())
    buffer.view()[0] = 5
    assert buffer.view()[0] == 5
