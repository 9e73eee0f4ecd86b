"""Delivery of a job's results to whoever waits, as typed events (`translation.events`): a live
utterance's result, its audio pieces and their end to its session; an upload's status to its
`/ws/jobs/<id>` watchers. A failed push is logged, never raised (`messaging.channel_layer`)."""

from __future__ import annotations

import io
import time
import uuid

import numpy as np
import soundfile as sf

from translation.audio.wav import wav_frames
from translation.events import (
    AudioEnd,
    AudioPiece,
    HistoryLost,
    JobStatus,
    Outcome,
    UtteranceFailed,
    UtteranceResult,
)
from translation.jobs import selectors
from translation.messaging.channel_layer import group_send_event, send_event
from translation.models import Translation
from translation.protocol.messages import MAX_MESSAGE_BYTES, result_message


def deliver_result(row: Translation, *, wav: bytes | None) -> bool:
    """Push a finished row to its live session at once: its result, then its WAV in pieces,
    then the audio end (or, for a failed row, its error). A session that has gone away is not
    an error: the row is already complete; the push is simply dropped."""
    if not row.reply_channel:
        return False
    if row.status == Translation.Status.FAILED:
        failed = UtteranceFailed(seq=row.seq or 0, error=row.error, sent_at=time.time())
        return send_event(row.reply_channel, failed)
    outcome = Outcome(
        src=row.src_lang,
        tgt=row.tgt_lang,
        text=row.text,
        source_text=row.source_text or None,
        wav=None,
        tts_failed=row.tts_failed,
        timings={},
        meta=row.meta,
        error=row.error,
    )
    if not deliver_text(row, outcome):
        return False
    frames = wav_frames_of(wav) if wav and not row.tts_failed else []
    sent = sum(deliver_audio(row, wav=frame) for frame in frames)
    error = row.error if row.tts_failed else ""
    return deliver_audio_end(row, pieces=sent, error=error)


def deliver_text(row: Translation, outcome: Outcome) -> bool:
    """Push a live row's `result` (the text) before its speech exists: `outcome` holds what
    the translator said; the row gives the ids, stream times and timings so far."""
    if not row.reply_channel:
        return False
    result = UtteranceResult(
        seq=row.seq or 0,
        result=result_message(
            seq=row.seq or 0,
            translation_id=str(row.id),
            src=outcome.src,
            tgt=outcome.tgt,
            text=outcome.text,
            source_text=outcome.source_text,
            tts_failed=outcome.tts_failed,
            timings={**row.timings, **outcome.timings},
            error=outcome.error,
            start_s=row.stream_start_s,
            end_s=row.stream_end_s,
            lid=outcome.meta.get("lid") or row.meta.get("lid"),
        ),
        attempt=row.attempts,
        sent_at=time.time(),
    )
    return send_event(row.reply_channel, result)


def tell_history_lost(row: Translation) -> bool:
    """Tell a live row's session that its utterance is not kept in the history."""
    return bool(row.reply_channel) and send_event(row.reply_channel, HistoryLost(seq=row.seq or 0))


def deliver_audio(row: Translation, *, wav: bytes) -> bool:
    """Push one WAV frame (at most MAX_MESSAGE_BYTES: see `wav_frames_of`) of a live row."""
    if not row.reply_channel:
        return False
    if len(wav) > MAX_MESSAGE_BYTES:
        raise ValueError(f"a WAV frame of {len(wav)} bytes exceeds {MAX_MESSAGE_BYTES}")
    piece = AudioPiece(seq=row.seq or 0, wav=wav, attempt=row.attempts)
    return send_event(row.reply_channel, piece)


def deliver_audio_end(
    row: Translation, *, pieces: int, error: str = "", timings: dict[str, float] | None = None
) -> bool:
    """Tell a live row's session that its audio is complete: `pieces` frames were sent."""
    if not row.reply_channel:
        return False
    end = AudioEnd(
        seq=row.seq or 0, pieces=pieces, attempt=row.attempts, error=error, timings=timings or None
    )
    return send_event(row.reply_channel, end)


def wav_frames_of(audio: bytes | np.ndarray, sample_rate: int | None = None) -> list[bytes]:
    """Audio (a WAV, or mono float samples with their rate) as WAV frames that each fit in
    one WebSocket message."""
    if isinstance(audio, bytes):
        samples, sample_rate = sf.read(io.BytesIO(audio), dtype="float32", always_2d=False)
    else:
        samples = audio
    if sample_rate is None:
        raise ValueError("float samples need their sample rate")
    return wav_frames(samples, sample_rate, max_bytes=MAX_MESSAGE_BYTES)


def job_group(translation_id: str | uuid.UUID) -> str:
    """The channel-layer group a job's status watchers (`/ws/jobs/<id>`) listen on."""
    return f"job.{translation_id}"


def notify_job_status(row: Translation) -> bool:
    """Tell an upload's status watchers (`/ws/jobs/<id>`) about its current state (call after
    the commit). Nobody watching is the normal case and costs one channel-layer call."""
    if row.source != Translation.Source.UPLOAD:
        return False  # live results go to their session; keep the hot path to one push
    return group_send_event(job_group(row.id), JobStatus(job=selectors.job_state(row)))
