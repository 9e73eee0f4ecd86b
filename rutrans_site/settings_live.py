"""The live path's settings: utterance cutting, the WebSocket limits, overload, live captions
and the worker's speech stage (rutrans_site/settings.py imports them all; docker/.env.example
documents each)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from rutrans_site.env import env_bool, env_float, env_int, env_str

# --- Audio ingest and utterance cutting ----------------------------------------------------------

UTTERANCE_SILENCE_MS = env_int("UTTERANCE_SILENCE_MS", 900)
# Continuous speech: after UTTERANCE_SHRINK_AFTER_S of speech the silence that ends an
# utterance falls over UTTERANCE_SHRINK_OVER_S to UTTERANCE_MIN_SILENCE_MS (a breath between
# sentences). UTTERANCE_MIN_SILENCE_MS = UTTERANCE_SILENCE_MS turns it off.
UTTERANCE_MIN_SILENCE_MS = env_int("UTTERANCE_MIN_SILENCE_MS", 200)
UTTERANCE_SHRINK_AFTER_S = env_float("UTTERANCE_SHRINK_AFTER_S", 1.5)
UTTERANCE_SHRINK_OVER_S = env_float("UTTERANCE_SHRINK_OVER_S", 1.5)
# End-of-turn model (Smart Turn v3.2, ONNX, `make turn-model`): asked once a pause reaches
# TURN_PAUSE_MS; P(complete) >= TURN_THRESHOLD ends the utterance there. One model per web
# process on one thread; with TURN_MAX_PENDING questions waiting, the silence rule decides.
TURN_DETECTION = env_bool("TURN_DETECTION", False)
TURN_PAUSE_MS = env_int("TURN_PAUSE_MS", 200)
TURN_THRESHOLD = env_float("TURN_THRESHOLD", 0.5)
TURN_MAX_PENDING = env_int("TURN_MAX_PENDING", 2)
UTTERANCE_MAX_S = env_float("UTTERANCE_MAX_S", 30.0)
UTTERANCE_MIN_SPEECH_MS = env_int("UTTERANCE_MIN_SPEECH_MS", 250)
VAD_THRESHOLD = env_float("VAD_THRESHOLD", 0.5)
# Largest binary frame accepted (bytes): 1 s of 96 kHz stereo int16. A larger one is answered
# with a `frame dropped` error and the connection stays open.
MAX_FRAME_BYTES = env_int("MAX_FRAME_BYTES", 384_000)
# The web server's own limit on one WebSocket message, both directions (rutrans_site/server.py
# passes it to Daphne): a message over it is refused with close code 1009 before the consumer
# sees it. Above MAX_FRAME_BYTES, so that the frames between them get the protocol's error.
WEBSOCKET_MAX_MESSAGE_BYTES = env_int("WEBSOCKET_MAX_MESSAGE_BYTES", 1_048_576)
if WEBSOCKET_MAX_MESSAGE_BYTES <= MAX_FRAME_BYTES:
    raise ImproperlyConfigured(
        f"WEBSOCKET_MAX_MESSAGE_BYTES ({WEBSOCKET_MAX_MESSAGE_BYTES}) must be above "
        f"MAX_FRAME_BYTES ({MAX_FRAME_BYTES})"
    )
# A result that has not come back after this long is answered with an error so that later
# results of the session are not held back forever.
RESULT_TIMEOUT_S = env_float("RESULT_TIMEOUT_S", 300.0)

# --- Overload (translation/jobs/capacity.py; docs/RUNBOOK.md "Overload"; .env.example) ----------

# The most the workers may be behind (s: the oldest queued final's age or the queued audio over
# their measured rate): above, sessions are told `busy`, new ones refused (1013), uploads 503.
MAX_QUEUE_LAG_S = env_float("MAX_QUEUE_LAG_S", 3.0)
# No live captions while the workers are this far behind: captions are shed first.
CAPTIONS_SHED_LAG_S = env_float("CAPTIONS_SHED_LAG_S", 1.0)
if not 0 < CAPTIONS_SHED_LAG_S <= MAX_QUEUE_LAG_S:
    raise ImproperlyConfigured(
        f"CAPTIONS_SHED_LAG_S ({CAPTIONS_SHED_LAG_S}) must be above 0 and at most "
        f"MAX_QUEUE_LAG_S ({MAX_QUEUE_LAG_S}): captions are shed before sessions are refused"
    )
# A new session is refused when the open ones, with it, would need more than this share of the
# workers' measured rate, or while the web loop has been later than ..._LOOP_LAG_MS for 3 s,
# or when the web process's event loop would, with it, use more than ..._LOOP_CPU of a core.
# 0.7: the measured rate is a batching worker's while busy; the web tier's own CPU and
# batches that grow with the load make more unsafe on a shared host (docs/PERFORMANCE.md).
ADMISSION_MAX_LOAD = env_float("ADMISSION_MAX_LOAD", 0.7)
ADMISSION_MAX_LOOP_LAG_MS = env_float("ADMISSION_MAX_LOOP_LAG_MS", 500.0)
ADMISSION_MAX_LOOP_CPU = env_float("ADMISSION_MAX_LOOP_CPU", 0.75)
# Audio s per s a talking session is assumed to need until measured (continuous speech: 0.8).
SESSION_SPEECH_SHARE = env_float("SESSION_SPEECH_SHARE", 0.8)
# A worker times one full batch when its models have loaded (workers/calibration.py) and the web
# tier admits against that rate until the worker's measured rate, busy, says more.
CALIBRATE_AT_START = env_bool("CALIBRATE_AT_START", True)
# Each web process re-reads the queue at most this often (s), on a thread of its own.
CAPACITY_REFRESH_S = env_float("CAPACITY_REFRESH_S", 1.0)
# Uploads are refused (503 busy, Retry-After) while the workers are this far behind (s).
UPLOAD_MAX_QUEUE_LAG_S = env_float("UPLOAD_MAX_QUEUE_LAG_S", 60.0)

# --- Live captions (partial translations while the speaker still talks) -------------------------

# Re-translate the open utterance while it is spoken and show the text provisionally (no voice,
# nothing stored). Off by default: worth it when the workers have a GPU (Canary re-translates a
# growing sentence in tens of ms there); on a CPU each partial costs about as much as a final.
# Workers must consume the `captions` queue too (`-Q gpu,captions`). A client turns its own
# captions off with `"captions": false` in the control message.
LIVE_CAPTIONS = env_bool("LIVE_CAPTIONS", False)
# A partial after this much speech, then again after each further this much (seconds).
CAPTION_INTERVAL_S = env_float("CAPTION_INTERVAL_S", 1.0)
# 0: a partial after each CAPTION_INTERVAL_S of new speech. Above 0: after
# max(CAPTION_INTERVAL_S, this × the speech already captioned), so long utterances are re-read
# less often (less GPU time, a little more flicker: docs/PERFORMANCE.md, live captions).
CAPTION_GROWTH = env_float("CAPTION_GROWTH", 0.0)
# A partial not started by a worker within this many seconds is discarded, never run.
CAPTION_EXPIRES_S = env_float("CAPTION_EXPIRES_S", 2.0)

# --- The worker's speech stage (workers/speech_stage.py) --------------------------------------

# Threads that synthesise sentences beside the Canary batch thread (0: the device's default,
# 1 on a CPU, 2 on a GPU). On a CPU they share the cores (TORCH_NUM_THREADS) with Canary.
SPEECH_THREADS = env_int("SPEECH_THREADS", 0)
if SPEECH_THREADS < 0:
    raise ImproperlyConfigured(f"SPEECH_THREADS={SPEECH_THREADS}: use 0 (default) or more")

# --- Draining (a web process on SIGTERM: translation/messaging/drain.py) ------------------------

# /healthz answers 503 "draining" at once; the open sockets are closed with 1012 after this many
# seconds (the proxy's health check, every second, has then sent new connections elsewhere)...
DRAIN_NOTICE_S = env_float("DRAIN_NOTICE_S", 2.0)
# ... each live session having had at most this long to get the results of what it said.
DRAIN_TIMEOUT_S = env_float("DRAIN_TIMEOUT_S", 8.0)

# --- Metrics (Prometheus, translation/metrics.py; docs/RUNBOOK.md "Metrics") -------------------

# Set: GET /metrics on a web process requires `Authorization: Bearer <METRICS_TOKEN>`. Unset:
# open to whoever reaches the process (the proxy must not route /metrics from outside).
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
# A Celery worker serves its metrics on this port (0: off); workers sharing a host need one each.
WORKER_METRICS_PORT = env_int("WORKER_METRICS_PORT", 9808)
if not 0 <= WORKER_METRICS_PORT <= 65535:
    raise ImproperlyConfigured(f"WORKER_METRICS_PORT={WORKER_METRICS_PORT}: use 0 to 65535")
