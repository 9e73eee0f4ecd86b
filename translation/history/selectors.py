"""Reads of the live history: sessions and their utterances, in order."""

from __future__ import annotations

import uuid

from django.db.models import Count, Max, Min, QuerySet

from translation.models import Translation


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
