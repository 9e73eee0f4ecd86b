"""rutrans settings, read from environment variables with safe defaults.

With no DATABASE_URL and no REDIS_URL set, everything runs in one process (the *embedded*
default): SQLite, the in-memory channel layer, and the translation task executed in-process on a
worker thread. Set them to run the real stack: PostgreSQL, Redis, separate Celery GPU workers.
Every variable read here is documented in docker/.env.example.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from rutrans_site.env import cache_settings, env_bool, env_float, env_int, env_list, env_str
from translation.constants import (
    CAPTION_TASK,
    CAPTIONS_QUEUE,
    DEFAULT_VOICES,
    FINALS_QUEUE,
    PURGE_HISTORY_TASK,
    TRANSLATE_TASK,
)

BASE_DIR = Path(__file__).resolve().parent.parent


# --- Core -------------------------------------------------------------------------------------

DATA_DIR = Path(env_str("RUTRANS_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DEBUG = env_bool("DEBUG", False)
DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")
EMBEDDED = not REDIS_URL  # no broker: run the task code in-process


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    if DATABASE_URL or REDIS_URL:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. The real stack (DATABASE_URL/REDIS_URL set) needs a fixed "
            "secret: generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
        )
    # Embedded single-user default: a random key kept beside the local data, so sessions
    # survive restarts without shipping a known secret.
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # the API docs page's assets, served locally (works offline)
    "translation",
    "workers",  # management commands (doctor); imports no torch until one runs
]

MIDDLEWARE = [
    "translation.metrics.MetricsFirst",  # /metrics first: no host check, no HTTPS redirect
    "django.middleware.security.SecurityMiddleware",
    # Serves the UI's static files from Daphne itself: no separate web server needed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "rutrans_site.urls"
ASGI_APPLICATION = "rutrans_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Storage and the database pool: S3_*, DB_POOL_* (rutrans_site/settings_storage.py) ------------

from rutrans_site.settings_storage import *  # noqa: E402, F403
from rutrans_site.settings_storage import database_settings  # noqa: E402

if DATABASE_URL:
    DATABASES = {"default": database_settings(DATABASE_URL)}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "rutrans.sqlite3"),
            # The embedded worker thread writes while the web threads read and write. IMMEDIATE
            # transactions take the write lock up front and wait for it (`timeout`): a deferred
            # one that reads, then writes, fails at once with "database is locked" when another
            # connection wrote in between (several live sessions at once).
            "OPTIONS": {
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL;",
                "transaction_mode": "IMMEDIATE",
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "staticfiles")))
# Without `collectstatic` (the embedded default) serve straight from static/; WhiteNoise still
# wants STATIC_ROOT to exist.
WHITENOISE_USE_FINDERS = True
try:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
except OSError:  # a read-only image: collectstatic made it at build time
    pass
# Input and output audio of the history, unless S3_BUCKET puts them in a bucket (several hosts:
# no shared disk; docs/ARCHITECTURE.md).
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
MEDIA_URL = "/media/"

# --- Security ---------------------------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The container healthcheck requests http://127.0.0.1:8000/healthz directly, not through the
# TLS proxy: it must get its 200, not a redirect to https.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Channels and Celery ----------------------------------------------------------------------

if REDIS_URL:
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff

    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "translation.messaging.redis_layer.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # redis-py 8 reads with a 5 s socket timeout by default, which aborts
                        # the layer's blocking 5 s BZPOPMIN (channels_redis#422): allow longer.
                        "socket_timeout": 15,
                        # After a Redis restart the pooled connections are dead: reconnect and
                        # retry instead of failing the first push (a lost result) or receive.
                        "retry": Retry(ExponentialBackoff(cap=2.0, base=0.2), 4),
                    }
                ],
                # A result (JSON + WAV) must outlive a slow model; a gone consumer must not
                # block the worker.
                "expiry": env_int("CHANNEL_MESSAGE_EXPIRY_S", 120),
                "capacity": env_int("CHANNEL_CAPACITY", 200),
                # Every consumer of one web process shares ONE Redis list ("specific.<process>!"),
                # so its bound must cover all of that process's live sessions at once (64
                # sessions' results and WAV pieces overflowed 200: ChannelFull, results lost).
                "channel_capacity": {
                    "specific.*": env_int("CHANNEL_PROCESS_CAPACITY", 10_000),
                },
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
# kombu's Redis transport, made to survive a broker restart with tasks in flight (the worker
# reconnected instead of exiting): translation/messaging/redis_transport.py.
CELERY_BROKER_TRANSPORT = "translation.messaging.redis_transport:Transport" if REDIS_URL else None
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Task threads per worker process (Celery `--pool threads`; the embedded worker alike): each
# does its database and Redis work and hands the model work to the one batcher thread. At
# least the largest BATCH_MAX, so a batch can fill while earlier utterances are still speaking.
WORKER_CONCURRENCY = env_int("WORKER_CONCURRENCY", 24)
CELERY_WORKER_CONCURRENCY = WORKER_CONCURRENCY  # with `--pool threads` (the worker commands)
CELERY_TASK_DEFAULT_QUEUE = FINALS_QUEUE
CELERY_TASK_ROUTES = {
    TRANSLATE_TASK: {"queue": FINALS_QUEUE},
    CAPTION_TASK: {"queue": CAPTIONS_QUEUE},
    PURGE_HISTORY_TASK: {"queue": FINALS_QUEUE},
}
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# How many times a worker that lost the broker tries to connect again (waits of 2, 4, 6 ... up to
# 30 s between tries; 0: for ever) before it gives up and exits non-zero, for its supervisor to
# restart it (docs/RUNBOOK.md, "Broker restarts").
CELERY_BROKER_CONNECTION_MAX_RETRIES = env_int("BROKER_RECONNECT_TRIES", 100)
# Recovery from a dead worker (docs/RUNBOOK.md, "Timeouts"). Each worker process refreshes a
# heartbeat every WORKER_HEARTBEAT_S; one not refreshed for WORKER_DEAD_AFTER_S is dead, and the
# next recovery sweep (every STALE_SWEEP_INTERVAL_S, in every worker and web process) re-queues
# its running translations, or fails them once they have had TRANSLATION_MAX_ATTEMPTS runs (an
# input that kills the worker each time). Worst case from the kill to the re-queue:
# WORKER_DEAD_AFTER_S + STALE_SWEEP_INTERVAL_S (25 s by default).
WORKER_HEARTBEAT_S = env_float("WORKER_HEARTBEAT_S", 5.0)
WORKER_DEAD_AFTER_S = env_float("WORKER_DEAD_AFTER_S", 15.0)
if WORKER_DEAD_AFTER_S < 2 * WORKER_HEARTBEAT_S:
    raise ImproperlyConfigured(
        f"WORKER_DEAD_AFTER_S ({WORKER_DEAD_AFTER_S}) must be at least twice WORKER_HEARTBEAT_S "
        f"({WORKER_HEARTBEAT_S}): one late heartbeat must not make a live worker look dead"
    )
TRANSLATION_MAX_ATTEMPTS = max(1, env_int("TRANSLATION_MAX_ATTEMPTS", 2))
# A worker whose translation is done while PostgreSQL is away (a restart, a failover) keeps
# the outcome and writes it again every DB_RETRY_S for this long, instead of failing the task
# and translating it again later (translation/jobs/lifecycle.py `written`).
DB_OUTAGE_HOLD_S = env_float("DB_OUTAGE_HOLD_S", 30.0)
DB_RETRY_S = env_float("DB_RETRY_S", 0.5)
# With acks_late on Redis an unacknowledged task of a killed worker comes back after this many
# seconds. Recovery does not wait for it (it re-queues on the heartbeat), and a task delivered
# again while its first run is alive is skipped (`translation.jobs.lifecycle.start_translation`),
# so this only bounds how long a stray copy sits unacknowledged; keep it above the longest task.
BROKER_VISIBILITY_TIMEOUT_S = env_int("CELERY_VISIBILITY_TIMEOUT_S", 3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": BROKER_VISIBILITY_TIMEOUT_S,
    # How often a worker looks for such tasks: kombu's default scans only every 10th sweep of
    # 10 s (100 s); scan on each sweep, at most a few times per visibility timeout.
    "unacked_restore_interval": max(1, min(10, BROKER_VISIBILITY_TIMEOUT_S // 3)),
    "unacked_restore_throttle": 1,
}
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT_S", 1800)
# The last resort: rows still `queued`/`running` this long after they were queued or started
# (a task lost by the broker, a worker hung but alive) are marked failed and their watchers
# told. Keep it above CELERY_TASK_TIME_LIMIT_S. The same sweep (0: never; `manage.py
# sweep_stale` does one pass by hand) runs recovery.
STALE_TRANSLATION_S = env_int("STALE_TRANSLATION_S", CELERY_TASK_TIME_LIMIT + 300)
STALE_SWEEP_INTERVAL_S = env_float("STALE_SWEEP_INTERVAL_S", 10.0)

# --- Limits, retention, recordings (translation/limits/, translation/history/retention.py) ------

CACHES = cache_settings(REDIS_URL)  # the limits' counters, audio of rows that keep none
# Explained in docker/.env.example and docs/RUNBOOK.md; 0: no LIMIT_*, *_DAYS for ever.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)  # 0: X-Forwarded-For is ignored
LIMIT_UPLOADS_PER_MINUTE = env_int("LIMIT_UPLOADS_PER_MINUTE", 30)
LIMIT_QUEUED_JOBS = env_int("LIMIT_QUEUED_JOBS", 50)
LIMIT_AUDIO_S_PER_HOUR = env_int("LIMIT_AUDIO_S_PER_HOUR", 36_000)
LIMIT_LIVE_SESSIONS = env_int("LIMIT_LIVE_SESSIONS", 20)
LIMIT_SIGNED_IN_FACTOR = env_int("LIMIT_SIGNED_IN_FACTOR", 4)
LIMIT_STAFF_FACTOR = env_int("LIMIT_STAFF_FACTOR", 0)  # 0: no limit for staff
STORE_AUDIO = env_bool("STORE_AUDIO", True)
TRANSIENT_AUDIO_S = env_int("TRANSIENT_AUDIO_S", 1800)
HISTORY_RETENTION_DAYS = env_float("HISTORY_RETENTION_DAYS", 30.0)
HISTORY_TEXT_RETENTION_DAYS = env_float("HISTORY_TEXT_RETENTION_DAYS", 365.0)
if HISTORY_TEXT_RETENTION_DAYS and HISTORY_RETENTION_DAYS > HISTORY_TEXT_RETENTION_DAYS:
    HISTORY_RETENTION_DAYS = HISTORY_TEXT_RETENTION_DAYS  # audio never outlives its row
RETENTION_INTERVAL_S = env_float("RETENTION_INTERVAL_S", 3600.0)
CELERY_BEAT_SCHEDULE = {
    "purge-history": {"task": PURGE_HISTORY_TASK, "schedule": RETENTION_INTERVAL_S},
}
MEDIA_MIN_FREE_MB = env_int("MEDIA_MIN_FREE_MB", 1024)

# --- REST API (uploads) -------------------------------------------------------------------------

# Largest upload accepted (bytes, 413 above) and longest recording (seconds, 400 above).
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 50 * 1024 * 1024)
UPLOAD_MAX_DURATION_S = env_float("UPLOAD_MAX_DURATION_S", 900.0)
# Request bodies other than files (form fields, JSON) stay small (Django's default);
# uploaded files above FILE_UPLOAD_MAX_MEMORY_SIZE are spooled to disk, not held in memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.MultiPartParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "translation.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # DRF's own client address (throttles) trusts X-Forwarded-For as translation/limits does.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "rutrans API",
    "DESCRIPTION": "Upload a recording, follow the job, download the spoken translation "
    "(English <-> Russian). Live translation is the `/ws/translate` WebSocket; a job's status "
    "is also pushed on `/ws/jobs/{id}`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- The live path: utterance cutting, WebSocket limits, overload, captions ---------------------

from rutrans_site.settings_live import *  # noqa: E402, F403

# The end-of-turn model's file (TURN_DETECTION, rutrans_site/settings_live.py).
TURN_MODEL_PATH = Path(
    env_str("TURN_MODEL_PATH", str(DATA_DIR / "models" / "smart-turn-v3.2-cpu.onnx"))
)

# --- Models -------------------------------------------------------------------------------------

# Dotted paths of the engine classes; each has a `from_settings(settings)` constructor.
# Tests may point these at test doubles; the defaults are the real models.
RUTRANS_TRANSLATOR = env_str("RUTRANS_TRANSLATOR", "workers.engines.canary.CanaryTranslator")
# The synthesizer routes each voice to its engine (Silero or Piper: workers/engines/voices.py).
RUTRANS_SYNTHESIZER = env_str("RUTRANS_SYNTHESIZER", "workers.engines.voices.VoiceRouter")
RUTRANS_LANGUAGE_IDENTIFIER = env_str(
    "RUTRANS_LANGUAGE_IDENTIFIER", "workers.engines.langid.AmberNetIdentifier"
)
CANARY_MODEL = env_str("CANARY_MODEL", "nvidia/canary-1b-v2")
# Canary generates at most (encoder frames + this) tokens, prompt included; the encoder gives
# 12.5 frames per second of audio. Bounds a hallucination loop (NeMo's -1 runs to 1024 tokens).
CANARY_MAX_GENERATION_DELTA = env_int("CANARY_MAX_GENERATION_DELTA", 50)
LID_MODEL = env_str("LID_MODEL", "langid_ambernet")
# Recognise the source-language text alongside the translation (one batched call).
SOURCE_TRANSCRIPT = env_bool("SOURCE_TRANSCRIPT", True)
# "auto" picks CUDA when available; "cpu" or "cuda" force one.
MODEL_DEVICE = env_str("MODEL_DEVICE", "auto")
# CPU threads per worker process for torch (0: torch's default, all cores). Set it when
# several workers share a machine's CPUs.
TORCH_NUM_THREADS = env_int("TORCH_NUM_THREADS", 0)
# Cross-session batching (workers/batcher.py): a Canary batch starts when BATCH_MAX utterances
# wait or the oldest has waited BATCH_WAIT_MS, and holds at most BATCH_MAX_AUDIO_S of audio.
# 0 (BATCH_WAIT_MS: -1) = the default measured for the device (CPU 8 / 5 ms / 120 s, CUDA
# 64 / 10 ms / 600 s; docs/PERFORMANCE.md, "GPU").
BATCH_MAX = env_int("BATCH_MAX", 0)
BATCH_WAIT_MS = env_float("BATCH_WAIT_MS", -1.0)
BATCH_MAX_AUDIO_S = env_float("BATCH_MAX_AUDIO_S", 0.0)
SILERO_CACHE_DIR = Path(env_str("SILERO_CACHE_DIR", str(DATA_DIR / "models" / "silero")))
# Where `manage.py fetch_models` downloads the Silero packages from (tests point it at localhost).
SILERO_BASE_URL = env_str("SILERO_BASE_URL", "https://models.silero.ai/models/tts")
# Piper voices (`<key>.onnx`, `.onnx.json`, `.MODEL_CARD`), and where `fetch_models` gets them.
PIPER_VOICES_DIR = Path(env_str("PIPER_VOICES_DIR", str(DATA_DIR / "models" / "piper")))
PIPER_BASE_URL = env_str(
    "PIPER_BASE_URL", "https://huggingface.co/rhasspy/piper-voices/resolve/v1.0.0"
)
TTS_SAMPLE_RATE = env_int("TTS_SAMPLE_RATE", 24_000)
# Default voice per target language: a Silero id (baya, en_0) or a Piper one
# (piper:ru_RU-denis-medium); translation/constants.py VOICE_CATALOGUE lists them all.
TTS_VOICE_RU = env_str("TTS_VOICE_RU", DEFAULT_VOICES["ru"])
TTS_VOICE_EN = env_str("TTS_VOICE_EN", DEFAULT_VOICES["en"])
# Load the models when the worker starts rather than on its first task.
PRELOAD_MODELS = env_bool("PRELOAD_MODELS", True)

# --- Logging ------------------------------------------------------------------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}
