"""docker/haproxy/haproxy.cfg: valid for HAProxy as compose runs it and as the local scaled stack
renders it (rutrans_site/scaled.py), and wired to the web tier (port, health URL, timeouts)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from rutrans_site.scaled import PROXY_CONFIG, local_proxy_config
from tests.services import missing

CONFIG = PROXY_CONFIG.read_text()


@pytest.fixture(scope="module")
def haproxy() -> str:
    path = shutil.which("haproxy")
    if path is None:
        missing("haproxy (Debian: apt-get install haproxy; scripts/install-system-deps.sh)")
    return path


def check(haproxy: str, text: str, tmp_path) -> subprocess.CompletedProcess:
    config = tmp_path / "haproxy.cfg"
    config.write_text(text)
    return subprocess.run(
        [haproxy, "-c", "-f", str(config)], capture_output=True, text=True, check=False
    )


def test_the_compose_config_is_valid(haproxy, tmp_path):
    result = check(haproxy, CONFIG, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_local_rendering_is_valid_and_lists_each_process(haproxy, tmp_path):
    text = local_proxy_config([8101, 8102])
    result = check(haproxy, text, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.findall(r"server (\S+) (\S+) check", text) == [
        ("web0", "127.0.0.1:8101"),
        ("web1", "127.0.0.1:8102"),
    ]
    assert "resolvers" not in text and "server-template" not in text


def test_the_web_tier_is_balanced_by_connections_and_health_checked():
    from django.urls import resolve

    assert "balance leastconn" in CONFIG
    assert re.search(r"http-check send meth GET uri (/\w+)", CONFIG).group(1) == "/healthz"
    assert resolve("/healthz").url_name == "healthz"
    assert "server-template web 1-16 web:8000 check resolvers docker" in CONFIG


def test_a_quiet_call_stays_open_and_metrics_stay_private():
    tunnel = re.search(r"timeout tunnel (\d+)h", CONFIG)
    assert tunnel and int(tunnel.group(1)) >= 1
    assert "http-request deny deny_status 404 if { path_beg /metrics }" in CONFIG
