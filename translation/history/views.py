"""The staff's history page: calls and live sessions with their utterances, players and
transcripts."""

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from translation.history import retention, transcripts
from translation.history import selectors as history_selectors
from translation.jobs import selectors as job_selectors

SESSIONS_PER_PAGE = 20
CALLS_PER_PAGE = 10


@staff_member_required
def history_page(request: HttpRequest) -> HttpResponse:
    """Calls (both lanes interleaved) and live sessions, newest first, with their
    utterances, players and transcript links."""
    calls_page = Paginator(history_selectors.list_calls(), CALLS_PER_PAGE).get_page(
        request.GET.get("calls")
    )
    page_obj = Paginator(
        history_selectors.list_sessions(without_calls=True), SESSIONS_PER_PAGE
    ).get_page(request.GET.get("page"))
    grouped = history_selectors.utterances_by_session([s["session_id"] for s in page_obj])
    policy = retention.RetentionPolicy.from_settings()
    sessions = [
        {**s, "rows": grouped[s["session_id"]], **policy.kept_until(s["started_at"])}
        for s in page_obj
    ]
    return render(
        request,
        "translation/history.html",
        {
            "calls_page": calls_page,
            "calls": [
                {**entry, **policy.kept_until(entry["call"].created_at)}
                for entry in history_selectors.calls_with_lanes(list(calls_page))
            ],
            "page_obj": page_obj,
            "sessions": sessions,
            "formats": list(transcripts.FORMATS),
            "policy": policy,
            "store_audio": settings.STORE_AUDIO,
        },
    )


@staff_member_required
@require_POST
def history_delete_session(request: HttpRequest, session_id: str) -> HttpResponse:
    """Delete a live session's utterances and their recordings (staff, from /history)."""
    deleted = retention.delete_session(session_id)
    messages.info(
        request, f"Deleted session {session_id[:12]}: {deleted} utterances and their audio."
    )
    return redirect("history")


@staff_member_required
@require_POST
def history_delete_call(request: HttpRequest, call_id: str) -> HttpResponse:
    """Delete a call (both lanes, every connection) or a live page's session with their
    recordings (staff, from /history)."""
    deleted = retention.delete_call(call_id)
    messages.info(request, f"Deleted call {call_id[:12]}: {deleted} utterances and their audio.")
    return redirect("history")


@staff_member_required
def history_audio(request: HttpRequest, translation_id: str, kind: str) -> FileResponse:
    """A history row's input or output WAV, for staff only (the admin's players)."""
    row = job_selectors.get_translation(translation_id)
    field = None if row is None else (row.input_audio if kind == "input" else row.output_audio)
    if not field:
        raise Http404("no such audio")
    return FileResponse(field.open("rb"), content_type="audio/wav")
