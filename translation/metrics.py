"""The process's Prometheus metrics: one home for the metric objects (each `rutrans_…`; the
code that counts imports them from here), and the two ways they are scraped
(docs/RUNBOOK.md "Metrics"):

- a web process answers `GET /metrics` (`MetricsFirst`, the first middleware: Prometheus asks
  each replica by its address, a Host that ALLOWED_HOSTS does not list, over plain HTTP inside
  the network, so the scrape is answered before the host check and the HTTPS redirect). With
  METRICS_TOKEN set it requires `Authorization: Bearer <token>`; the proxy must not expose it;
- a Celery worker serves them on WORKER_METRICS_PORT (`serve`, from its `worker_ready` hook).

Each process counts its own: the web tier's ingest and admission, the workers' batches, speech
and outcomes (an embedded worker's in its web process). Counting is cheap (an increment, no
allocation per frame); the readings that cost a query (the queue lag) are taken per scrape.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable
from wsgiref.simple_server import WSGIServer

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)

logger = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
SOURCES = ("live", "upload")
REFUSAL_REASONS = ("busy", "full", "web_loop_lag", "web_loop_cpu", "client_limit")

# --- The web tier: live sessions, ingest, admission, the queue ---------------------------------

OPEN_SESSIONS = Gauge(
    "rutrans_live_sessions_open",
    "Live sessions this web process admitted that are still open.",
)
FRAMES = Counter(
    "rutrans_live_frames",
    "Binary audio frames accepted by this process's live sessions.",
)
STREAM_SECONDS = Counter(
    "rutrans_live_stream_seconds",
    "Seconds of audio (after resampling) ingested by this process's live sessions.",
)
SESSIONS_ADMITTED = Counter(
    "rutrans_sessions_admitted",
    "Live sessions admitted (past the capacity check and the client's limits).",
)
SESSIONS_REFUSED = Counter(
    "rutrans_sessions_refused",
    "Live sessions refused, by reason: busy (workers behind), full (workers' rate), "
    "web_loop_lag / web_loop_cpu (this web process), client_limit (LIMIT_LIVE_SESSIONS).",
    ["reason"],
)
UTTERANCES_SUBMITTED = Counter(
    "rutrans_utterances_submitted",
    "Utterances (live) and recordings (upload) stored and queued for translation.",
    ["source"],
)
QUEUE_LAG = Gauge(
    "rutrans_queue_lag_seconds",
    "How far behind the workers are (the admission's lag), read by a web process per scrape.",
)
QUEUE_WAITING = Gauge(
    "rutrans_queue_waiting",
    "Translations waiting for a worker's answer (queued, or live and held by a worker).",
)
WORKERS_RATE = Gauge(
    "rutrans_workers_rate",
    "The live workers' rate (audio seconds translated per second); NaN until measured.",
)

# --- The workers: batches, speech, outcomes ------------------------------------------------------

BATCH_SIZE = Histogram(
    "rutrans_batch_size",
    "Rows (finals and partials) per Canary batch.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
BATCH_SECONDS = Histogram(
    "rutrans_batch_seconds",
    "Seconds one Canary batch took on the model thread.",
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
SPEECH_SECONDS = Histogram(
    "rutrans_speech_seconds",
    "Seconds one sentence's speech synthesis took on the model thread.",
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
UTTERANCES_DONE = Counter(
    "rutrans_utterances_done",
    "Translations a worker finished and recorded as done.",
    ["source"],
)
UTTERANCES_FAILED = Counter(
    "rutrans_utterances_failed",
    "Translations a worker recorded as failed.",
    ["source"],
)

# Every label value known up front, so a rate reads 0 rather than nothing before the first event.
for _reason in REFUSAL_REASONS:
    SESSIONS_REFUSED.labels(reason=_reason)
for _source in SOURCES:
    for _counter in (UTTERANCES_SUBMITTED, UTTERANCES_DONE, UTTERANCES_FAILED):
        _counter.labels(source=_source)


def source_label(source: str) -> str:
    """A row's source as a label value (an unknown one is not a new series)."""
    return source if source in SOURCES else "upload"


# --- Scraping ------------------------------------------------------------------------------------

_before_scrape: list[Callable[[], None]] = []


def on_scrape(refresh: Callable[[], None]) -> None:
    """Call `refresh` before each `/metrics` answer (a web process's readings that cost a query:
    the queue lag, translation/jobs/capacity.py). A worker's port does not call it."""
    _before_scrape.append(refresh)


def _authorized(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return True
    given = request.headers.get("Authorization", "").encode()
    return hmac.compare_digest(given, f"Bearer {token}".encode())


def metrics_view(request: HttpRequest) -> HttpResponse:
    """This process's metrics in Prometheus's text format (401 without METRICS_TOKEN's bearer)."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
    if not _authorized(request):
        return HttpResponse(status=401, headers={"WWW-Authenticate": "Bearer"})
    for refresh in list(_before_scrape):
        try:
            refresh()
        except Exception:  # a reading that failed leaves its last value; the rest is answered
            logger.exception("metrics: a reading before the scrape failed")
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


class MetricsFirst:
    """The first middleware: `/metrics` is answered here, before the host check (ALLOWED_HOSTS),
    the HTTPS redirect, sessions and CSRF, none of which a scrape needs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == METRICS_PATH:
            return metrics_view(request)
        return self.get_response(request)


_server: WSGIServer | None = None
_server_lock = threading.Lock()


def serve(port: int, addr: str = "0.0.0.0") -> WSGIServer | None:
    """Serve this process's metrics on `port` (a worker: WORKER_METRICS_PORT; 0: not at all),
    once per process, from a daemon thread. A port already taken is logged, not fatal."""
    global _server
    if port <= 0:
        return None
    with _server_lock:
        if _server is None:
            try:
                _server, _thread = start_http_server(port, addr=addr)
            except OSError as exc:
                logger.error("metrics: cannot serve on port %d: %s", port, exc)
                return None
            logger.info("metrics: served on %s:%d%s", addr, port, METRICS_PATH)
        return _server


def stop_serving() -> None:
    """Stop the worker's metrics server (tests)."""
    global _server
    with _server_lock:
        if _server is not None:
            _server.shutdown()
            _server.server_close()
            _server = None
