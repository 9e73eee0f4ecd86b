"""Reads of the translation history."""

from __future__ import annotations

import uuid

import numpy as np
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

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


def session_translations(session_id: str) -> QuerySet:
    return Translation.objects.filter(session_id=session_id).order_by("seq")


def load_input_audio(row: Translation) -> np.ndarray:
    """The stored input as 16 kHz mono float32 (the models' format)."""
    with row.input_audio.open("rb") as fh:
        return load_audio_16k(fh.read())
