"""PCM for the web tier: live frames in, 16 kHz mono float32 out, and a bounded buffer.

The live path (`PcmStream`) and the upload path (`translation.audio.files`) resample with the
same filter (`resample_float32`). numpy and soxr only: the web tier must not import torch.
"""

from __future__ import annotations

import numpy as np
import soxr

from translation.constants import MAX_STREAM_RATE, MIN_STREAM_RATE, MODEL_SAMPLE_RATE

DEFAULT_MAX_FRAME_BYTES = 1 << 20
"""About 2.7 s of 96 kHz stereo: far above the ~20 ms frames a browser sends."""

_PCM16_SCALE = 1.0 / 32768.0
_SOXR_QUALITY = "HQ"
"""libsoxr's high quality: 5 µs per 20 ms 48 kHz frame here, a 12 kHz tone > 200 dB down."""


class AudioFormatError(ValueError):
    """Audio the service cannot use; the message is meant for the user."""


def _check_stream_format(sample_rate: int, channels: int) -> None:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | np.integer):
        raise AudioFormatError(f"sample_rate must be an integer, got {sample_rate!r}")
    if not MIN_STREAM_RATE <= sample_rate <= MAX_STREAM_RATE:
        raise AudioFormatError(
            f"sample_rate {sample_rate} Hz is not supported "
            f"(expected {MIN_STREAM_RATE}..{MAX_STREAM_RATE} Hz)"
        )
    if channels not in (1, 2):
        raise AudioFormatError(f"channels must be 1 or 2, got {channels!r}")


def validate_frame(frame: bytes, *, channels: int, max_bytes: int) -> None:
    """Reject a PCM frame that is empty, too large or not a whole number of sample frames."""
    size = len(frame)
    if size == 0:
        raise AudioFormatError("empty audio frame")
    if size > max_bytes:
        raise AudioFormatError(f"audio frame of {size} bytes is larger than {max_bytes} bytes")
    block = 2 * channels
    if size % block:
        raise AudioFormatError(
            f"audio frame of {size} bytes is not a whole number of 16-bit samples x "
            f"{channels} channel(s) (expected a multiple of {block} bytes)"
        )


def pcm16_to_mono_float32(pcm: bytes, channels: int) -> np.ndarray:
    """Little-endian int16 PCM, interleaved when stereo, as mono float32 in [-1, 1)."""
    samples = np.frombuffer(pcm, dtype="<i2")
    if channels == 1:
        mono = samples.astype(np.float32)
    else:
        # Column adds beat a row-wise sum(axis=1) on (n, 2) int16 by ~5x.
        mono = samples[0::channels].astype(np.float32)
        for c in range(1, channels):
            mono += samples[c::channels]
    mono *= np.float32(_PCM16_SCALE / channels)
    return mono


