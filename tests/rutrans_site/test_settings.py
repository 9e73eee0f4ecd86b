"""Settings are read from the environment at start-up: check them in fresh processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({'debug': settings.DEBUG, 'embedded': settings.EMBEDDED, "
    "'db': settings.DATABASES['default']['ENGINE'], "
    "'layer': settings.CHANNEL_LAYERS['default']['BACKEND'], "
    "'hosts': settings.ALLOWED_HOSTS, 'silence': settings.UTTERANCE_SILENCE_MS}))"
)


def settings_in(env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}
    }
    base.update(DJANGO_SETTINGS_MODULE="rutrans_site.settings", RUTRANS_DATA_DIR=str(tmp_path))
    base.update(env)
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=base, capture_output=True, text=True
    )


def test_embedded_default(tmp_path):
    proc = settings_in({}, tmp_path)
    assert proc.returncode == 0, proc.stderr
    values = json.loads(proc.stdout)
    assert values == {
        "debug": False,
        "embedded": True,
        "db": "django.db.backends.sqlite3",
        "layer": "channels.layers.InMemoryChannelLayer",
        "hosts": ["127.0.0.1", "localhost"],
        "silence": 900,
    }
    # A private secret is generated once and kept.
    key = (tmp_path / "secret_key").read_text()
    assert len(key) > 40 and oct((tmp_path / "secret_key").stat().st_mode)[-3:] == "600"


def test_real_stack_from_environment(tmp_path):
    proc = settings_in(
        {
            "DATABASE_URL": "postgresql://127.0.0.1:5432/test",
            "REDIS_URL": "redis://127.0.0.1:6379/3",
            "SECRET_KEY": "x" * 50,
            "ALLOWED_HOSTS": "translator.example, 127.0.0.1",
            "UTTERANCE_SILENCE_MS": "700",
        },
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    values = json.loads(proc.stdout)
    assert values["db"] == "django.db.backends.postgresql" and values["embedded"] is False
    assert values["layer"] == "translation.messaging.redis_layer.RedisChannelLayer"
    assert values["hosts"] == ["translator.example", "127.0.0.1"] and values["silence"] == 700


def test_real_stack_refuses_to_start_without_secret_key(tmp_path):
    proc = settings_in({"DATABASE_URL": "postgresql://127.0.0.1:5432/test"}, tmp_path)
    assert proc.returncode != 0 and "SECRET_KEY is not set" in proc.stderr


def test_bad_values_are_named(tmp_path):
    proc = settings_in({"DEBUG": "maybe"}, tmp_path)
    assert proc.returncode != 0 and "DEBUG='maybe' is not a boolean" in proc.stderr
    proc = settings_in({"UTTERANCE_SILENCE_MS": "soon"}, tmp_path)
    assert "UTTERANCE_SILENCE_MS='soon' is not an integer" in proc.stderr


LIMITS_PROBE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({'cache': settings.CACHES['default']['BACKEND'], "
    "'audio_days': settings.HISTORY_RETENTION_DAYS, "
    "'text_days': settings.HISTORY_TEXT_RETENTION_DAYS, "
    "'drf_proxies': settings.REST_FRAMEWORK['NUM_PROXIES'], "
    "'beat': [e['task'] for e in settings.CELERY_BEAT_SCHEDULE.values()]}))"
)


def probe_limits(env: dict[str, str], tmp_path) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    base.update(DJANGO_SETTINGS_MODULE="rutrans_site.settings", RUTRANS_DATA_DIR=str(tmp_path))
    base.update(env)
    proc = subprocess.run(
        [sys.executable, "-c", LIMITS_PROBE], cwd=ROOT, env=base, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_limits_and_retention_settings(tmp_path):
    embedded = probe_limits({}, tmp_path)
    assert embedded == {
        "cache": "django.core.cache.backends.locmem.LocMemCache",
        "audio_days": 30.0,
        "text_days": 365.0,
        "drf_proxies": 0,  # X-Forwarded-For ignored by DRF too unless proxies are trusted
        "beat": ["translation.purge_history"],
    }
    real = probe_limits(
        {
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "SECRET_KEY": "x" * 50,
            "TRUSTED_PROXY_COUNT": "2",
            "HISTORY_RETENTION_DAYS": "90",
            "HISTORY_TEXT_RETENTION_DAYS": "30",
        },
        tmp_path,
    )
    assert real["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert real["drf_proxies"] == 2
    assert (real["audio_days"], real["text_days"]) == (30.0, 30.0)  # audio never outlives text


STORAGE_PROBE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "db = settings.DATABASES['default']; "
    "print(json.dumps({'storages': settings.STORAGES, 'age': db['CONN_MAX_AGE'], "
    "'pool': db.get('OPTIONS', {}).get('pool')}))"
)


def probe_storage(env: dict[str, str], tmp_path) -> dict:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "DB_POOL_"))}
    base = {k: v for k, v in base.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    base.update(DJANGO_SETTINGS_MODULE="rutrans_site.settings", RUTRANS_DATA_DIR=str(tmp_path))
    base.update(env)
    proc = subprocess.run(
        [sys.executable, "-c", STORAGE_PROBE], cwd=ROOT, env=base, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_recordings_on_disk_unless_a_bucket_is_named(tmp_path):
    static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    local = probe_storage({}, tmp_path)["storages"]
    assert local == {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": static,
    }
    s3 = probe_storage(
        {
            "S3_BUCKET": "recordings",
            "S3_ENDPOINT_URL": "http://minio:9000",
            "S3_ACCESS_KEY_ID": "key",
            "S3_SECRET_ACCESS_KEY": "secret",
        },
        tmp_path,
    )["storages"]
    assert s3["staticfiles"] == static
    assert s3["default"]["BACKEND"] == "storages.backends.s3.S3Storage"
    options = s3["default"]["OPTIONS"]
    assert options["bucket_name"] == "recordings"
    assert options["endpoint_url"] == "http://minio:9000" and options["region_name"] == "us-east-1"
    assert (options["access_key"], options["secret_key"]) == ("key", "secret")
    assert options["addressing_style"] == "path"  # MinIO's
    assert options["default_acl"] is None and options["querystring_auth"] is False
    aws = probe_storage({"S3_BUCKET": "b", "S3_ADDRESSING_STYLE": "virtual"}, tmp_path)
    aws_options = aws["storages"]["default"]["OPTIONS"]
    assert aws_options["endpoint_url"] is None and aws_options["access_key"] is None
    assert aws_options["addressing_style"] == "virtual"


def test_postgres_connections_come_from_a_pool(tmp_path):
    real = {"DATABASE_URL": "postgresql://127.0.0.1:5432/test", "SECRET_KEY": "x" * 50}
    pooled = probe_storage(real, tmp_path)
    assert pooled["age"] == 0  # the pool wants it: a closed connection goes back to the pool
    assert pooled["pool"] == {"min_size": 1, "max_size": 8, "timeout": 3.0}
    sized = probe_storage(
        {**real, "DB_POOL_MAX_SIZE": "3", "DB_POOL_MIN_SIZE": "5", "DB_POOL_TIMEOUT_S": "2.5"},
        tmp_path,
    )
    assert sized["pool"] == {"min_size": 3, "max_size": 3, "timeout": 2.5}
    unpooled = probe_storage({**real, "DB_POOL_MAX_SIZE": "0"}, tmp_path)
    assert (unpooled["pool"], unpooled["age"]) == (None, 60)
    assert probe_storage({}, tmp_path)["pool"] is None  # SQLite: no pool
