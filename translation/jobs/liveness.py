"""Which translation workers are alive: a heartbeat per worker process.

Each worker process has an identity of its own, `<celery node name>#<boot id>` (a worker that is
restarted under the same node name, as compose does, is a new identity: the rows of the dead
one are not mistaken for its own). A daemon thread refreshes a Redis key per identity every
WORKER_HEARTBEAT_S with a time-to-live of WORKER_DEAD_AFTER_S; a key that has expired means the
process is gone (killed, its machine down, cut off from Redis). The start of a task records the
identity on the row (`Translation.worker`), so recovery (`recovery.recover_translations`) and
the start-of-task guard (`lifecycle.start_translation`) can ask whether a row's worker lives.

Embedded default (no Redis): the only worker is this process's own thread, alive exactly when
its identity is this process's.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable

from django.conf import settings

from translation.messaging.broker import broker_redis

logger = logging.getLogger(__name__)

KEY_PREFIX = "rutrans:worker-alive:"
# Made once per process at import; a prefork pool's children inherit their parent's, which is
# right: the parent beats for them and requeues a task whose child died.
BOOT_ID = uuid.uuid4().hex[:10]

_worker: str | None = None
_beating: threading.Thread | None = None
_stopped = threading.Event()  # set once: this process no longer works (stop_heartbeat)


class LivenessUnknown(Exception):
    """The heartbeats cannot be read now (Redis unreachable): nobody is declared dead."""


def this_worker(node: str | None = None) -> str:
    """This process's worker identity; `node` (the Celery node name) is given once, at start."""
    global _worker
    if _worker is None or node is not None:
        _worker = f"{node or 'embedded'}#{BOOT_ID}"[:200]
    return _worker


def beat(worker: str) -> None:
    """Say `worker` is alive for the next WORKER_DEAD_AFTER_S seconds (and, once calibrated,
    what it can carry: its capacity lives and dies with its heartbeat)."""
    ttl_ms = int(settings.WORKER_DEAD_AFTER_S * 1000)
    pipe = broker_redis().pipeline(transaction=False)
    pipe.set(KEY_PREFIX + worker, "1", px=ttl_ms)
    if _capacity is not None:
        pipe.set(CAPACITY_PREFIX + worker, f"{_capacity:.4f}", px=ttl_ms)
    pipe.execute()


CAPACITY_PREFIX = "rutrans:worker-capacity:"
_capacity: float | None = None


def publish_capacity(rate: float) -> None:
    """This worker's calibrated rate (audio seconds translated per second at a full batch,
    `workers/calibration.py`), published with its heartbeat for the web tier's admission."""
    global _capacity
    _capacity = rate
    if not settings.EMBEDDED:
        beat(this_worker())


def calibrated_capacities() -> dict[str, float]:
    """{worker: calibrated rate} of the workers alive now. Raises LivenessUnknown when Redis
    cannot be read."""
    if settings.EMBEDDED:
        return {this_worker(): _capacity} if _capacity is not None else {}
    try:
        client = broker_redis()
        keys = list(client.scan_iter(CAPACITY_PREFIX + "*", count=200))
        values = client.mget(keys) if keys else []
    except Exception as exc:  # redis-py's connection and timeout errors, whatever the version
        raise LivenessUnknown(f"{type(exc).__name__}: {exc}") from exc
    prefix = len(CAPACITY_PREFIX)
    return {
        key.decode()[prefix:]: float(value)
        for key, value in zip(keys, values, strict=True)
        if value is not None
    }


def start_heartbeat(node: str) -> threading.Thread | None:
    """Beat now (before the worker consumes its first task), then from a daemon thread."""
    global _beating
    if settings.EMBEDDED:
        return None
    worker = this_worker(node)
    beat(worker)
    if _beating is not None and _beating.is_alive():
        return _beating
    _beating = threading.Thread(
        target=_beat_forever, args=(worker,), name="rutrans-heartbeat", daemon=True
    )
    _beating.start()
    logger.info("worker %s: heartbeat every %.0f s", worker, settings.WORKER_HEARTBEAT_S)
    return _beating


def stop_heartbeat() -> None:
    """This worker process has stopped consuming for good: no more beats, and its key is
    removed when Redis answers (recovery takes its rows over at once, not after
    WORKER_DEAD_AFTER_S)."""
    _stopped.set()
    if settings.EMBEDDED or _worker is None:
        return
    try:
        broker_redis().delete(KEY_PREFIX + _worker, CAPACITY_PREFIX + _worker)
    except Exception as exc:  # noqa: BLE001 - Redis away: the key's TTL ends it
        logger.info("worker %s: heartbeat left to expire: %s", _worker, type(exc).__name__)


def _beat_forever(worker: str) -> None:
    while not _stopped.wait(settings.WORKER_HEARTBEAT_S):
        try:
            beat(worker)
        except Exception as exc:  # noqa: BLE001 - Redis down: keep trying; the TTL tells others
            logger.warning("worker %s: heartbeat failed: %s: %s", worker, type(exc).__name__, exc)


def live_worker_count() -> int:
    """How many worker processes beat now (each consumes the `gpu` queue while it does: one
    whose consumer stops exits, `workers/worker_process.py`). Embedded: 1, this process's
    thread. Raises LivenessUnknown when Redis cannot be read."""
    if settings.EMBEDDED:
        return 1
    try:
        return sum(1 for _ in broker_redis().scan_iter(KEY_PREFIX + "*", count=200))
    except Exception as exc:  # redis-py's connection and timeout errors, whatever the version
        raise LivenessUnknown(f"{type(exc).__name__}: {exc}") from exc


def live_workers(workers: Iterable[str]) -> set[str]:
    """Those of `workers` that are alive now. Raises LivenessUnknown when that cannot be told."""
    names = sorted({w for w in workers if w})
    if not names:
        return set()
    if settings.EMBEDDED:
        return {w for w in names if w == this_worker()}
    try:
        found = broker_redis().mget([KEY_PREFIX + w for w in names])
    except Exception as exc:  # redis-py's connection and timeout errors, whatever the version
        raise LivenessUnknown(f"{type(exc).__name__}: {exc}") from exc
    return {w for w, value in zip(names, found, strict=True) if value is not None}
