"""The Celery backend (REDIS_URL set): tasks go by name over the broker to worker processes.

The web tier sends by task *name* through the current Celery app (`rutrans_site.celery`), so
it never imports the model code. Partials travel apart from finals: the caption task on its own
queue `captions` with a Celery `expires` of CAPTION_EXPIRES_S, its audio in a Redis key that
expires shortly after (nothing piles up when no worker consumes the queue), nothing sent while
finals wait in the `gpu` queue or while MAX_QUEUED partials already do.

Workers are known by their heartbeats: a daemon thread per worker process refreshes a Redis key
per identity every WORKER_HEARTBEAT_S with a time-to-live of WORKER_DEAD_AFTER_S (and, once
calibrated, its capacity beside it); a key that has expired means the process is gone. Each
web process publishes its open live sessions the same way, with a short TTL.
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Executor

from celery import current_app
from django.conf import settings
from pydantic import BaseModel

from translation.backend.base import CaptionAudio, LivenessUnknown, StoredAudio
from translation.backend.broker import broker_redis
from translation.constants import CAPTION_TASK, CAPTIONS_QUEUE, FINALS_QUEUE, TRANSLATE_TASK

logger = logging.getLogger(__name__)

MAX_QUEUED = 4
"""More partials than this waiting in the `captions` queue: the workers are behind; skip."""
AUDIO_KEY_PREFIX = "rutrans:caption-audio:"
AUDIO_KEY_SLACK_S = 3
"""The audio key outlives the task's expiry by this much (clock skew between hosts)."""
KEY_PREFIX = "rutrans:worker-alive:"
CAPACITY_PREFIX = "rutrans:worker-capacity:"
OPEN_SESSIONS_KEY = "rutrans:open-sessions:"
OPEN_SESSIONS_TTL_S = 5


class CeleryBackend:
    """Tasks over the broker; workers are the processes whose heartbeats Redis holds."""

    name = "celery"
    loses_messages = True  # a broker restart, a worker that took a message and died

    def __init__(self) -> None:
        self._capacity: float | None = None
        self._beating: threading.Thread | None = None
        self._stopped = threading.Event()  # set once: this process no longer works

    # --- tasks ------------------------------------------------------------------------------

    def enqueue_translation(self, translation_id: str) -> None:
        current_app.send_task(TRANSLATE_TASK, args=[str(translation_id)], queue=FINALS_QUEUE)

    def send_caption(self, pcm: bytes, request: Callable[[CaptionAudio], BaseModel]) -> str | None:
        client = broker_redis()
        with client.pipeline(transaction=False) as pipe:
            pipe.llen(FINALS_QUEUE)
            pipe.llen(CAPTIONS_QUEUE)
            finals, partials = pipe.execute()
        if finals:
            return "finals waiting"
        if partials >= MAX_QUEUED:
            return "captions queue full"
        key = AUDIO_KEY_PREFIX + uuid.uuid4().hex
        client.set(key, pcm, ex=math.ceil(settings.CAPTION_EXPIRES_S) + AUDIO_KEY_SLACK_S)
        current_app.send_task(
            CAPTION_TASK,
            args=[request(StoredAudio(key=key)).model_dump(mode="json")],
            queue=CAPTIONS_QUEUE,
            expires=settings.CAPTION_EXPIRES_S,
        )
        return None

    def finals_waiting(self) -> int:
        return int(broker_redis().llen(FINALS_QUEUE))

    def purge_if_due(self, last: float, now: float) -> bool:
        return False  # celery beat schedules it (CELERY_BEAT_SCHEDULE)

    def serial_executor(self) -> Executor | None:
        return None

    def warm_up(self, load: Callable[[], None]) -> None:
        return None  # the workers load on `worker_ready` (workers/worker_process.py)

    # --- the channel layer ------------------------------------------------------------------

    def remember_server_loop(self, loop: object) -> None:
        return None  # the Redis layer is reached from a private loop per process

    def server_loop(self) -> None:
        return None

    def open_sessions_elsewhere(self, process: str, count: int) -> int:
        client = broker_redis()
        client.set(OPEN_SESSIONS_KEY + process, count, ex=OPEN_SESSIONS_TTL_S)
        mine = (OPEN_SESSIONS_KEY + process).encode()
        others = [k for k in client.scan_iter(OPEN_SESSIONS_KEY + "*", count=100) if k != mine]
        values = client.mget(others) if others else []
        return sum(int(value) for value in values if value is not None)

    # --- the workers' heartbeats ------------------------------------------------------------

    def beat(self, worker: str) -> None:
        """Say `worker` is alive for the next WORKER_DEAD_AFTER_S seconds (and, once calibrated,
        what it can carry: its capacity lives and dies with its heartbeat)."""
        ttl_ms = int(settings.WORKER_DEAD_AFTER_S * 1000)
        pipe = broker_redis().pipeline(transaction=False)
        pipe.set(KEY_PREFIX + worker, "1", px=ttl_ms)
        if self._capacity is not None:
            pipe.set(CAPACITY_PREFIX + worker, f"{self._capacity:.4f}", px=ttl_ms)
        pipe.execute()

    def publish_capacity(self, worker: str, rate: float) -> None:
        self._capacity = rate
        self.beat(worker)

    def calibrated_capacities(self) -> dict[str, float]:
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

    def start_heartbeat(self, worker: str) -> threading.Thread:
        """Beat now (before the worker consumes its first task), then from a daemon thread."""
        self.beat(worker)
        if self._beating is not None and self._beating.is_alive():
            return self._beating
        self._beating = threading.Thread(
            target=self._beat_forever, args=(worker,), name="rutrans-heartbeat", daemon=True
        )
        self._beating.start()
        logger.info("worker %s: heartbeat every %.0f s", worker, settings.WORKER_HEARTBEAT_S)
        return self._beating

    def stop_heartbeat(self, worker: str | None) -> None:
        """No more beats; the key goes when Redis answers (recovery takes the worker's rows
        over at once, not after WORKER_DEAD_AFTER_S)."""
        self._stopped.set()
        if worker is None:
            return
        try:
            broker_redis().delete(KEY_PREFIX + worker, CAPACITY_PREFIX + worker)
        except Exception as exc:  # noqa: BLE001 - Redis away: the key's TTL ends it
            logger.info("worker %s: heartbeat left to expire: %s", worker, type(exc).__name__)

    def _beat_forever(self, worker: str) -> None:
        while not self._stopped.wait(settings.WORKER_HEARTBEAT_S):
            try:
                self.beat(worker)
            except Exception as exc:  # noqa: BLE001 - Redis down: keep trying; the TTL tells
                logger.warning(
                    "worker %s: heartbeat failed: %s: %s", worker, type(exc).__name__, exc
                )

    def live_worker_count(self) -> int:
        try:
            return sum(1 for _ in broker_redis().scan_iter(KEY_PREFIX + "*", count=200))
        except Exception as exc:  # redis-py's connection and timeout errors, whatever the version
            raise LivenessUnknown(f"{type(exc).__name__}: {exc}") from exc

    def live_workers(self, workers: Iterable[str], me: str) -> set[str]:
        names = sorted(set(workers))
        try:
            found = broker_redis().mget([KEY_PREFIX + w for w in names])
        except Exception as exc:  # redis-py's connection and timeout errors, whatever the version
            raise LivenessUnknown(f"{type(exc).__name__}: {exc}") from exc
        return {w for w, value in zip(names, found, strict=True) if value is not None}
