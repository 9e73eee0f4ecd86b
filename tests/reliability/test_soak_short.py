"""The soak (benchmarks/soak.py) in short for CI: 5 talkers for 40 s against the real stack
(Daphne + Celery worker, a redis-server of its own, PostgreSQL), test-double engines, churning:
each session lives 2..4 sentences, then closes and the next one opens. Every utterance answered
exactly once, no errors to clients or in the logs, and from the end of the warm-up to the end:
RSS under +10 %, descriptors and threads back where they were, PostgreSQL connections and Redis
memory bounded. The full run: `python benchmarks/soak.py --sessions 16 --minutes 30`."""

from __future__ import annotations

import json

import pytest

from benchmarks.soak import failures, print_summary, run_against_new_stack
from benchmarks.soak_samples import PROCESS_FIELDS
from tests.doubles import DOUBLES_ENV

pytestmark = [pytest.mark.services, pytest.mark.timeout(150)]


def test_five_churning_talkers_for_forty_seconds(tmp_path, record_property):
    report = run_against_new_stack(
        sessions=5,
        duration_s=40.0,
        warmup_s=12.0,
        env=dict(DOUBLES_ENV),
        database_name="rutrans_rel_soak_ci",
        data_dir=tmp_path,
        churn=(2, 4),
        period_s=2.0,
    )
    print()
    print_summary(report)
    record_property(
        "soak_short",
        json.dumps({k: report[k] for k in ("utterances_sent", "utterances_answered", "metrics")}),
    )
    assert report["utterances_sent"] >= 5 * 6  # ~4.5 s per utterance and pause
    assert report["sessions_opened"] > 5 * 2  # the talkers' sessions came and went
    # Every metric was sampled, from the start to the idle end, for both processes.
    samples = report["samples"]
    assert [r["idle"] for r in samples if r["idle"]] == ["start", "warm", "end"]
    for name in ("web", "worker"):
        for field in PROCESS_FIELDS:
            assert all(isinstance(r[f"{name}_{field}"], int | float) for r in samples), field
    assert all(r["redis_used_mb"] > 0 for r in samples)
    assert all(r["pg_connections"] >= 1 for r in samples if r["t"] > report["warmup_s"])
    assert samples[-1]["open_sessions"] == 0
    assert len(report["lags"]) == report["utterances_answered"]
    assert failures(report) == []
