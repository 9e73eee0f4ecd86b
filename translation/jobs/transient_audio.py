"""Audio of rows that keep no recording (`Translation.store_audio` false): it waits in the
Django cache (Redis on the real stack, shared by web and workers; memory embedded) for as
long as it is needed, never in a file.

- the models' input (a 16 kHz WAV): put by the web tier when the row is queued, read by the
  worker, deleted when the row is finished; it expires after STALE_TRANSLATION_S, by when the
  row has been failed as stale anyway;
- an upload's translated WAV: put when the row is done, handed out by the REST download once
  (`take_output`), else gone after TRANSIENT_AUDIO_S. A live utterance's translation went to
  the session over its socket and is not kept at all.

And the row itself of a live utterance cut while PostgreSQL is away (`put_deferred_row`): the
worker translates it from here and writes it when the database is back (its input audio waits
here too, whatever the row keeps).
"""

from __future__ import annotations

from django.conf import settings
from django.core import serializers
from django.core.cache import cache

from translation.models import Translation


class AudioUnavailable(LookupError):
    """The row's audio is not (or no longer) in the cache."""


def _input_key(row_id: object) -> str:
    return f"audio:input:{row_id}"


def _output_key(row_id: object) -> str:
    return f"audio:output:{row_id}"


def _deferred_key(row_id: object) -> str:
    return f"row:deferred:{row_id}"


def put_input(row_id: object, wav: bytes) -> None:
    """Keep a row's model input until its worker has read it (raises if the cache fails: the
    utterance cannot be queued without it)."""
    cache.set(_input_key(row_id), wav, timeout=settings.STALE_TRANSLATION_S)


def get_input(row_id: object) -> bytes:
    wav = cache.get(_input_key(row_id))
    if wav is None:
        raise AudioUnavailable(
            "the input audio of this translation is gone (it is not stored, STORE_AUDIO=0 or "
            "the session's choice, and it expired before a worker took it): send it again"
        )
    return wav


def forget_input(row_id: object) -> None:
    cache.delete(_input_key(row_id))


def put_output(row_id: object, wav: bytes) -> None:
    """Keep an upload's translated WAV for its download, TRANSIENT_AUDIO_S at most."""
    cache.set(_output_key(row_id), wav, timeout=settings.TRANSIENT_AUDIO_S)


def has_output(row_id: object) -> bool:
    return cache.has_key(_output_key(row_id))


def take_output(row_id: object) -> bytes:
    """The translated WAV, removed as it is handed out (the client has it now)."""
    key = _output_key(row_id)
    wav = cache.get(key)
    if wav is None:
        raise AudioUnavailable(
            "the translated audio was not stored (STORE_AUDIO=0) and has already been "
            "downloaded or has expired; its text is in the job"
        )
    cache.delete(key)
    return wav


DEFERRED = "history_deferred"
"""`meta` flag of a row cut while PostgreSQL was away and written by its worker afterwards."""


def is_deferred(row: Translation) -> bool:
    """Was this row cut while the database was away (its worker writes it later)?"""
    return bool(row.meta.get(DEFERRED))


def put_deferred_row(row: Translation) -> None:
    """Keep an unsaved row (Django's JSON serialization, `created_at` included) until a worker
    has written it, STALE_TRANSLATION_S at most; it is flagged `is_deferred`."""
    row.meta[DEFERRED] = True
    data = serializers.serialize("json", [row])
    cache.set(_deferred_key(row.pk), data, timeout=settings.STALE_TRANSLATION_S)


def deferred_row(row_id: object) -> Translation | None:
    """The unsaved row kept by `put_deferred_row`, or None (there is none: the database has it,
    or never had it)."""
    data = cache.get(_deferred_key(row_id))
    if data is None:
        return None
    row = next(iter(serializers.deserialize("json", data))).object
    assert isinstance(row, Translation)
    return row


def forget_deferred_row(row_id: object) -> None:
    cache.delete(_deferred_key(row_id))
