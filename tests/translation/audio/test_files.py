import io

import numpy as np
import pytest
import soundfile as sf

from tests.translation.audio.signals import peak_frequency, tone
from translation.audio.files import decode_audio_file, load_audio_16k
from translation.audio.pcm import AudioFormatError


def encode(audio, sr, fmt="WAV", subtype="PCM_16"):
    out = io.BytesIO()
    sf.write(out, audio, sr, format=fmt, subtype=subtype)
    return out.getvalue()


def test_decode_stereo_wav_averages_channels():
    left = tone(440, 44100, 0.5)
    data = encode(np.stack([left, -left * 0.5], axis=1), 44100)
    audio, sr = decode_audio_file(data)
    assert sr == 44100
    assert audio.dtype == np.float32 and audio.ndim == 1
    np.testing.assert_allclose(audio, left * 0.25, atol=2 / 32768)


def test_decode_flac_and_ogg():
    x = tone(440, 16000, 0.5)
    flac, _ = decode_audio_file(encode(x, 16000, "FLAC", "PCM_16"))
    np.testing.assert_allclose(flac, x, atol=2 / 32768)
    ogg, sr = decode_audio_file(encode(x, 16000, "OGG", "VORBIS"))
    assert sr == 16000 and abs(ogg.size - x.size) < 100


def test_load_audio_16k_resamples():
    audio = load_audio_16k(encode(tone(1000, 48000, 1.0), 48000))
    assert audio.size == 16000
    assert abs(peak_frequency(audio, 16000) - 1000) < 3


def test_decode_errors_are_clear():
    wav = encode(tone(440, 16000, 0.5), 16000)
    with pytest.raises(AudioFormatError, match="empty"):
        decode_audio_file(b"")
    with pytest.raises(AudioFormatError, match="could not read"):
        decode_audio_file(np.random.default_rng(0).bytes(4000))
    with pytest.raises(AudioFormatError, match="could not read"):
        decode_audio_file(wav[:30])
    with pytest.raises(AudioFormatError, match="no samples"):
        decode_audio_file(encode(np.zeros(0, np.float32), 16000))
    with pytest.raises(AudioFormatError, match="0.5 s long; the limit is 0.25 s"):
        decode_audio_file(wav, max_duration_s=0.25)
    assert decode_audio_file(wav, max_duration_s=0.5)[0].size == 8000


def test_nan_in_float_wav_is_rejected():
    x = tone(440, 16000, 0.1)
    x[100] = np.nan
    with pytest.raises(AudioFormatError, match="NaN"):
        decode_audio_file(encode(x, 16000, subtype="FLOAT"))
    x[100] = np.inf
    with pytest.raises(AudioFormatError, match="NaN or infinity"):
        decode_audio_file(encode(x, 16000, subtype="FLOAT"))


def test_absurd_sample_rate_and_channel_count_are_rejected():
    with pytest.raises(AudioFormatError, match="sample rate 1000 Hz"):
        decode_audio_file(encode(np.zeros(100, np.float32), 1000))
    with pytest.raises(AudioFormatError, match="channel count 9"):
        decode_audio_file(encode(np.zeros((100, 9), np.float32), 16000))
