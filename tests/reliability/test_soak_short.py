"""The soak (benchmarks/soak.py) in short for CI: 5 live sessions for 50 s against the real
stack (Daphne + Celery worker, Redis database 10, PostgreSQL), test-double engines. Every
utterance answered exactly once, no errors to clients or in the logs, web and worker RSS
growth under 10 % after the warm-up. The full run: `python benchmarks/soak.py`."""

from __future__ import annotations

import json

import pytest

from benchmarks.soak import failures, print_summary, run_against_new_stack
from tests.doubles import DOUBLES_ENV
from tests.services import fresh_redis_database

pytestmark = [pytest.mark.services, pytest.mark.timeout(150)]


def test_five_sessions_for_fifty_seconds(tmp_path, record_property):
    report = run_against_new_stack(
        sessions=5,
        duration_s=50.0,
        warmup_s=15.0,
        env=dict(DOUBLES_ENV),
        redis_url=fresh_redis_database(10),
        database_name="rutrans_rel_soak_ci",
        data_dir=tmp_path,
    )
    print()
    print_summary(report)
    record_property(
        "soak_short",
        json.dumps({k: report[k] for k in ("utterances_sent", "utterances_answered", "rss")}),
    )
    assert report["utterances_sent"] >= 5 * 8  # ~4.5 s per utterance and pause
    assert failures(report) == []
