"""Where the recordings are kept, as the rest of the code needs to know it: the media folder
(MEDIA_ROOT) on this host's disk, or an object store (S3_BUCKET) that web and workers share.

A local folder is a disk: how much is free, how much the recordings take, and the guard that
refuses new recordings when it is nearly full. An object store has no local floor to guard and
no size worth walking it for: there those answers are None and the guard lets everything in.
`storage_is_local` is the one home of which of the two it is."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages


class MediaFull(Exception):
    """Less than MEDIA_MIN_FREE_MB is free under MEDIA_ROOT: no new recording is written."""


def recordings_storage() -> Storage:
    """The storage the recordings go through (STORAGES["default"], default_storage)."""
    return storages["default"]


def storage_is_local() -> bool:
    """Are the recordings files under MEDIA_ROOT on this host (not an object store)?"""
    return isinstance(recordings_storage(), FileSystemStorage)


def media_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def free_bytes() -> int | None:
    """Free space on the file system of MEDIA_ROOT (its nearest existing parent); None for
    an object store."""
    if not storage_is_local():
        return None
    path = media_root()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def media_size() -> tuple[int, int] | None:
    """(bytes, files) under MEDIA_ROOT; None for an object store (not walked: it may hold
    millions of objects, and its size is the store's own report)."""
    if not storage_is_local():
        return None
    total = files = 0
    for folder, _dirs, names in os.walk(media_root()):
        for name in names:
            try:
                total += os.stat(os.path.join(folder, name)).st_size
            except OSError:  # removed meanwhile
                continue
            files += 1
    return total, files


def require_free_space() -> None:
    """Raise MediaFull when writing a recording could fill the local disk (an object store:
    never)."""
    minimum = settings.MEDIA_MIN_FREE_MB * 2**20
    if minimum <= 0:
        return
    free = free_bytes()
    if free is not None and free < minimum:
        raise MediaFull(
            f"the server's disk is nearly full ({free / 2**20:.0f} MiB free under the media "
            f"folder, MEDIA_MIN_FREE_MB={settings.MEDIA_MIN_FREE_MB}): no new recordings are "
            "accepted until an operator frees space (manage.py purge_history)"
        )


def stored_files(folder: str) -> Iterator[tuple[str, float | None]]:
    """(name, modified as a POSIX time) of every file under `folder` of the storage, names
    as the storage knows them (`inputs/x.wav`); the time is None when it could not be read
    (the file went meanwhile). An S3 bucket is listed a page of 1000 objects at a time, with
    their times, rather than asked about each."""
    store = recordings_storage()
    if storage_is_local():
        root = media_root()
        for path, _dirs, files in os.walk(root / folder):
            for file_name in files:
                full = Path(path, file_name)
                try:
                    mtime: float | None = full.stat().st_mtime
                except OSError:
                    mtime = None
                yield full.relative_to(root).as_posix(), mtime
        return
    bucket = getattr(store, "bucket", None)
    if bucket is not None:  # django-storages' S3Storage
        location = str(getattr(store, "location", "") or "").strip("/")
        prefix = f"{location}/" if location else ""
        for obj in bucket.objects.filter(Prefix=f"{prefix}{folder}/"):
            yield obj.key[len(prefix) :], obj.last_modified.timestamp()
        return
    yield from _listed(store, folder)


def _listed(store: Storage, folder: str) -> Iterator[tuple[str, float | None]]:
    """Any other storage: its listdir, recursively, and one modified-time query per file."""
    try:
        dirs, files = store.listdir(folder)
    except (OSError, NotImplementedError):
        return
    for file_name in files:
        name = f"{folder}/{file_name}"
        try:
            modified: datetime | None = store.get_modified_time(name)
        except (OSError, NotImplementedError):
            modified = None
        yield name, None if modified is None else modified.timestamp()
    for sub in dirs:
        yield from _listed(store, f"{folder}/{sub}")
