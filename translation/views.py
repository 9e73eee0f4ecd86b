from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from translation import selectors, transcripts
from translation.constants import LANG_NAMES, VOICES

SESSIONS_PER_PAGE = 20
CALLS_PER_PAGE = 10


def voice_catalogue() -> dict[str, object]:
    """What the pages' voice pickers offer (static/js/voices.js reads it from `json_script`):
    the shared voice list, the server's default voices, the languages' names."""
    return {
        "voices": VOICES,
        "defaults": {"ru": settings.TTS_VOICE_RU, "en": settings.TTS_VOICE_EN},
        "names": LANG_NAMES,
    }


def live_page(request: HttpRequest) -> HttpResponse:
    return render(request, "translation/live.html", {"voice_catalogue": voice_catalogue()})


CALL_LANES = (
    {
        "speaker": "me",
        "name": "Me",
        "title": "→ them",
        "lede": "My microphone, my language into theirs, played into the call.",
        "input_label": "My microphone",
        "output_label": "Play into the call on",
    },
    {
        "speaker": "them",
        "name": "Them",
        "title": "→ me",
        "lede": "The call's sound, their language into mine, played on my headphones.",
        "input_label": "The call's sound",
        "output_label": "Play to me on",
    },
)


def call_page(request: HttpRequest) -> HttpResponse:
    """Both directions of a call: two lanes (me → them, them → me), one conversation."""
    return render(
        request,
        "translation/call.html",
        {"voice_catalogue": voice_catalogue(), "lanes": CALL_LANES},
    )


@ensure_csrf_cookie
def upload_page(request: HttpRequest) -> HttpResponse:
    """Upload a recording; the page talks to /api/translations and /ws/jobs/<id>."""
    return render(request, "translation/upload.html", {"voice_catalogue": voice_catalogue()})


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@staff_member_required
def history_page(request: HttpRequest) -> HttpResponse:
    """Calls (both lanes interleaved) and live sessions, newest first, with their
    utterances, players and transcript links."""
    calls_page = Paginator(selectors.list_calls(), CALLS_PER_PAGE).get_page(
        request.GET.get("calls")
    )
    page_obj = Paginator(selectors.list_sessions(without_calls=True), SESSIONS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    grouped = selectors.utterances_by_session([s["session_id"] for s in page_obj])
    sessions = [{**s, "rows": grouped[s["session_id"]]} for s in page_obj]
    return render(
        request,
        "translation/history.html",
        {
            "calls_page": calls_page,
            "calls": selectors.calls_with_lanes(list(calls_page)),
            "page_obj": page_obj,
            "sessions": sessions,
            "formats": list(transcripts.FORMATS),
        },
    )


@staff_member_required
def history_audio(request: HttpRequest, translation_id: str, kind: str) -> FileResponse:
    """A history row's input or output WAV, for staff only (the admin's players)."""
    row = selectors.get_translation(translation_id)
    field = None if row is None else (row.input_audio if kind == "input" else row.output_audio)
    if not field:
        raise Http404("no such audio")
    return FileResponse(field.open("rb"), content_type="audio/wav")
