"""The history in the Django admin: filter, search both texts, listen to input and output."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html

from translation.history import retention
from translation.jobs import capacity
from translation.models import Call, Translation


class DirectionFilter(admin.SimpleListFilter):
    title = "direction"
    parameter_name = "direction"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("en->ru", "English → Russian"), ("ru->en", "Russian → English")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value in ("en->ru", "ru->en"):
            src, tgt = value.split("->")
            return queryset.filter(src_lang=src, tgt_lang=tgt)
        return queryset


def _player(obj: Translation, kind: str) -> str:
    field = obj.input_audio if kind == "input" else obj.output_audio
    if not field:
        return "—"
    url = reverse("history-audio", kwargs={"translation_id": obj.id, "kind": kind})
    return format_html('<audio controls preload="none" src="{}"></audio>', url)


@admin.register(Translation)
class TranslationAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "status",
        "direction",
        "source",
        "short_source_text",
        "short_text",
        "latency_ms",
        "tts_failed",
        "kept_until",
    )
    list_filter = ("status", DirectionFilter, "source", "speaker", "tts_failed", "created_at")
    search_fields = ("source_text", "text", "session_id", "=id", "=call__id")
    date_hierarchy = "created_at"
    list_per_page = 50
    ordering = ("-created_at",)
    readonly_fields = (
        "id",
        "source",
        "session_id",
        "seq",
        "call",
        "speaker",
        "status",
        "requested_src",
        "requested_tgt",
        "src_lang",
        "tgt_lang",
        "voice",
        "duration_s",
        "client",
        "store_audio",
        "kept_until",
        "input_player",
        "source_text",
        "text",
        "output_player",
        "tts_failed",
        "error",
        "timings",
        "meta",
        "worker",
        "attempts",
        "created_at",
        "started_at",
        "finished_at",
    )
    fieldsets = (
        (
            None,
            {"fields": ("id", "status", "source", "session_id", "seq", "call", "speaker", "error")},
        ),
        (
            "Languages",
            {"fields": ("requested_src", "requested_tgt", "src_lang", "tgt_lang", "voice")},
        ),
        ("Input", {"fields": ("duration_s", "client", "input_player", "source_text")}),
        ("Retention", {"fields": ("store_audio", "kept_until")}),
        ("Translation", {"fields": ("text", "output_player", "tts_failed")}),
        (
            "Processing",
            {
                "fields": (
                    "timings",
                    "meta",
                    "worker",
                    "attempts",
                    "created_at",
                    "started_at",
                    "finished_at",
                )
            },
        ),
    )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        """The list, headed by the workers' backlog (translation/jobs/capacity.py)."""
        backlog = capacity.monitor.fresh_sync()
        context = {**(extra_context or {}), "backlog": backlog}
        return super().changelist_view(request, extra_context=context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Translation | None = None) -> bool:
        return False

    # Deleting a row deletes its recordings too (Django leaves a FileField's file behind).
    def delete_model(self, request: HttpRequest, obj: Translation) -> None:
        retention.delete_rows_with_audio(Translation.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        retention.delete_rows_with_audio(queryset)

    @admin.display(description="kept until")
    def kept_until(self, obj: Translation) -> str:
        return retention.kept_until_text(obj)

    @admin.display(description="input audio")
    def input_player(self, obj: Translation) -> str:
        return _player(obj, "input")

    @admin.display(description="translated audio")
    def output_player(self, obj: Translation) -> str:
        return _player(obj, "output")

    @admin.display(description="source text")
    def short_source_text(self, obj: Translation) -> str:
        return (obj.source_text[:80] + "…") if len(obj.source_text) > 80 else obj.source_text

    @admin.display(description="translation")
    def short_text(self, obj: Translation) -> str:
        return (obj.text[:80] + "…") if len(obj.text) > 80 else obj.text

    @admin.display(description="latency (ms)")
    def latency_ms(self, obj: Translation) -> float | None:
        return obj.timings.get("total_ms")


class CallUtteranceInline(admin.TabularInline):
    """A call's utterances, both lanes, in the order of the call's clock."""

    model = Translation
    fields = ("speaker", "stream_start_s", "direction", "source_text", "text", "status")
    readonly_fields = fields
    ordering = ("stream_start_s", "created_at")
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "lanes", "utterance_count")
    search_fields = ("=id",)
    date_hierarchy = "created_at"
    readonly_fields = ("id", "created_at", "lanes", "transcripts")
    inlines = (CallUtteranceInline,)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Call | None = None) -> bool:
        return False

    @admin.display(description="lanes")
    def lanes(self, obj: Call) -> str:
        speakers = sorted(set(obj.utterances.values_list("speaker", flat=True)))
        return ", ".join(s.capitalize() for s in speakers) or "—"

    @admin.display(description="utterances")
    def utterance_count(self, obj: Call) -> int:
        return obj.utterances.count()

    @admin.display(description="transcript")
    def transcripts(self, obj: Call) -> str:
        url = reverse("api:call-transcript", args=[obj.id])
        return format_html(
            '<a href="{0}?format=srt">SRT</a> · <a href="{0}?format=vtt">VTT</a> · '
            '<a href="{0}?format=txt">TXT</a> · <a href="{0}?format=json">JSON</a>',
            url,
        )
