"""The upload and transcript API: thin views over the jobs' and the history's services and
selectors."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadhandler import FileUploadHandler
from django.http import FileResponse, HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from translation.api.errors import Conflict, PayloadTooLarge
from translation.api.serializers import (
    AcceptedSerializer,
    ErrorSerializer,
    JobSerializer,
    SessionSerializer,
    UploadSerializer,
)
from translation.history import selectors as history_selectors
from translation.history import transcripts
from translation.jobs import selectors, submit
from translation.models import Translation

# Room for the multipart boundaries and the small form fields around the file.
MULTIPART_OVERHEAD_BYTES = 64 * 1024

ID_PARAMETER = OpenApiParameter(
    "translation_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The job's id."
)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


WAV_RESPONSE = OpenApiResponse(
    {"type": "string", "format": "binary"}, description="A WAV file (PCM_16)."
)


def _too_large() -> PayloadTooLarge:
    limit = settings.UPLOAD_MAX_BYTES
    return PayloadTooLarge(
        f"the upload is larger than the limit of {limit} bytes ({limit / 2**20:.0f} MiB)"
    )


class UploadLimitHandler(FileUploadHandler):
    """Stops reading an uploaded file as soon as it passes UPLOAD_MAX_BYTES."""

    def __init__(self, request=None) -> None:
        super().__init__(request)
        self.limit = settings.UPLOAD_MAX_BYTES
        self.received = 0

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            raise _too_large()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


class IgnoreAcceptNegotiation(DefaultContentNegotiation):
    """Always the view's first renderer: a player asking for `audio/*` still gets its WAV,
    and its error as JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ApiView(APIView):
    content_negotiation_class = IgnoreAcceptNegotiation


def _job_or_404(translation_id: str) -> Translation:
    try:
        job_uuid = uuid.UUID(translation_id)
    except ValueError:
        raise NotFound(f"no translation with id {translation_id!r} (not a UUID)") from None
    row = selectors.get_translation(job_uuid)
    if row is None:
        raise NotFound(f"no translation with id {translation_id!r}")
    return row


def _job_urls(request: Request, row: Translation) -> dict[str, str]:
    detail = reverse("api:translation-detail", args=[row.id])
    ws_scheme = "wss" if request.is_secure() else "ws"
    return {
        "status_url": request.build_absolute_uri(detail),
        "audio_url": request.build_absolute_uri(reverse("api:translation-audio", args=[row.id])),
        "ws_url": f"{ws_scheme}://{request.get_host()}/ws/jobs/{row.id}",
    }


