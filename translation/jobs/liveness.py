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
import re
import threading
import uuid
from collections.abc import Iterable

from django.conf import settings

from translation.constants import FINALS_QUEUE
from translation.messaging.broker import broker_redis

logger = logging.getLogger(__name__)

KEY_PREFIX = "rutrans:worker-alive:"
# Made once per process at import; a prefork pool's children inherit their parent's, which is
# right: the parent beats for them and requeues a task whose child died.
BOOT_ID = uuid.uuid4().hex[:10]

_worker: str | None = None
_beating: threading.Thread | None = None


class LivenessUnknown(Exception):
    """The heartbeats cannot be read now (Redis unreachable): nobody is declared dead."""


def this_worker(node: str | None = None) -> str:
    """This process's worker identity; `node` (the Celery node name) is given once, at start."""
    global _worker
    if _worker is None or node is not None:
        _worker = f"{node or 'embedded'}#{BOOT_ID}"[:200]
    return _worker


def beat(worker: str) -> None:
    """Say `worker` is alive for the next WORKER_DEAD_AFTER_S seconds."""
    ttl_ms = int(settings.WORKER_DEAD_AFTER_S * 1000)
    broker_redis().set(KEY_PREFIX + worker, "1", px=ttl_ms)


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


def _beat_forever(worker: str) -> None:
    stop = threading.Event()  # never set: the thread ends with the process
    while not stop.wait(settings.WORKER_HEARTBEAT_S):
        try:
            beat(worker)
        except Exception as exc:  # noqa: BLE001 - Redis down: keep trying; the TTL tells others
            logger.warning("worker %s: heartbeat failed: %s: %s", worker, type(exc).__name__, exc)


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


_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def waiting_translations() -> set[str]:
    """Ids of the translations whose task message waits in the broker's queue, not yet taken
    by any worker (kombu's Redis transport keeps them in a list per queue and priority; the
    message's headers name the task's arguments). Raises LivenessUnknown when that cannot be
    told: in the embedded default (no broker), or with Redis unreachable."""
    if settings.EMBEDDED:
        raise LivenessUnknown("no broker: the embedded worker's queue is in-process")
    keys = [
        FINALS_QUEUE,
        *(f"{FINALS_QUEUE}\x06\x16{priority}" for priority in range(1, 10)),
    ]
    try:
        pipe = broker_redis().pipeline(transaction=False)
        for key in keys:
            pipe.lrange(key, 0, -1)
        lists = pipe.execute()
    except Exception as exc:  # redis-py's connection and timeout errors, whatever the version
        raise LivenessUnknown(f"{type(exc).__name__}: {exc}") from exc
    return {
        found.decode() for messages in lists for raw in messages for found in _UUID.findall(raw)
    }
