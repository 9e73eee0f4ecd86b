"""Request and response shapes of the API (they also generate the OpenAPI schema)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers
from rest_framework.fields import empty

from translation.constants import VOICES
from translation.jobs import selectors
from translation.models import Translation
from translation.protocol.control import MODES, ProtocolError, parse_control

ALL_VOICES = tuple(voice for names in VOICES.values() for voice in names)


class OptionalBooleanField(serializers.BooleanField):
    """A boolean form field that is absent when not sent (DRF's reads a missing checkbox of an
    HTML form as false)."""

    default_empty_html = empty


class UploadSerializer(serializers.Serializer):
    """The multipart form of `POST /api/translations`."""

    audio = serializers.FileField(
        allow_empty_file=True,  # an empty file gets the audio decoder's clearer message
        help_text="The recording: any format libsndfile reads (WAV, FLAC, Ogg Vorbis/Opus, "
        "MP3 where supported), any sample rate, mono or multi-channel.",
    )
    mode = serializers.ChoiceField(
        choices=list(MODES),
        required=False,
        help_text="Direction; overrides src/tgt. `auto` detects the spoken language.",
        error_messages={"invalid_choice": f"unknown mode {{input!r}} (use one of {list(MODES)})"},
    )
    src = serializers.ChoiceField(
        choices=["auto", "en", "ru"], required=False, help_text="Source language (default auto)."
    )
    tgt = serializers.ChoiceField(
        choices=["en", "ru"],
        required=False,
        help_text="Target language (default: the other one).",
    )
    voice = serializers.ChoiceField(
        choices=list(ALL_VOICES),
        required=False,
        help_text="A voice of the target language: Silero (ru: aidar, baya, kseniya, xenia, "
        "eugene; en: en_0..en_117) or Piper (ru: piper:ru_RU-denis-medium, "
        "piper:ru_RU-dmitri-medium, piper:ru_RU-irina-medium, piper:ru_RU-ruslan-medium; en: "
        "piper:en_US-lessac-medium, piper:en_US-amy-medium, piper:en_US-ryan-medium, "
        "piper:en_GB-alan-medium).",
        error_messages={"invalid_choice": "unknown voice {input!r}"},
    )

    store_audio = OptionalBooleanField(
        required=False,
        allow_null=True,
        help_text="false: keep no recording of this job (the translated WAV can be downloaded "
        "once, within TRANSIENT_AUDIO_S). Default: the server's STORE_AUDIO.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        control: dict[str, Any] = {
            key: attrs[key]
            for key in ("mode", "src", "tgt", "voice", "store_audio")
            if key in attrs
        }
        try:
            attrs["config"] = parse_control(control)
        except ProtocolError as exc:
            raise serializers.ValidationError(str(exc), code="invalid_direction") from exc
        return attrs


class AcceptedSerializer(serializers.Serializer):
    """`202` of an upload: where to follow the job."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Translation.Status.choices)
    queue_lag_s = serializers.FloatField(
        help_text="How far behind the translators were when it was queued (seconds): "
        "roughly how long it waits before a worker starts it."
    )
    status_url = serializers.URLField(help_text="GET: the job's state.")
    audio_url = serializers.URLField(help_text="GET: the translated WAV once the job is done.")
    ws_url = serializers.CharField(help_text="WebSocket: the job's state, pushed on each change.")


class JobSerializer(serializers.Serializer):
    """A job's state; the same fields are pushed on `/ws/jobs/{id}` (type `job`)."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Translation.Status.choices)
    # A field named like DRF's `Field.source` attribute: fine at run time, a clash for mypy.
    source = serializers.ChoiceField(choices=Translation.Source.choices)  # type: ignore[assignment]
    src = serializers.CharField(help_text="The detected language once known, else as requested.")
    tgt = serializers.CharField(allow_null=True)
    voice = serializers.CharField(allow_null=True)
    source_text = serializers.CharField(allow_blank=True, help_text="What was said.")
    text = serializers.CharField(allow_blank=True, help_text="The translation.")
    tts_failed = serializers.BooleanField(help_text="Text only: speech synthesis failed.")
    error = serializers.CharField(allow_blank=True)
    timings = serializers.DictField(child=serializers.FloatField(), help_text="Milliseconds.")
    duration_s = serializers.FloatField(allow_null=True, help_text="Input length (seconds).")
    has_audio = serializers.BooleanField(help_text="The translated WAV can be downloaded.")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance: Translation) -> dict[str, Any]:
        return selectors.job_state(instance).state()


class SessionSerializer(serializers.Serializer):
    """A live session in the history (staff only)."""

    id = serializers.CharField(source="session_id", help_text="The session's id (uuid4 hex).")
    started_at = serializers.DateTimeField(help_text="When its first utterance was stored.")
    last_at = serializers.DateTimeField(help_text="When its last utterance was stored.")
    utterances = serializers.IntegerField(help_text="How many utterances it has.")
    transcript_url = serializers.SerializerMethodField(
        help_text="GET: its transcript; add `?format=srt|vtt|txt|json`."
    )

    def get_transcript_url(self, session: dict[str, Any]) -> str:
        path = reverse("api:session-transcript", args=[session["session_id"]])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


class ErrorSerializer(serializers.Serializer):
    """Every error of the API."""

    error = ErrorDetailSerializer()
