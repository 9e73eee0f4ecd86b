"""The pages: live translation, upload, the health and readiness checks."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from translation.constants import LANG_NAMES, VOICE_CATALOGUE, VOICES
from translation.jobs.selectors import not_ready_reason
from translation.messaging import drain


def voice_catalogue() -> dict[str, object]:
    """What the pages' voice pickers offer (static/js/voices.js reads it from `json_script`):
    the shared voice list, each voice's engine, readable name and licence, the server's default
    voices, the languages' names."""
    return {
        "voices": VOICES,
        "details": {
            voice.id: {"name": voice.name, "engine": voice.engine, "licence": voice.licence}
            for voice in VOICE_CATALOGUE.values()
        },
        "defaults": {"ru": settings.TTS_VOICE_RU, "en": settings.TTS_VOICE_EN},
        "names": LANG_NAMES,
    }


def live_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "translation/live.html",
        {"voice_catalogue": voice_catalogue(), "store_audio": settings.STORE_AUDIO},
    )


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
    """200 while this process takes new work; 503 "draining" once it is going down (SIGTERM),
    so the proxy's health check sends new connections to the other processes."""
    if drain.is_draining():
        return JsonResponse({"status": "draining"}, status=503)
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """200 while work sent now would be translated: a worker consumes the `gpu` queue (always,
    embedded); 503 with the reason otherwise ("no worker is consuming the gpu queue")."""
    reason = not_ready_reason()
    if reason is not None:
        return JsonResponse({"status": "not ready", "reason": reason}, status=503)
    return JsonResponse({"status": "ready"})
