"""The monitoring files against the code: the Grafana dashboard asks only for metrics that
translation/metrics.py defines, and the Prometheus example scrapes every process by itself."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from prometheus_client import REGISTRY

from tests.deploy import DOCKER_DIR
from translation import metrics

DASHBOARD = DOCKER_DIR / "grafana" / "rutrans-dashboard.json"
PROMETHEUS = DOCKER_DIR / "prometheus.yml"
DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}


def defined_series() -> set[str]:
    """Every series name the registry's rutrans_* metrics expose (`_total`, `_bucket`, …)."""
    names = set()
    for family in REGISTRY.collect():
        if family.name.startswith("rutrans_"):
            names |= {s.name for s in family.samples}
    return names


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def panels(dashboard: dict) -> list[dict]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def test_the_dashboard_is_a_grafana_10_model_on_a_prometheus_variable(dashboard):
    assert dashboard["schemaVersion"] >= 38 and dashboard["uid"] and dashboard["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys()
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]


def test_every_expression_asks_for_defined_metrics(dashboard):
    defined = defined_series()
    assert {"rutrans_live_frames_total", "rutrans_batch_seconds_bucket"} <= defined
    asked = set()
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            names = set(re.findall(r"\brutrans_[a-z0-9_]+", target["expr"]))
            assert names, f"{panel['title']}: {target['expr']}"
            assert names <= defined, f"{panel['title']}: {sorted(names - defined)}"
            asked |= names
    # Every metric has a panel (by its family: a histogram's _bucket or _sum will do).
    families = {f.name for f in REGISTRY.collect() if f.name.startswith("rutrans_")}
    shown = {f for f in families if any(name.startswith(f) for name in asked)}
    assert shown == families, sorted(families - shown)


def test_the_brief_panels_are_there(dashboard):
    titles = " | ".join(p["title"].lower() for p in panels(dashboard))
    for words in (
        "sessions per process",
        "frames",
        "stream-seconds",
        "refusals",
        "queue lag",
        "batch size",
        "batch time",
        "speech synthesis time",
        "done / failed",
    ):
        assert words in titles, words


def test_prometheus_scrapes_each_web_replica_and_worker_by_dns():
    config = yaml.safe_load(PROMETHEUS.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    web, worker = jobs["rutrans-web"], jobs["rutrans-worker"]
    assert web["metrics_path"] == worker["metrics_path"] == metrics.METRICS_PATH
    assert web["dns_sd_configs"] == [
        {"names": ["web"], "type": "A", "port": 8000, "refresh_interval": "30s"}
    ]
    (workers,) = worker["dns_sd_configs"]
    assert set(workers["names"]) == {"worker", "worker-cpu"} and workers["type"] == "A"
    from django.conf import settings

    assert workers["port"] == settings.WORKER_METRICS_PORT == 9808
