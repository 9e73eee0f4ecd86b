"""Writes that create jobs: a live utterance or an uploaded recording is stored and its
translation queued (after the commit)."""

from __future__ import annotations

import errno
import logging
import re
import time
import uuid
from pathlib import PurePath

import numpy as np
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import OperationalError, transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from translation import metrics
from translation.audio.files import decode_audio_file
from translation.audio.pcm import resample_float32
from translation.audio.vad import require_speech
from translation.audio.wav import wav_bytes_from_float32
from translation.backend import enqueue_translation
from translation.constants import MODEL_SAMPLE_RATE
from translation.history import storage
from translation.jobs import lifecycle, transient_audio
from translation.limits import quotas
from translation.limits.clients import Client
from translation.models import Call, Translation
from translation.protocol.control import SessionConfig
from translation.protocol.messages import HistoryNotice

logger = logging.getLogger(__name__)

RECORDING_SKIPPED = "recording_skipped"
"""`meta`: why this live utterance's recording was not kept (the disk was full)."""


def keeps_audio(config: SessionConfig) -> bool:
    """Are this session's (or upload's) recordings written to disk? Not when the server keeps
    none (STORE_AUDIO=0) or the client asked for none (`store_audio: false`)."""
    return bool(settings.STORE_AUDIO) and config.store_audio is not False


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
    call_id: str | None = None,
    speaker: str = "",
    client: Client | None = None,
) -> Translation:
    """Store a live utterance (16 kHz mono float32) and queue its translation. The stream
    times say where it lies in the session's audio (seconds since the session began; for
    a lane of a call, `call_id` and its `speaker`, on the call's clock).

    Its seconds count against the client's audio quota (LimitExceeded, nothing stored); a
    nearly full disk (MEDIA_MIN_FREE_MB, or a write that finds no space) keeps no recording of
    it, and it is translated all the same. So it is while the database cannot be reached: its
    row is written later (`transient_audio.is_deferred`: the row returned is not saved yet).
    `history_notice` says what the session is to be told of either."""
    row_id = uuid.uuid4()
    store, meta = keeps_audio(config), {"voices": dict(config.voices), "submitted_at": time.time()}
    if store:
        try:
            storage.require_free_space()
        except storage.MediaFull as exc:  # translated all the same; only the recording waits
            store, meta[RECORDING_SKIPPED] = False, str(exc)
    duration_s = round(len(audio) / MODEL_SAMPLE_RATE, 3)
    charge = quotas.charge_audio(client, duration_s) if client else quotas.AudioCharge(None, 0)
    wav = wav_bytes_from_float32(audio, MODEL_SAMPLE_RATE)
    row = Translation(
        id=row_id,
        source=Translation.Source.LIVE,
        session_id=session_id,
        seq=seq,
        call_id=call_id,
        speaker=speaker if call_id else "",
        reply_channel=reply_channel,
        client=client.key if client else "",
        store_audio=store,
        requested_src=config.src,
        requested_tgt=config.tgt or "",
        duration_s=duration_s,
        stream_start_s=stream_start_s,
        stream_end_s=stream_end_s,
        timings=dict(timings or {}),
        meta=meta,
        enqueued_at=timezone.now(),
    )
    try:
        if lifecycle.database.away:  # known to be down: no wait for a connection
            raise OperationalError("the database is unreachable (DatabaseWatch)")
        with transaction.atomic():
            if call_id:  # staff may have deleted the call from /history while a lane talks
                Call.objects.get_or_create(id=call_id)
            _keep_input(row, wav)
            row.save(force_insert=True)
            transaction.on_commit(lambda: enqueue_translation(str(row_id)))
    except BaseException as exc:
        if not lifecycle.database.is_outage(exc):
            charge.refund()
            raise
        logger.warning("utterance %s/%d: database unreachable (%s); deferred", session_id, seq, exc)
        lifecycle.database.went_away()  # PostgreSQL is away: translate all the same
        _defer(row, wav)
    metrics.UTTERANCES_SUBMITTED.labels(source="live").inc()
    return row


def history_notice(row: Translation) -> HistoryNotice | None:
    """What a live session is told of this utterance's history (a `HistoryStatus` state):
    `history_paused` (its row waits for the database), `recording_paused` (the disk is full:
    no recording of it is kept), or None (nothing out of the ordinary)."""
    if transient_audio.is_deferred(row):
        return "history_paused"
    if row.meta.get(RECORDING_SKIPPED):
        return "recording_paused"
    return None


