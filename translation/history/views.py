"""The staff's history page: live sessions with their utterances, players and transcripts."""

from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from translation.history import selectors as history_selectors
from translation.history import transcripts
from translation.jobs import selectors as job_selectors

SESSIONS_PER_PAGE = 20


@staff_member_required
def history_page(request: HttpRequest) -> HttpResponse:
    """Live sessions, newest first, with their utterances, players and transcript links."""
    page_obj = Paginator(history_selectors.list_sessions(), SESSIONS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    grouped = history_selectors.utterances_by_session([s["session_id"] for s in page_obj])
    sessions = [{**s, "rows": grouped[s["session_id"]]} for s in page_obj]
    return render(
        request,
        "translation/history.html",
        {"page_obj": page_obj, "sessions": sessions, "formats": list(transcripts.FORMATS)},
    )


@staff_member_required
def history_audio(request: HttpRequest, translation_id: str, kind: str) -> FileResponse:
    """A history row's input or output WAV, for staff only (the admin's players)."""
    row = job_selectors.get_translation(translation_id)
    field = None if row is None else (row.input_audio if kind == "input" else row.output_audio)
    if not field:
        raise Http404("no such audio")
    return FileResponse(field.open("rb"), content_type="audio/wav")
