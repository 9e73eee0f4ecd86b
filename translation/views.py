"""The pages: live translation, upload, the health check."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from translation.constants import LANG_NAMES, VOICES


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


@ensure_csrf_cookie
def upload_page(request: HttpRequest) -> HttpResponse:
    """Upload a recording; the page talks to /api/translations and /ws/jobs/<id>."""
    return render(request, "translation/upload.html", {"voice_catalogue": voice_catalogue()})


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})