def _defer(row: Translation, wav: bytes) -> None:
    """Queue a live utterance whose row cannot be written now: the row and its input wait in
    the cache (`transient_audio`), the worker translates from there and writes the row when
    the database is back (`lifecycle.start_translation`, `written`), the recording with it."""
    if row.input_audio:  # a file saved before the row's insert failed: the cache holds it now
        row.input_audio.delete(save=False)
    row.created_at = timezone.now()
    transient_audio.put_input(row.id, wav)
    transient_audio.put_deferred_row(row)
    enqueue_translation(str(row.id))


def _keep_input(row: Translation, wav: bytes) -> None:
    """The models' input: a file beside the row, or, keeping no audio, the cache. A live
    utterance whose file finds the disk full keeps none (what was written of it is removed);
    an upload's is refused (MediaFull)."""
    if not row.store_audio:
        transient_audio.put_input(row.id, wav)
        return
    name = row.input_audio.field.generate_filename(row, f"{row.id}.wav")
    try:
        row.input_audio = _save_file(name, wav)
    except storage.MediaFull as exc:
        if row.source != Translation.Source.LIVE:
            raise
        row.store_audio, row.meta[RECORDING_SKIPPED] = False, str(exc)
        transient_audio.put_input(row.id, wav)


def _save_file(name: str, data: bytes) -> str:
    """Write a recording; a disk that fills meanwhile raises MediaFull, and what was written
    of the file is removed (nothing half-written is left)."""
    try:
        return default_storage.save(name, ContentFile(data))
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        default_storage.delete(name)
        raise storage.MediaFull(f"the server's disk is full ({exc.strerror})") from exc


def submit_upload(
    *,
    data: bytes,
    filename: str,
    config: SessionConfig,
    max_duration_s: float | None = None,
    client: Client | None = None,
) -> Translation:
    """Store an uploaded recording and queue its translation.

    The file is decoded here (AudioFormatError for anything unusable, before anything is
    stored), kept as uploaded for staff, and stored as the models' input: a 16 kHz mono
    PCM_16 WAV, like a live utterance, so the worker reads it with `load_input_audio`.
    The models' input holds only the recording's speech (the VAD's spans, longer silences
    cut short); a recording with less speech than UTTERANCE_MIN_SPEECH_MS (silence, noise, a
    few milliseconds) raises NoSpeechFound, and nothing is stored or queued.

    Keeping no audio (`keeps_audio`), nothing is written to disk: the models' input waits in
    the cache. The recording's seconds count against the client's audio quota once decoded
    (LimitExceeded); a nearly full disk refuses it first (MediaFull).
    """
    store = keeps_audio(config)
    if store:
        storage.require_free_space()
    audio, sample_rate = decode_audio_file(data, max_duration_s=max_duration_s)
    duration_s = round(len(audio) / sample_rate, 3)
    model_input, speech = require_speech(
        resample_float32(audio, sample_rate),
        min_speech_ms=settings.UTTERANCE_MIN_SPEECH_MS,
        threshold=settings.VAD_THRESHOLD,
    )
    charge = quotas.charge_audio(client, duration_s) if client else quotas.AudioCharge(None, 0)
    wav = wav_bytes_from_float32(model_input, MODEL_SAMPLE_RATE)
    row_id = uuid.uuid4()
    original_name = _storage_name(filename)
    stored: list[str] = []
    try:
        with transaction.atomic():
            row = Translation(
                id=row_id,
                source=Translation.Source.UPLOAD,
                client=client.key if client else "",
                store_audio=store,
                requested_src=config.src,
                requested_tgt=config.tgt or "",
                duration_s=duration_s,
                enqueued_at=timezone.now(),
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
            if store:
                original = _save_file(f"uploads/{row_id}/{_generated_upload_name(filename)}", data)
                stored.append(original)
                row.meta["upload"]["stored_as"] = original
            _keep_input(row, wav)
            if row.input_audio:
                stored.append(str(row.input_audio.name))
            row.save(force_insert=True)
            transaction.on_commit(lambda: enqueue_translation(str(row_id)))
    except BaseException:
        charge.refund()
        for name in stored:  # no row, no files
            default_storage.delete(name)
        raise
    metrics.UTTERANCES_SUBMITTED.labels(source="upload").inc()
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
