"""Prometheus metrics (translation/metrics.py): the web process's `/metrics`, its token, the
worker's port, and a live session through the consumer moving the counters it should."""

from __future__ import annotations

import json
import socket
import time
import urllib.request

import numpy as np
import pytest
from channels.testing import WebsocketCommunicator
from django.test import AsyncClient
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from translation import metrics
from translation.jobs import capacity
from translation.jobs.backlog import QueueReading

ORIGIN = (b"origin", b"http://127.0.0.1")
CONTROL = {"mode": "en->ru", "sample_rate": 16_000, "channels": 1}
FRAME_SAMPLES = 1024  # 64 ms at 16 kHz, as the page sends


def rutrans_families() -> set[str]:
    return {f.name for f in REGISTRY.collect() if f.name.startswith("rutrans_")}


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value in an exposition (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


# --- /metrics ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_is_prometheus_text_naming_every_rutrans_metric(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    text = response.content.decode()
    names = {f.name for f in text_string_to_metric_families(text)}
    expected = {
        "rutrans_live_sessions_open",
        "rutrans_live_frames",
        "rutrans_live_stream_seconds",
        "rutrans_sessions_admitted",
        "rutrans_sessions_refused",
        "rutrans_utterances_submitted",
        "rutrans_queue_lag_seconds",
        "rutrans_batch_size",
        "rutrans_batch_seconds",
        "rutrans_speech_seconds",
        "rutrans_utterances_done",
        "rutrans_utterances_failed",
    }
    assert expected <= names and rutrans_families() <= names
    assert 'rutrans_sessions_refused_total{reason="busy"}' in text  # known labels, from 0


@pytest.mark.django_db
def test_a_scrape_by_address_over_http_is_answered_despite_hosts_and_https(client, settings):
    """Prometheus asks each replica by IP (not in ALLOWED_HOSTS), over plain HTTP."""
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/metrics", HTTP_HOST="172.18.0.5:8000")
    assert response.status_code == 200
    assert b"rutrans_live_frames_total" in response.content
    assert client.get("/", HTTP_HOST="172.18.0.5:8000").status_code == 400  # the rest is not


def test_metrics_token_is_required_when_set(client, settings):
    settings.METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"] == "Bearer"
    assert client.get("/metrics", HTTP_AUTHORIZATION="s3cret-token").status_code == 401
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert ok.status_code == 200 and b"rutrans_" in ok.content


def test_metrics_answers_only_reads(client):
    assert client.post("/metrics").status_code == 405


def test_the_scrape_publishes_the_queue_lag_of_the_monitor(client, monkeypatch):
    now = time.time()
    reading = QueueReading(
        read_at=now,
        queued=4,
        queued_audio_s=8.0,
        oldest_queued_at=now - 2.5,
        rate=2.0,
        workers=1,
        speech_share=None,
        talking_sessions=0,
    )
    monkeypatch.setattr(capacity, "monitor", capacity.CapacityMonitor(read=lambda: reading))
    text = client.get("/metrics").content.decode()
    assert sample(text, "rutrans_queue_lag_seconds") == pytest.approx(4.0)  # 8 s over 2 s/s
    assert sample(text, "rutrans_queue_waiting") == 4
    assert sample(text, "rutrans_workers_rate") == 2.0


def test_refusals_are_counted_by_reason():
    busy = capacity.replace(capacity.UNKNOWN, busy=True, lag_s=9.0)
    calm = capacity.UNKNOWN
    before = REGISTRY.get_sample_value("rutrans_sessions_refused_total", {"reason": "busy"})
    assert capacity.counted_refusal(calm) is None
    refusal = capacity.counted_refusal(busy)
    assert refusal is not None and refusal.code == "busy"
    after = REGISTRY.get_sample_value("rutrans_sessions_refused_total", {"reason": "busy"})
    assert after == before + 1
    assert {r.code for r in _every_refusal()} <= set(metrics.REFUSAL_REASONS)


def _every_refusal() -> list[capacity.Refusal]:
    base = capacity.UNKNOWN
    cases = [
        capacity.replace(base, busy=True),
        capacity.replace(base, loop_lag_ms=900.0, max_loop_lag_ms=500.0),
        capacity.replace(base, loop_cpu=0.9, max_loop_cpu=0.75),
        capacity.replace(base, load=2.0, max_load=0.7),
    ]
    refusals = [c.refusal() for c in cases]
    assert None not in refusals
    return [r for r in refusals if r is not None]


# --- the worker's port ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_worker_serves_its_metrics_on_its_port_once(settings):
    from workers.worker_process import serve_metrics

    settings.WORKER_METRICS_PORT = 0
    serve_metrics(sender=None)
    assert metrics._server is None  # 0: off
    port = free_port()
    settings.WORKER_METRICS_PORT = port
    try:
        serve_metrics(sender=None)
        server = metrics._server
        assert server is not None
        serve_metrics(sender=None)  # a second ready signal: the same server
        assert metrics._server is server
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            body = answer.read().decode()
        assert "rutrans_batch_seconds_bucket" in body and "rutrans_utterances_done_total" in body
    finally:
        metrics.stop_serving()


def test_a_taken_port_is_logged_not_fatal(caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert metrics.serve(taken.getsockname()[1], addr="127.0.0.1") is None
    assert "cannot serve" in caplog.text


# --- a live session, scraped before and after --------------------------------------------------


class CalmQueue:
    """The monitor's readings: nothing waiting, so every session is admitted."""

    def __call__(self) -> QueueReading:
        return QueueReading(
            read_at=time.time(),
            queued=0,
            queued_audio_s=0.0,
            oldest_queued_at=None,
            rate=None,
            workers=0,
            speech_share=None,
            talking_sessions=0,
        )


async def scrape() -> str:
    response = await AsyncClient().get("/metrics")
    assert response.status_code == 200
    return response.content.decode()


async def next_of_type(comm, kind: str, timeout: float = 20) -> dict:
    while True:
        message = await comm.receive_output(timeout)
        if message.get("text") and json.loads(message["text"])["type"] == kind:
            return json.loads(message["text"])


COUNTERS = (
    ("rutrans_live_frames_total", {}),
    ("rutrans_live_stream_seconds_total", {}),
    ("rutrans_sessions_admitted_total", {}),
    ("rutrans_utterances_submitted_total", {"source": "live"}),
    ("rutrans_utterances_done_total", {"source": "live"}),
    ("rutrans_batch_size_count", {}),
    ("rutrans_speech_seconds_count", {}),
)


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(60)
async def test_a_live_session_moves_the_counters_it_should(engines, speech, monkeypatch):
    from rutrans_site.asgi import application

    monkeypatch.setattr(capacity, "monitor", capacity.CapacityMonitor(read=CalmQueue()))
    before = await scrape()
    assert sample(before, "rutrans_live_sessions_open") == 0

    comm = WebsocketCommunicator(application, "/ws/translate", headers=[ORIGIN])
    connected, _ = await comm.connect()
    assert connected and (await comm.receive_json_from())["state"] == "ready"
    await comm.send_to(text_data=json.dumps(CONTROL))
    assert (await comm.receive_json_from())["state"] == "configured"
    during = await scrape()
    assert sample(during, "rutrans_live_sessions_open") == 1

    pcm = (speech.speech_16k("Good morning, everyone.", "en") * 32767).astype("<i2")
    frames = [pcm[i : i + FRAME_SAMPLES] for i in range(0, len(pcm), FRAME_SAMPLES)]
    for frame in frames:
        await comm.send_to(bytes_data=frame.tobytes())
    await comm.send_to(text_data="__flush__")
    await next_of_type(comm, "result")
    end = await next_of_type(comm, "audio_end")
    assert end["seq"] == 0 and "error" not in end
    await comm.disconnect()

    after = await scrape()
    moved = {
        name: sample(after, name, **labels) - sample(before, name, **labels)
        for name, labels in COUNTERS
    }
    assert moved["rutrans_live_frames_total"] == len(frames)
    assert moved["rutrans_live_stream_seconds_total"] == pytest.approx(len(pcm) / 16_000)
    assert moved["rutrans_sessions_admitted_total"] == 1
    assert moved["rutrans_utterances_submitted_total"] == 1
    assert moved["rutrans_utterances_done_total"] == 1
    assert moved["rutrans_batch_size_count"] >= 1 and moved["rutrans_speech_seconds_count"] >= 1
    assert sample(after, "rutrans_live_sessions_open") == 0
    assert np.isfinite(sample(after, "rutrans_batch_seconds_sum"))
