"""Where the data lives once web and workers run on several hosts: recordings in an S3 bucket
(no disk is shared between them) and PostgreSQL connections drawn from a bounded pool per
process. Star-imported by rutrans_site/settings.py; every variable is in docker/.env.example."""

from __future__ import annotations

from typing import Any

import dj_database_url

from rutrans_site.env import env_float, env_int, env_str

# --- Recordings: the media folder, or an S3 bucket (MinIO, AWS, ...) ---------------------------

# Set S3_BUCKET and every web and worker process stores recordings there, through Django's
# storage API; MEDIA_ROOT is then unused. Blank S3_ACCESS_KEY_ID/S3_SECRET_ACCESS_KEY: boto3's
# own chain (AWS_* variables, an instance role). Blank S3_ENDPOINT_URL: AWS itself.
S3_BUCKET = env_str("S3_BUCKET")
S3_ENDPOINT_URL = env_str("S3_ENDPOINT_URL")
S3_REGION = env_str("S3_REGION", "us-east-1")
S3_ACCESS_KEY_ID = env_str("S3_ACCESS_KEY_ID")
S3_SECRET_ACCESS_KEY = env_str("S3_SECRET_ACCESS_KEY")
# "path" (bucket in the URL's path) is what MinIO and moto answer; "virtual" for AWS's own.
S3_ADDRESSING_STYLE = env_str("S3_ADDRESSING_STYLE", "path")


def storages_setting(
    bucket: str,
    *,
    endpoint_url: str = S3_ENDPOINT_URL,
    region: str = S3_REGION,
    access_key: str = S3_ACCESS_KEY_ID,
    secret_key: str = S3_SECRET_ACCESS_KEY,
    addressing_style: str = S3_ADDRESSING_STYLE,
) -> dict[str, dict[str, Any]]:
    """STORAGES: the bucket when one is named, else the file system under MEDIA_ROOT. Objects
    stay private (no ACL is sent: the bucket's own, private by default) and no signed URLs are
    made: every download is streamed by a Django view that checks who asks. (The tests pass
    their own endpoint.)"""
    static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    if not bucket:
        return {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": static,
        }
    return {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": endpoint_url or None,
                "region_name": region or None,
                "access_key": access_key or None,
                "secret_key": secret_key or None,
                "addressing_style": addressing_style or None,
                "signature_version": "s3v4",
                "default_acl": None,
                "querystring_auth": False,
                # Names are row ids: never taken, so no existence check before each write.
                "file_overwrite": True,
            },
        },
        "staticfiles": static,
    }


STORAGES = storages_setting(S3_BUCKET)

# --- PostgreSQL: a bounded pool of connections per process -------------------------------------

# Each process (a Daphne, a worker with WORKER_CONCURRENCY task threads) opens at most
# DB_POOL_MAX_SIZE server connections; a thread waits up to DB_POOL_TIMEOUT_S for a free one
# (writes take milliseconds: a long wait means the server is away, and a live utterance then
# is deferred, not held: translation/jobs/lifecycle.py DatabaseWatch).
# 0: no pool (a connection per thread, kept 60 s).
DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 8)
DB_POOL_MIN_SIZE = env_int("DB_POOL_MIN_SIZE", 1)
DB_POOL_TIMEOUT_S = env_float("DB_POOL_TIMEOUT_S", 3.0)


def database_settings(url: str) -> dict[str, Any]:
    """DATABASES["default"] from DATABASE_URL: PostgreSQL through Django's psycopg pool when
    DB_POOL_MAX_SIZE > 0 (the pool wants CONN_MAX_AGE 0: a closed connection goes back to it,
    as Celery's Django fixup does after each task and Django after each request)."""
    database: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
    if "postgresql" in str(database.get("ENGINE", "")) and DB_POOL_MAX_SIZE > 0:
        database["CONN_MAX_AGE"] = 0
        database.setdefault("OPTIONS", {})["pool"] = {
            "min_size": max(0, min(DB_POOL_MIN_SIZE, DB_POOL_MAX_SIZE)),
            "max_size": DB_POOL_MAX_SIZE,
            "timeout": DB_POOL_TIMEOUT_S,
        }
    return database
