"""Reads of the live history: sessions, calls and their utterances, in order."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.db.models import Count, Max, Min, QuerySet

from translation.constants import CALL_ID_PATTERN
from translation.models import Call, Translation


def normalize_session_id(session_id: str) -> str | None:
    """A live session's id as the consumer stores it (uuid4 hex), or None if it is not one."""
    try:
        return uuid.UUID(str(session_id)).hex
    except (ValueError, TypeError):
        return None


def live_session_utterances(session_id: str) -> list[Translation]:
    """A live session's utterances in stream order; empty for an unknown or malformed id. A
    session that is a lane of a call covers all that lane's connections (a page that
    reconnected keeps one transcript)."""
    key = normalize_session_id(session_id)
    if key is None:
        return []
    rows = list(
        Translation.objects.filter(source=Translation.Source.LIVE, session_id=key).order_by("seq")
    )
    lane = next(((row.call_id, row.speaker) for row in rows if row.call_id), None)
    if lane is None:
        return rows
    call_id, speaker = lane
    return list(
        Translation.objects.filter(call_id=call_id, speaker=speaker).order_by(
            "stream_start_s", "created_at"
        )
    )


def normalize_call_id(call_id: str) -> str | None:
    """A call's id as the pages make it (32 lower-case hex characters), or None."""
    return call_id if re.fullmatch(CALL_ID_PATTERN, str(call_id)) else None


def get_call(call_id: str) -> Call | None:
    key = normalize_call_id(call_id)
    return None if key is None else Call.objects.filter(pk=key).first()


def call_utterances(call: Call) -> list[Translation]:
    """Both lanes' utterances of a call, in the order of the call's clock."""
    return list(call.utterances.order_by("stream_start_s", "created_at"))


def list_calls() -> QuerySet:
    """Calls, newest first, each with `lanes` (its speakers, "me,them") and `utterances`."""
    return Call.objects.annotate(
        utterance_count=Count("utterances"),
        last_at=Max("utterances__created_at"),
    ).order_by("-created_at")


def calls_with_lanes(calls: list[Call]) -> list[dict[str, Any]]:
    """For the history page: each call with its utterances in clock order and its lanes."""
    rows = Translation.objects.filter(call__in=calls).order_by("stream_start_s", "created_at")
    grouped: dict[str, list[Translation]] = {call.id: [] for call in calls}
    for row in rows:
        grouped[row.call_id].append(row)  # type: ignore[index]
    return [
        {
            "call": call,
            "rows": grouped[call.id],
            "lanes": sorted({row.speaker for row in grouped[call.id]}),
        }
        for call in calls
    ]


def list_sessions(*, without_calls: bool = False) -> QuerySet:
    """Live sessions, newest first: one dict per session with `session_id`, `started_at`
    (its first utterance), `last_at` and `utterances` (a count). `without_calls` leaves out
    the connections of calls (the history page shows those by call)."""
    rows = Translation.objects.filter(source=Translation.Source.LIVE)
    if without_calls:
        rows = rows.filter(call__isnull=True)
    return (
        rows.exclude(session_id="")
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
