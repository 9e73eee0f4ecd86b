import io

import numpy as np
import pytest
import soundfile as sf

from tests.translation.audio.signals import tone
from translation.audio.wav import wav_bytes_from_float32


def test_wav_round_trips_through_soundfile():
    x = tone(500, 24000, 0.25, amplitude=0.9)
    x[:3] = [1.5, -1.5, 0.0]  # clipped, not wrapped
    data = wav_bytes_from_float32(x, 24000)

    assert data[:4] == b"RIFF"
    info = sf.info(io.BytesIO(data))
    assert (info.samplerate, info.channels, info.subtype) == (24000, 1, "PCM_16")
    assert info.frames == x.size
    back, sr = sf.read(io.BytesIO(data), dtype="float32")
    assert sr == 24000
    np.testing.assert_allclose(back, np.clip(x, -1, 1), atol=1 / 32768)


def test_wav_frames_fit_the_limit_and_cut_in_a_pause():
    from translation.audio.wav import WAV_HEADER_BYTES, wav_frames

    sr = 48_000
    t = np.arange(sr * 2, dtype=np.float32) / sr
    word = 0.5 * np.sin(2 * np.pi * 220 * t).astype(np.float32)  # 2 s of "speech"
    gap = np.zeros(int(0.3 * sr), np.float32)  # 300 ms between words
    audio = np.concatenate([word, gap, word, gap, word, gap, word])  # 8.9 s
    frames = wav_frames(audio, sr, max_bytes=256 * 1024)
    assert all(len(f) <= 256 * 1024 for f in frames) and len(frames) == 4
    decoded = [sf.read(io.BytesIO(f), dtype="float32") for f in frames]
    assert all(rate == sr for _, rate in decoded)
    assert all(sf.info(io.BytesIO(f)).subtype == "PCM_16" for f in frames)
    joined = np.concatenate([a for a, _ in decoded])
    assert len(joined) == len(audio)
    np.testing.assert_allclose(joined, audio, atol=1 / 32767 + 1e-6)
    # Every cut lies in a gap (silence on both sides), not inside a word.
    cut = 0
    for samples, _ in decoded[:-1]:
        cut += len(samples)
        assert np.all(audio[cut - 10 : cut + 10] == 0), cut
    assert len(frames[0]) - WAV_HEADER_BYTES == 2 * len(decoded[0][0])


def test_wav_frames_of_short_audio_is_one_wav():
    from translation.audio.wav import wav_frames

    frames = wav_frames(np.zeros(100, np.float32), 24_000, max_bytes=256 * 1024)
    assert len(frames) == 1 and len(frames[0]) == 44 + 200
    with pytest.raises(ValueError, match="no room"):
        wav_frames(np.zeros(100, np.float32), 24_000, max_bytes=44)
