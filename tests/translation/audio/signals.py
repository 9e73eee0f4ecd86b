"""Test signals and measures shared by the audio tests (tones, stereo PCM, spectra)."""

import numpy as np

from translation.audio.pcm import pcm16_to_mono_float32, resample_float32


def mono16k(pcm, rate, channels):
    """A whole PCM recording as the models' input, one shot: downmix, then resample."""
    return resample_float32(pcm16_to_mono_float32(pcm, channels), rate)


def tone(freq, sr, seconds, amplitude=0.5):
    t = np.arange(round(sr * seconds)) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def stereo_pcm(left, right=None):
    right = left if right is None else right
    frames = np.stack([left, right], axis=1)
    return np.round(frames * 32767).astype("<i2").tobytes()


def peak_frequency(audio, sr):
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    return np.argmax(spectrum) * sr / audio.size


def rms(audio):
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
