"""Reads of the translation history."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db.models import Count, Max, Min, QuerySet

from translation import transient_audio
from translation.audio import load_audio_16k
from translation.models import Translation


def get_translation(translation_id: str | uuid.UUID) -> Translation | None:
    try:
        return Translation.objects.filter(pk=translation_id).first()
    except (ValueError, TypeError, ValidationError):  # not a UUID
        return None


def list_translations(*, status: str | None = None, source: str | None = None) -> QuerySet:
    rows = Translation.objects.all()
    if status:
        rows = rows.filter(status=status)
    if source:
        rows = rows.filter(source=source)
    return rows


def normalize_session_id(session_id: str) -> str | None:
    """A live session's id as the consumer stores it (uuid4 hex), or None if it is not one."""
    try:
        return uuid.UUID(str(session_id)).hex
    except (ValueError, TypeError):
        return None


def live_session_utterances(session_id: str) -> list[Translation]:
    """A live session's utterances in seq order; empty for an unknown or malformed id."""
    key = normalize_session_id(session_id)
    if key is None:
        return []
    return list(
        Translation.objects.filter(source=Translation.Source.LIVE, session_id=key).order_by("seq")
    )


def list_sessions() -> QuerySet:
    """Live sessions, newest first: one dict per session with `session_id`, `started_at`
    (its first utterance), `last_at` and `utterances` (a count)."""
    return (
        Translation.objects.filter(source=Translation.Source.LIVE)
        .exclude(session_id="")
        .values("session_id")
        .annotate(started_at=Min("created_at"), last_at=Max("created_at"), utterances=Count("id"))
        .order_by("-started_at", "session_id")
    )


def utterances_by_session(session_ids: list[str]) -> dict[str, list[Translation]]:
    """The utterances of several sessions (a page of list_sessions), grouped, in seq order."""
    grouped: dict[str, list[Translation]] = {key: [] for key in session_ids}
    rows = Translation.objects.filter(
        source=Translation.Source.LIVE, session_id__in=session_ids
    ).order_by("session_id", "seq")
    for row in rows:
        grouped[row.session_id].append(row)
    return grouped


def load_input_audio(row: Translation) -> np.ndarray:
    """The input as 16 kHz mono float32 (the models' format): its file, or, for a row that
    keeps no audio, the cache (`transient_audio.AudioUnavailable` once it has expired)."""
    if not row.store_audio:
        return load_audio_16k(transient_audio.get_input(row.id))
    with row.input_audio.open("rb") as fh:
        return load_audio_16k(fh.read())


def job_state(row: Translation) -> dict[str, Any]:
    """A job's state as the API and `/ws/jobs/<id>` report it (one shape for both)."""
    return {
        "id": str(row.id),
        "status": row.status,
        "source": row.source,
        "src": row.src_lang or row.requested_src,
        "tgt": row.tgt_lang or row.requested_tgt or None,
        "voice": row.voice or None,
        "source_text": row.source_text,
        "text": row.text,
        "tts_failed": row.tts_failed,
        "error": row.error,
        "timings": dict(row.timings),
        "duration_s": row.duration_s,
        "has_audio": row.status == Translation.Status.DONE
        and (
            bool(row.output_audio) or (not row.store_audio and transient_audio.has_output(row.id))
        ),
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
    }