class TranslationCollection(ApiView, generics.GenericAPIView):
    """POST: upload a recording to translate (anyone). GET: the history (staff)."""

    serializer_class = JobSerializer

    def get_permissions(self):
        if self.request.method == "GET":
            return [permissions.IsAdminUser()]
        return [permissions.AllowAny()]

    def initialize_request(self, request, *args, **kwargs):
        # Before anything reads the body (the CSRF check of a logged-in user does).
        if request.method == "POST":
            request.upload_handlers.insert(0, UploadLimitHandler(request))
        return super().initialize_request(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        if request.method == "POST":
            length = request.META.get("CONTENT_LENGTH") or "0"
            if length.isdigit() and int(length) > (
                settings.UPLOAD_MAX_BYTES + MULTIPART_OVERHEAD_BYTES
            ):
                raise _too_large()
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id="translations_list",
        summary="History of translations (staff only)",
        description="Newest first, 50 per page; filter by `status` and `source`.",
        parameters=[
            OpenApiParameter("status", str, enum=list(Translation.Status.values)),
            OpenApiParameter("source", str, enum=list(Translation.Source.values)),
        ],
        responses={
            200: JobSerializer(many=True),
            400: _error("An unknown filter value."),
            403: _error("Not logged in as staff."),
            404: _error("No such page."),
            503: _error("The database is unavailable."),
        },
    )
    def get(self, request: Request) -> Response:
        filters = {}
        for name, allowed in (
            ("status", Translation.Status.values),
            ("source", Translation.Source.values),
        ):
            value = request.query_params.get(name)
            if value:
                if value not in allowed:
                    raise ValidationError({name: [f"must be one of {', '.join(allowed)}"]})
                filters[name] = value
        rows = selectors.list_translations(**filters)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        operation_id="translations_create",
        summary="Upload a recording to translate",
        description="Stores the recording and queues its translation: `202` with the job's "
        "id and where to follow it (`status_url`, `ws_url`) and fetch the result "
        "(`audio_url`). Anyone may upload; a logged-in user sends the CSRF token "
        "(`X-CSRFToken`). Limits: UPLOAD_MAX_BYTES (`413`), UPLOAD_MAX_DURATION_S (`400`); "
        "a recording with less speech than UTTERANCE_MIN_SPEECH_MS is refused (`422`, "
        "`no_speech`) and never reaches a model.",
        request={"multipart/form-data": UploadSerializer},
        responses={
            202: AcceptedSerializer,
            400: _error("No file, not audio, corrupt, too long, or an unknown mode/voice."),
            403: _error("A logged-in user's request without a valid CSRF token."),
            413: _error("The file is larger than UPLOAD_MAX_BYTES."),
            415: _error("Not a multipart/form-data request."),
            422: _error("No speech found: silence, noise or a clip too short to translate."),
            503: _error("The database is unavailable."),
        },
    )
    def post(self, request: Request) -> Response:
        form = UploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data["audio"]
        if upload.size > settings.UPLOAD_MAX_BYTES:
            raise _too_large()
        row = submit.submit_upload(
            data=upload.read(),
            filename=upload.name or "",
            config=form.validated_data["config"],
            max_duration_s=settings.UPLOAD_MAX_DURATION_S,
        )
        body = {"id": str(row.id), "status": row.status, **_job_urls(request, row)}
        return Response(
            body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["status_url"]}
        )


class TranslationDetail(ApiView):
    @extend_schema(
        operation_id="translations_retrieve",
        summary="A job's state",
        description="Also pushed on the WebSocket `/ws/jobs/{translation_id}` on each change.",
        parameters=[ID_PARAMETER],
        responses={
            200: JobSerializer,
            404: _error("No such job."),
            503: _error("The database is unavailable."),
        },
    )
    def get(self, request: Request, translation_id: str) -> Response:
        return Response(JobSerializer(_job_or_404(translation_id)).data)


class TranslationAudio(ApiView):
    @extend_schema(
        operation_id="translations_audio",
        summary="The spoken translation (WAV)",
        description="`409` until the job is done; `404` when it has no speech (`tts_failed`).",
        parameters=[ID_PARAMETER],
        responses={
            (200, "audio/wav"): WAV_RESPONSE,
            404: _error("No such job, or it has no audio (speech synthesis failed)."),
            409: _error("The job is not done yet (or it failed)."),
            503: _error("The database is unavailable."),
        },
    )
    def get(self, request: Request, translation_id: str) -> FileResponse:
        row = _job_or_404(translation_id)
        if row.status == Translation.Status.FAILED:
            raise Conflict(f"the translation failed: {row.error}", code="failed")
        if row.status != Translation.Status.DONE:
            raise Conflict(
                f"the translation is still {row.status}; its audio is available once it is done"
            )
        if not row.output_audio:
            reason = row.error or "speech synthesis failed"
            raise NotFound(f"this translation has no audio ({reason}); its text is in the job")
        return FileResponse(
            row.output_audio.open("rb"),
            content_type="audio/wav",
            as_attachment=True,
            filename=f"translation-{row.id}.wav",
        )


