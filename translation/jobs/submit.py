"""Writes that create jobs: a live utterance or an uploaded recording is stored and its
translation queued (after the commit)."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import PurePath

import numpy as np
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.text import get_valid_filename

from translation.audio.files import decode_audio_file
from translation.audio.pcm import resample_float32
from translation.audio.vad import require_speech
from translation.audio.wav import wav_bytes_from_float32
from translation.constants import MODEL_SAMPLE_RATE
from translation.messaging.dispatch import enqueue_translation
from translation.models import Translation
from translation.streaming.protocol import SessionConfig


def submit_utterance(
    *,
    session_id: str,
    seq: int,
    reply_channel: str,
    audio: np.ndarray,
    config: SessionConfig,
    stream_start_s: float | None = None,
    stream_end_s: float | None = None,
    timings: dict[str, float] | None = None,
) -> Translation:
    """Store a live utterance (16 kHz mono float32) and queue its translation. The stream
    times say where it lies in the session's audio (seconds since the session began)."""
    row_id = uuid.uuid4()
    wav = wav_bytes_from_float32(audio, MODEL_SAMPLE_RATE)
    with transaction.atomic():
        row = Translation(
            id=row_id,
            source=Translation.Source.LIVE,
            session_id=session_id,
            seq=seq,
            reply_channel=reply_channel,
            requested_src=config.src,
            requested_tgt=config.tgt or "",
            duration_s=round(len(audio) / MODEL_SAMPLE_RATE, 3),
            stream_start_s=stream_start_s,
            stream_end_s=stream_end_s,
            timings=dict(timings or {}),
            meta={"voices": dict(config.voices), "submitted_at": time.time()},
        )
        row.input_audio.save(f"{row_id}.wav", ContentFile(wav), save=False)
        row.save(force_insert=True)
        transaction.on_commit(lambda: enqueue_translation(str(row_id)))
    return row


def submit_upload(
    *,
    data: bytes,
    filename: str,
    config: SessionConfig,
    max_duration_s: float | None = None,
) -> Translation:
    """Store an uploaded recording and queue its translation.

    The file is decoded here (AudioFormatError for anything unusable, before anything is
    stored), kept as uploaded for staff, and stored as the models' input: a 16 kHz mono
    PCM_16 WAV, like a live utterance, so the worker reads it with `load_input_audio`.
    The models' input holds only the recording's speech (the VAD's spans, longer silences
    cut short); a recording with less speech than UTTERANCE_MIN_SPEECH_MS (silence, noise, a
    few milliseconds) raises NoSpeechFound, and nothing is stored or queued.
    """
    audio, sample_rate = decode_audio_file(data, max_duration_s=max_duration_s)
    duration_s = round(len(audio) / sample_rate, 3)
    model_input, speech = require_speech(
        resample_float32(audio, sample_rate),
        min_speech_ms=settings.UTTERANCE_MIN_SPEECH_MS,
        threshold=settings.VAD_THRESHOLD,
    )
    wav = wav_bytes_from_float32(model_input, MODEL_SAMPLE_RATE)
    row_id = uuid.uuid4()
    original_name = _storage_name(filename)
    stored: list[str] = []
    try:
        with transaction.atomic():
            row = Translation(
                id=row_id,
                source=Translation.Source.UPLOAD,
                requested_src=config.src,
                requested_tgt=config.tgt or "",
                duration_s=duration_s,
                meta={
                    "voices": dict(config.voices),
                    "submitted_at": time.time(),
                    "upload": {
                        "filename": original_name,
                        "bytes": len(data),
                        "sample_rate": sample_rate,
                    },
                    "speech": {
                        "speech_ms": round(speech.speech_ms),
                        "spans": len(speech.spans),
                        "model_input_s": round(len(model_input) / MODEL_SAMPLE_RATE, 3),
                    },
                },
            )
            original = default_storage.save(
                f"uploads/{row_id}/{_generated_upload_name(filename)}", ContentFile(data)
            )
            stored.append(original)
            row.meta["upload"]["stored_as"] = original
            row.input_audio.save(f"{row_id}.wav", ContentFile(wav), save=False)
            stored.append(str(row.input_audio.name))
            row.save(force_insert=True)
            transaction.on_commit(lambda: enqueue_translation(str(row_id)))
    except BaseException:
        for name in stored:  # no row, no files
            default_storage.delete(name)
        raise
    return row


def _storage_name(filename: str) -> str:
    """A safe file name from a client's (possibly absent or hostile) upload name."""
    try:
        return get_valid_filename(PurePath(filename or "").name)[-100:]
    except SuspiciousFileOperation:
        return "upload"


def _generated_upload_name(filename: str) -> str:
    """The stored name of an upload's original file: generated, never the client's. Only a
    short alphanumeric extension of the client's name is kept, for people browsing the files."""
    suffix = PurePath(_storage_name(filename)).suffix.lower()
    return "original" + (suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else "")
