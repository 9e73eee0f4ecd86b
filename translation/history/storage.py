"""The media folder (MEDIA_ROOT) as a disk: how much is free, how much the recordings take,
and the guard that refuses new recordings when the disk is nearly full."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from django.conf import settings


class MediaFull(Exception):
    """Less than MEDIA_MIN_FREE_MB is free under MEDIA_ROOT: no new recording is written."""


def media_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def free_bytes() -> int:
    """Free space on the file system of MEDIA_ROOT (its nearest existing parent)."""
    path = media_root()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def media_size() -> tuple[int, int]:
    """(bytes, files) under MEDIA_ROOT."""
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
    """Raise MediaFull when writing a recording could fill the disk."""
    minimum = settings.MEDIA_MIN_FREE_MB * 2**20
    if minimum <= 0:
        return
    free = free_bytes()
    if free < minimum:
        raise MediaFull(
            f"the server's disk is nearly full ({free / 2**20:.0f} MiB free under the media "
            f"folder, MEDIA_MIN_FREE_MB={settings.MEDIA_MIN_FREE_MB}): no new recordings are "
            "accepted until an operator frees space (manage.py purge_history)"
        )
