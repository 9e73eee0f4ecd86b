"""Long speech cut into pieces a speech model takes at once, at its pauses (no torch here:
the batcher cuts uploads into pieces before they reach the model thread)."""

from __future__ import annotations

import numpy as np

from workers.engines.base import MODEL_SAMPLE_RATE

MAX_PIECE_S = 30.0  # Canary handles ~40 s; stay well inside
MIN_PIECE_S = 10.0  # cut points are looked for in the last part of a 30 s window
FRAME_S = 0.1  # energy frames for choosing cut points


def split_at_pauses(
    audio: np.ndarray,
    sample_rate: int = MODEL_SAMPLE_RATE,
    max_s: float = MAX_PIECE_S,
    min_s: float = MIN_PIECE_S,
) -> list[np.ndarray]:
    """Cut audio into pieces of at most max_s, each cut at the quietest 100 ms frame found
    between min_s and max_s after the previous cut."""
    max_len = int(max_s * sample_rate)
    if len(audio) <= max_len:
        return [audio]
    frame = max(1, int(FRAME_S * sample_rate))
    pieces = []
    start = 0
    while len(audio) - start > max_len:
        lo = start + int(min_s * sample_rate)
        frames = (max_len - int(min_s * sample_rate)) // frame
        window = audio[lo : lo + frames * frame].astype(np.float64)
        energy = (window.reshape(frames, frame) ** 2).mean(axis=1)
        quietest = int(np.argmin(energy))
        cut = lo + quietest * frame + frame // 2
        pieces.append(audio[start:cut])
        start = cut
    pieces.append(audio[start:])
    return pieces
