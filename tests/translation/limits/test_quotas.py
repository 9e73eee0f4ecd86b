"""The limits' counters: audio seconds per hour, live sessions, queued jobs; tiers; a broken
cache lets requests through."""

import uuid

import pytest

from translation.limits import quotas
from translation.limits.clients import Client
from translation.models import Translation

ANON = Client("ip:10.0.0.1", "anonymous")
OTHER = Client("ip:10.0.0.2", "anonymous")
USER = Client("user:7", "signed_in")
STAFF = Client("user:8", "staff")
HOUR = 3600 * 500_000  # a clock hour's start


def test_tiers_multiply_the_anonymous_limit(settings):
    settings.LIMIT_SIGNED_IN_FACTOR, settings.LIMIT_STAFF_FACTOR = 4, 0
    assert [quotas.limit_for(c, 10) for c in (ANON, USER, STAFF)] == [10, 40, None]
    settings.LIMIT_STAFF_FACTOR = 10
    assert quotas.limit_for(STAFF, 10) == 100
    assert quotas.limit_for(ANON, 0) is None  # 0: no limit


def test_audio_seconds_per_hour_refuse_past_the_limit_and_count_nothing_refused(settings):
    settings.LIMIT_AUDIO_S_PER_HOUR = 10
    quotas.charge_audio(ANON, 6.0, now=HOUR + 100)
    quotas.charge_audio(ANON, 4.0, now=HOUR + 200)  # exactly at the limit: allowed
    with pytest.raises(quotas.LimitExceeded) as refused:
        quotas.charge_audio(ANON, 0.5, now=HOUR + 3000)
    assert refused.value.limit == "audio_seconds"
    assert refused.value.retry_after_s == 600  # until the next clock hour
    assert "10 of 10 s this hour" in str(refused.value) and "retry in 600 s" in str(refused.value)
    quotas.charge_audio(OTHER, 9.0, now=HOUR + 3000)  # per client
    quotas.charge_audio(USER, 40.0, now=HOUR + 3000)  # signed in: 4 x
    quotas.charge_audio(ANON, 10.0, now=HOUR + 3600)  # a new hour


def test_a_refund_gives_the_seconds_back(settings):
    settings.LIMIT_AUDIO_S_PER_HOUR = 10
    charge = quotas.charge_audio(ANON, 8.0, now=HOUR)
    charge.refund()
    quotas.charge_audio(ANON, 10.0, now=HOUR + 1)


@pytest.fixture(params=["memory", "redis"])
def live_backend(request, settings):
    """Embedded: this process's cache under a lock; real stack: a Redis sorted set."""
    if request.param == "redis":
        from tests.services import require_redis
        from translation.backend import broker

        settings.REDIS_URL = require_redis()
        broker.forget_client()
        yield
        broker.forget_client()
    else:
        yield


def test_live_sessions_count_open_ones_and_forget_dead_ones(settings, live_backend):
    settings.LIMIT_LIVE_SESSIONS = 2
    anon = Client(f"ip:test-{uuid.uuid4().hex}", "anonymous")
    other = Client(f"ip:test-{uuid.uuid4().hex}", "anonymous")
    quotas.join_live_session(anon, "a", now=1000.0)
    quotas.join_live_session(anon, "b", now=1001.0)
    with pytest.raises(quotas.LimitExceeded) as refused:
        quotas.join_live_session(anon, "c", now=1002.0)
    assert refused.value.limit == "live_sessions"
    assert str(refused.value).startswith(
        "too many live sessions for this client (2 open, at most 2)"
    )
    quotas.join_live_session(other, "x", now=1002.0)
    quotas.leave_live_session(anon, "a", now=1003.0)
    quotas.join_live_session(anon, "c", now=1004.0)
    # "b" stays open (refreshed); "c" is never refreshed: its process died.
    quotas.refresh_live_session(anon, "b", now=1004.0 + quotas.LIVE_REFRESH_S)
    later = 1004.0 + quotas.LIVE_SESSION_TTL_S
    quotas.join_live_session(anon, "d", now=later)
    with pytest.raises(quotas.LimitExceeded):
        quotas.join_live_session(anon, "e", now=later)


def test_sessions_opening_and_closing_at_once_lose_no_update(settings, live_backend):
    """Threads joining and leaving together (the consumer's to_thread calls): every session
    that left is gone, so the client is never refused for sessions it closed."""
    from concurrent.futures import ThreadPoolExecutor

    settings.LIMIT_LIVE_SESSIONS = 8
    anon = Client(f"ip:test-{uuid.uuid4().hex}", "anonymous")

    def cycle(worker: int) -> None:
        for i in range(50):
            quotas.join_live_session(anon, f"{worker}-{i}")
            quotas.leave_live_session(anon, f"{worker}-{i}")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(cycle, range(4)))
    for i in range(8):  # all 8 places are free again
        quotas.join_live_session(anon, f"after-{i}")


@pytest.mark.django_db
def test_queued_jobs_count_this_clients_unfinished_uploads(settings):
    settings.LIMIT_QUEUED_JOBS = 2
    for status in ("queued", "running", "done", "failed"):
        Translation.objects.create(source="upload", client=ANON.key, status=status)
    Translation.objects.create(source="live", client=ANON.key, status="queued")
    Translation.objects.create(source="upload", client=OTHER.key, status="queued")
    with pytest.raises(quotas.LimitExceeded) as refused:
        quotas.check_queued_jobs(ANON)
    assert refused.value.limit == "queued_jobs"
    assert refused.value.retry_after_s == quotas.QUEUED_RETRY_AFTER_S
    quotas.check_queued_jobs(OTHER)
    quotas.check_queued_jobs(USER)


def test_a_broken_cache_lets_requests_through(settings, monkeypatch, caplog):
    settings.LIMIT_AUDIO_S_PER_HOUR = 1
    settings.LIMIT_LIVE_SESSIONS = 1

    def down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    for name in ("add", "incr", "get", "set"):
        monkeypatch.setattr(quotas.cache, name, down)
    quotas.charge_audio(ANON, 100.0)
    quotas.join_live_session(ANON, "a")
    quotas.join_live_session(ANON, "b")
    assert "cache unavailable" in caplog.text
