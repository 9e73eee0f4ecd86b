"""Recordings in an S3 bucket (moto's server) for a test, instead of the media folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services import LocalS3


@dataclass
class Bucket:
    """The test's bucket, and the media folder that must stay empty meanwhile."""

    s3: LocalS3
    name: str
    media_root: Path

    def keys(self) -> list[str]:
        return self.s3.keys(self.name)

    def read(self, key: str) -> bytes:
        return self.s3.read(self.name, key)


@pytest.fixture
def s3_storage(settings, tmp_path, local_s3) -> Bucket:
    """STORAGES["default"] = S3Storage on a fresh bucket. Django's setting_changed handler
    drops the cached default_storage when STORAGES changes (and again when it is restored)."""
    bucket = local_s3.new_bucket()
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = local_s3.storages(bucket)
    return Bucket(local_s3, bucket, settings.MEDIA_ROOT)