class StreamingResampler:
    """Resampling of a mono stream, chunk by chunk, by libsoxr (`soxr.ResampleStream`, high
    quality: > 100 dB stop-band rejection at 16 kHz output).

    The output does not depend on how the input is split, and `finish()` returns the tail so
    that the stream's output holds ceil(n_in * out_sr / in_sr) samples, delay-compensated.
    """

    def __init__(self, in_sr: int, out_sr: int = MODEL_SAMPLE_RATE) -> None:
        if in_sr <= 0 or out_sr <= 0:
            raise AudioFormatError(f"sample rates must be positive, got {in_sr} -> {out_sr}")
        self.in_sr = in_sr
        self.out_sr = out_sr
        self._passthrough = in_sr == out_sr
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next sample is time zero."""
        self._n_in = 0
        self._n_out = 0
        if not self._passthrough:
            self._stream = soxr.ResampleStream(
                self.in_sr, self.out_sr, 1, dtype="float32", quality=_SOXR_QUALITY
            )

    def process(self, mono: np.ndarray) -> np.ndarray:
        """Feed input samples; return the output samples they complete."""
        mono = np.asarray(mono, dtype=np.float32)
        if mono.ndim != 1:
            raise AudioFormatError(f"expected mono audio (1-D), got shape {mono.shape}")
        self._n_in += mono.size
        if self._passthrough:  # same rate: hand the samples on, no copy
            self._n_out += mono.size
            return mono
        out = self._stream.resample_chunk(mono)
        self._n_out += out.size
        return out

    def finish(self) -> np.ndarray:
        """Flush the tail and reset; the stream's total output is ceil(n_in * ratio)."""
        if self._passthrough:
            self.reset()
            return np.zeros(0, dtype=np.float32)
        tail = self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        expected = -(-self._n_in * self.out_sr // self.in_sr)
        missing = expected - self._n_out
        if tail.size > missing:
            tail = tail[: max(missing, 0)]
        elif tail.size < missing:
            tail = np.concatenate((tail, np.zeros(missing - tail.size, dtype=np.float32)))
        self.reset()
        return tail


def resample_float32(audio: np.ndarray, in_sr: int, out_sr: int = MODEL_SAMPLE_RATE) -> np.ndarray:
    """Resample a whole mono float array (a decoded file, synthesized speech). At equal rates
    the audio comes back as float32 without a copy (the worker's 16 kHz input, every task)."""
    if in_sr == out_sr and in_sr > 0:
        return np.asarray(audio, dtype=np.float32)
    resampler = StreamingResampler(in_sr, out_sr)
    head = resampler.process(audio)
    return np.concatenate((head, resampler.finish()))


class PcmStream:
    """One live session's ingest: PCM frames in, 16 kHz mono float32 out.

    Called for every ~20 ms WebSocket frame, so it does only what each frame needs.
    """

    def __init__(
        self, sample_rate: int, channels: int, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    ) -> None:
        _check_stream_format(sample_rate, channels)
        self.sample_rate = sample_rate
        self.channels = channels
        self.max_frame_bytes = max_frame_bytes
        self._resampler = StreamingResampler(sample_rate, MODEL_SAMPLE_RATE)

    def feed(self, frame: bytes) -> np.ndarray:
        """Validate, downmix and resample one frame; raises AudioFormatError (stream intact)."""
        validate_frame(frame, channels=self.channels, max_bytes=self.max_frame_bytes)
        return self._resampler.process(pcm16_to_mono_float32(frame, self.channels))

    def finish(self) -> np.ndarray:
        """The last output samples of the stream; the stream can then start over."""
        return self._resampler.finish()


class BoundedAudioBuffer:
    """A preallocated float32 buffer with a hard size, so a session's memory cannot grow.

    append() raises BufferError (and changes nothing) when the chunk does not fit: the caller
    decides what overflow means (cut an utterance, drop audio).
    """

    def __init__(self, max_samples: int) -> None:
        if max_samples <= 0:
            raise ValueError(f"max_samples must be positive, got {max_samples}")
        self._data = np.zeros(max_samples, dtype=np.float32)
        self._size = 0

    @property
    def capacity(self) -> int:
        return self._data.size

    @property
    def free(self) -> int:
        return self._data.size - self._size

    def __len__(self) -> int:
        return self._size

    def append(self, chunk: np.ndarray) -> None:
        """Copy `chunk` in after the current content; BufferError if it does not fit."""
        n = len(chunk)
        if n > self.free:
            raise BufferError(
                f"audio buffer full: {n} samples do not fit in {self.free} free of {self.capacity}"
            )
        self._data[self._size : self._size + n] = chunk
        self._size += n

    def view(self) -> np.ndarray:
        """The content without copying; valid until the next change to the buffer."""
        return self._data[: self._size]

    def take(self, n: int) -> np.ndarray:
        """Remove and return (a copy of) the first n samples, at most all of them."""
        if n < 0:
            raise ValueError(f"cannot take {n} samples")
        n = min(n, self._size)
        head = self._data[:n].copy()
        self.discard(n)
        return head

    def discard(self, n: int) -> None:
        """Drop the first n samples (at most all) and move the rest to the front."""
        if n < 0:
            raise ValueError(f"cannot discard {n} samples")
        n = min(n, self._size)
        rest = self._size - n
        if n and rest:
            self._data[:rest] = self._data[n : self._size]
        self._size = rest

    def clear(self) -> None:
        self._size = 0
