from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from translation import retention, selectors, transcripts
from translation.constants import LANG_NAMES, VOICES

SESSIONS_PER_PAGE = 20


def voice_catalogue() -> dict[str, object]:
    """What the pages' voice pickers offer (static/js/voices.js reads it from `json_script`):
    the shared voice list, the server's default voices, the languages' names."""
    return {
        "voices": VOICES,
        "defaults": {"ru": settings.TTS_VOICE_RU, "en": settings.TTS_VOICE_EN},
        "names": LANG_NAMES,
    }


def live_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "translation/live.html",
        {"voice_catalogue": voice_catalogue(), "store_audio": settings.STORE_AUDIO},
    )


@ensure_csrf_cookie
def upload_page(request: HttpRequest) -> HttpResponse:
    """Upload a recording; the page talks to /api/translations and /ws/jobs/<id>."""
    return render(request, "translation/upload.html", {"voice_catalogue": voice_catalogue()})


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@staff_member_required
def history_page(request: HttpRequest) -> HttpResponse:
    """Live sessions, newest first, with their utterances, players and transcript links."""
    page_obj = Paginator(selectors.list_sessions(), SESSIONS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    grouped = selectors.utterances_by_session([s["session_id"] for s in page_obj])
    policy = retention.RetentionPolicy.from_settings()
    sessions = [
        {
            **s,
            "rows": grouped[s["session_id"]],
            "audio_until": policy.audio_until(s["started_at"]),
            "text_until": policy.row_until(s["started_at"]),
        }
        for s in page_obj
    ]
    return render(
        request,
        "translation/history.html",
        {
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
def history_audio(request: HttpRequest, translation_id: str, kind: str) -> FileResponse:
    """A history row's input or output WAV, for staff only (the admin's players)."""
    row = selectors.get_translation(translation_id)
    field = None if row is None else (row.input_audio if kind == "input" else row.output_audio)
    if not field:
        raise Http404("no such audio")
    return FileResponse(field.open("rb"), content_type="audio/wav")