class TranslationInput(ApiView):
    permission_classes = [permissions.IsAdminUser]

    @extend_schema(
        operation_id="translations_input",
        summary="The uploaded recording as it was received (staff only)",
        description="Live utterances: the 16 kHz WAV the models read.",
        parameters=[ID_PARAMETER],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                {"type": "string", "format": "binary"}, description="The original file."
            ),
            403: _error("Not logged in as staff."),
            404: _error("No such job."),
            503: _error("The database is unavailable."),
        },
    )
    def get(self, request: Request, translation_id: str) -> FileResponse:
        row = _job_or_404(translation_id)
        upload = row.meta.get("upload") or {}
        stored = upload.get("stored_as")
        if stored and default_storage.exists(stored):
            return FileResponse(
                default_storage.open(stored, "rb"),
                as_attachment=True,
                filename=upload.get("filename") or f"{row.id}",
                content_type="application/octet-stream",
            )
        if not row.input_audio:
            raise NotFound("this translation has no stored input")
        return FileResponse(
            row.input_audio.open("rb"),
            as_attachment=True,
            filename=f"input-{row.id}.wav",
            content_type="audio/wav",
        )


# --- transcripts -------------------------------------------------------------------------------

FORMAT_PARAMETER = OpenApiParameter(
    "format",
    str,
    enum=list(transcripts.FORMATS),
    description="srt (SubRip), vtt (WebVTT), txt (plain text) or json; default txt.",
)
TRANSCRIPT_RESPONSES = {
    (200, media): OpenApiResponse(
        {"type": "string"}, description="The transcript (a download, UTF-8)."
    )
    for media, _ in transcripts.FORMATS.values()
}


def _transcript_response(request: Request, cues: list[transcripts.Cue], *, name: str, title: str):
    fmt = request.query_params.get("format") or "txt"
    if fmt not in transcripts.FORMATS:
        raise ValidationError(
            {"format": [f"unknown format {fmt!r} (use one of {', '.join(transcripts.FORMATS)})"]},
            code="invalid_format",
        )
    media, extension = transcripts.FORMATS[fmt]
    response = HttpResponse(
        transcripts.render(cues, fmt, title=title), content_type=f"{media}; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}.{extension}"'
    return response


class SessionCollection(ApiView, generics.GenericAPIView):
    permission_classes = [permissions.IsAdminUser]
    serializer_class = SessionSerializer

    @extend_schema(
        operation_id="sessions_list",
        summary="Live sessions (staff only)",
        description="Newest first, 50 per page, each with its transcript's address.",
        responses={
            200: SessionSerializer(many=True),
            403: _error("Not logged in as staff."),
            404: _error("No such page."),
            503: _error("The database is unavailable."),
        },
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(history_selectors.list_sessions())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class SessionTranscript(ApiView):
    @extend_schema(
        operation_id="sessions_transcript",
        summary="A live session's transcript",
        description="Its finished utterances (what was said, the translation, the direction) "
        "with times in the session's audio stream. For whoever holds the session's id (sent "
        "to the page in the `ready` status of `/ws/translate`).",
        parameters=[
            OpenApiParameter(
                "session_id", str, OpenApiParameter.PATH, description="The session's id."
            ),
            FORMAT_PARAMETER,
        ],
        responses={
            **TRANSCRIPT_RESPONSES,
            400: _error("An unknown format."),
            404: _error("No such session, or it has no utterances yet."),
            503: _error("The database is unavailable."),
        },
    )
    def get(self, request: Request, session_id: str) -> HttpResponse:
        rows = history_selectors.live_session_utterances(session_id)
        if not rows:
            raise NotFound(f"no live session with id {session_id!r}")
        key = rows[0].session_id
        return _transcript_response(
            request,
            transcripts.cues_from_rows(rows),
            name=f"transcript-{key}",
            title=f"rutrans live session {key}",
        )


class TranslationTranscript(ApiView):
    @extend_schema(
        operation_id="translations_transcript",
        summary="A job's transcript",
        description="What was said and its translation, in the same formats as a live "
        "session's transcript; empty until the job is done.",
        parameters=[ID_PARAMETER, FORMAT_PARAMETER],
        responses={
            **TRANSCRIPT_RESPONSES,
            400: _error("An unknown format."),
            404: _error("No such job."),
            503: _error("The database is unavailable."),
        },
    )
    def get(self, request: Request, translation_id: str) -> HttpResponse:
        row = _job_or_404(translation_id)
        return _transcript_response(
            request,
            transcripts.cues_from_rows([row]),
            name=f"transcript-{row.id}",
            title=f"rutrans translation {row.id}",
        )
