"""History: one row per utterance (live) or upload, from queued to done/failed."""

from __future__ import annotations

import uuid

from django.db import models


class Translation(models.Model):
    class Source(models.TextChoices):
        LIVE = "live", "Live"
        UPLOAD = "upload", "Upload"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    TERMINAL = (Status.DONE, Status.FAILED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.LIVE)
    session_id = models.CharField(max_length=64, blank=True, db_index=True)
    seq = models.PositiveIntegerField(null=True, blank=True)
    # Where the worker pushes the result (a channel name); empty for uploads.
    reply_channel = models.CharField(max_length=200, blank=True)
    # Who sent it (translation/limits: `user:<pk>` or `ip:<address>`); limits count by it.
    client = models.CharField(max_length=100, blank=True, db_index=True)
    # False: no recording of it is written to disk (STORE_AUDIO=0 or the session's choice);
    # the audio passes through the cache (translation/transient_audio.py) instead.
    store_audio = models.BooleanField(default=True)

    requested_src = models.CharField(max_length=4, default="auto")  # auto | en | ru
    requested_tgt = models.CharField(max_length=4, blank=True)  # "" = the other language
    src_lang = models.CharField("source language", max_length=4, blank=True)
    tgt_lang = models.CharField("target language", max_length=4, blank=True)
    voice = models.CharField(max_length=32, blank=True)

    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    input_audio = models.FileField(upload_to="inputs/", blank=True)
    output_audio = models.FileField(upload_to="outputs/", blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    # Live utterances: where the utterance lies in its session's audio stream (seconds from the
    # session's first frame), for transcripts and per-sentence latency; stream time, not wall time.
    stream_start_s = models.FloatField(null=True, blank=True)
    stream_end_s = models.FloatField(null=True, blank=True)
    source_text = models.TextField(blank=True)
    text = models.TextField("translated text", blank=True)
    tts_failed = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    timings = models.JSONField(default=dict, blank=True)
    meta = models.JSONField(default=dict, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["session_id", "seq"])]

    def __str__(self) -> str:
        return f"{self.direction} {self.status} {self.id}"

    @property
    def direction(self) -> str:
        src = self.src_lang or self.requested_src
        tgt = self.tgt_lang or self.requested_tgt or "?"
        return f"{src}->{tgt}"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL
