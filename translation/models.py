"""History: one row per utterance (live) or upload, from queued to done/failed; a call ties the
utterances of its two lanes ("me" and "them") together on one clock."""

from __future__ import annotations

import uuid

from django.db import models


class Call(models.Model):
    """A call: each lane ("me", "them") is a /ws/translate connection (or several, when it
    reconnects) naming this call's id. The call page has two lanes; the live page is a call of
    one lane, so its reconnects continue too. The call's clock starts when its first lane
    joins; its utterances' stream times are on that clock."""

    id = models.CharField(primary_key=True, max_length=32, editable=False)  # the client's id
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"call {self.id}"


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
    STATUS_ORDER: dict[str, int] = {
        Status.QUEUED: 0,
        Status.RUNNING: 1,
        Status.DONE: 2,
        Status.FAILED: 2,
    }
    """How far along a status is: a watcher never reports one going back (a redelivered task
    reports `running` again); `done` and `failed` are both the end. Transitions:
    `translation.jobs.states`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.LIVE)
    session_id = models.CharField(max_length=64, blank=True, db_index=True)
    seq = models.PositiveIntegerField(null=True, blank=True)
    # A lane of a call: the call and which side spoke ("me" or "them"); null/"" otherwise.
    call = models.ForeignKey(
        Call, null=True, blank=True, on_delete=models.SET_NULL, related_name="utterances"
    )
    speaker = models.CharField(max_length=8, blank=True, choices=[("me", "Me"), ("them", "Them")])
    # Where the worker pushes the result (a channel name); empty for uploads.
    reply_channel = models.CharField(max_length=200, blank=True)
    # Who sent it (translation/limits: `user:<pk>` or `ip:<address>`); limits count by it.
    client = models.CharField(max_length=100, blank=True, db_index=True)
    # False: no recording of it is written to disk (STORE_AUDIO=0 or the session's choice);
    # the audio passes through the cache (translation/jobs/transient_audio.py) instead.
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
    # When the row's task was last handed to the queue (created, re-queued or re-sent):
    # recovery finds lost queued work from this, not from the broker's internals.
    enqueued_at = models.DateTimeField(null=True, blank=True, db_index=True)
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

    @classmethod
    def status_rank(cls, status: str) -> int:
        """The place of `status` in STATUS_ORDER (an unknown one counts as the start)."""
        return cls.STATUS_ORDER.get(status, 0)
