"""Uploaded audio files (anything libsndfile reads) decoded to mono float32, with a clear
`AudioFormatError` for anything unusable."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from translation.audio.pcm import AudioFormatError, resample_float32

MIN_FILE_RATE = 4000
MAX_FILE_RATE = 192000
MAX_FILE_CHANNELS = 8


def decode_audio_file(
    data: bytes, *, max_duration_s: float | None = None
) -> tuple[np.ndarray, int]:
    """Decode an uploaded file (anything libsndfile reads) to (mono float32, sample_rate)."""
    if not data:
        raise AudioFormatError("the audio file is empty")
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            sample_rate, channels, frames = f.samplerate, f.channels, f.frames
            if not MIN_FILE_RATE <= sample_rate <= MAX_FILE_RATE:
                raise AudioFormatError(
                    f"unsupported sample rate {sample_rate} Hz "
                    f"(expected {MIN_FILE_RATE}..{MAX_FILE_RATE} Hz)"
                )
            if not 1 <= channels <= MAX_FILE_CHANNELS:
                raise AudioFormatError(
                    f"unsupported channel count {channels} (expected 1..{MAX_FILE_CHANNELS})"
                )
            _check_duration(frames, sample_rate, max_duration_s)
            audio = f.read(dtype="float32", always_2d=True)
    except AudioFormatError:
        raise
    except (sf.SoundFileError, RuntimeError, ValueError, TypeError, EOFError, OSError) as exc:
        raise AudioFormatError(f"could not read the file as audio ({_reason(exc)})") from exc
    if audio.shape[0] == 0:
        raise AudioFormatError("the audio file contains no samples")
    # A file whose header understates its length must not slip past the limit.
    _check_duration(audio.shape[0], sample_rate, max_duration_s)
    mono = audio[:, 0] if channels == 1 else audio.mean(axis=1, dtype=np.float32)
    if not np.isfinite(mono).all():
        raise AudioFormatError("the audio file contains invalid samples (NaN or infinity)")
    return np.ascontiguousarray(mono, dtype=np.float32), sample_rate


def _check_duration(frames: int, sample_rate: int, max_duration_s: float | None) -> None:
    if max_duration_s is not None and frames > max_duration_s * sample_rate:
        raise AudioFormatError(
            f"the audio is {frames / sample_rate:.1f} s long; the limit is {max_duration_s:g} s"
        )


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    # libsndfile's messages start with the (useless to users) stream repr.
    if text.startswith("Error opening"):
        text = text.split(":", 1)[-1].strip()
    if "not a regular file" in text or "Format not recognised" in text:
        # libsndfile's words for bytes it cannot identify as any audio format.
        return "not a recognised audio format"
    return text or type(exc).__name__


def load_audio_16k(data: bytes, *, max_duration_s: float | None = None) -> np.ndarray:
    """Decode an uploaded file straight to the models' input: 16 kHz mono float32."""
    audio, sample_rate = decode_audio_file(data, max_duration_s=max_duration_s)
    return resample_float32(audio, sample_rate)
