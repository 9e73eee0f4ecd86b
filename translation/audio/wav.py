"""Model output as WAV bytes: one whole WAV, or WAV frames that each fit in a WebSocket
message (cut at quiet moments, so pieces played back to back sound whole)."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf


def wav_bytes_from_float32(audio: np.ndarray, sr: int) -> bytes:
    """Encode mono float audio as a 16-bit PCM WAV (what the browser plays)."""
    samples = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    out = io.BytesIO()
    sf.write(out, samples, sr, format="WAV", subtype="PCM_16")
    return out.getvalue()


WAV_HEADER_BYTES = 44  # what libsndfile writes for mono PCM_16 (no extra chunks)
SPLIT_WINDOW_S = 0.02  # the granularity at which a long piece looks for its quietest moment


def wav_frames(audio: np.ndarray, sr: int, *, max_bytes: int) -> list[bytes]:
    """Mono float audio as one or more complete PCM_16 WAVs of at most `max_bytes` each.

    Audio too long for one WAV is cut at the quietest 20 ms window in the last 40 % of what
    fits (a pause between words, usually), so pieces played back to back sound whole.
    """
    max_samples = (max_bytes - WAV_HEADER_BYTES) // 2
    if max_samples < 1:
        raise ValueError(f"max_bytes={max_bytes} leaves no room for audio")
    samples = np.asarray(audio, dtype=np.float32)
    frames: list[bytes] = []
    while len(samples) > max_samples:
        cut = _quietest_cut(samples, low=int(max_samples * 0.6), high=max_samples, sr=sr)
        frames.append(wav_bytes_from_float32(samples[:cut], sr))
        samples = samples[cut:]
    frames.append(wav_bytes_from_float32(samples, sr))
    return frames


def _quietest_cut(samples: np.ndarray, *, low: int, high: int, sr: int) -> int:
    """The sample index in [low, high] at the middle of the lowest-energy window."""
    window = max(1, int(sr * SPLIT_WINDOW_S))
    span = samples[low:high]
    count = len(span) // window
    if count < 1:
        return high
    energy = np.square(span[: count * window]).reshape(count, window).sum(axis=1)
    return low + int(np.argmin(energy)) * window + window // 2
