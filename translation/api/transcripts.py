"""The transcript endpoints: a live session's, an upload job's and a call's, in SRT, WebVTT,
text or JSON (translation.history.transcripts formats them)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, permissions
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from translation.api.serializers import SessionSerializer
from translation.api.views import ID_PARAMETER, ApiView, _error, _job_or_404
from translation.history import selectors as history_selectors
from translation.history import transcripts

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


class CallTranscript(ApiView):
    @extend_schema(
        operation_id="calls_transcript",
        summary="A call's transcript (both lanes)",
        description="The finished utterances of both lanes of a call, in time order on the "
        "call's clock (seconds since its first lane joined), each labelled with its speaker: "
        "`Me:` / `Them:` in SRT and text, WebVTT voice tags `<v me>` / `<v them>`, `speaker` "
        "in JSON (with `src`, `tgt`, `source_text`, `text`, `start_s`, `end_s`). For whoever "
        "holds the call's id (made by the call page, sent in each lane's control message).",
        parameters=[
            OpenApiParameter(
                "call_id",
                str,
                OpenApiParameter.PATH,
                description="The call's id: 32 lower-case hex characters.",
                pattern="^[0-9a-f]{32}$",
            ),
            FORMAT_PARAMETER,
        ],
        responses={
            **TRANSCRIPT_RESPONSES,
            400: _error("An unknown format."),
            404: _error("No such call (or a malformed id)."),
            503: _error("The database is unavailable."),
        },
    )
    def get(self, request: Request, call_id: str) -> HttpResponse:
        call = history_selectors.get_call(call_id)
        if call is None:
            raise NotFound(f"no call with id {call_id[:40]!r}")
        return _transcript_response(
            request,
            transcripts.cues_from_rows(history_selectors.call_utterances(call), speakers=True),
            name=f"call-{call.id}",
            title=f"rutrans call {call.id}",
        )
