"""Settings for the test run: the real PostgreSQL by default (override with DATABASE_URL)."""

import os
import tempfile

os.environ.setdefault("DATABASE_URL", "postgresql://127.0.0.1:5432/test")
os.environ.setdefault("SECRET_KEY", "insecure-test-only-secret")
os.environ.setdefault("RUTRANS_DATA_DIR", tempfile.mkdtemp(prefix="rutrans-test-"))
# In-process tests use the in-memory channel layer and the embedded worker thread unless a
# test switches to Redis; the end-to-end tests start the real stack in subprocesses.
os.environ.pop("REDIS_URL", None)

from rutrans_site.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Threads (channels' database_sync_to_async, the embedded worker) must not keep connections open.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# No stale-job sweeper thread in the test process (it would hold connections to the test DB).
STALE_SWEEP_INTERVAL_S = 0
# In-process tests import the ASGI app: do not start loading the real models in the background.
PRELOAD_MODELS = False
