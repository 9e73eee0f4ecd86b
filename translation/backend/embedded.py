"""The embedded backend (no REDIS_URL): one process runs everything.

The task bodies registered by the worker side run on in-process worker threads
(WORKER_CONCURRENCY of them, like Celery's `--pool threads`), off the event loop, in the order
they were queued; their model work meets in the one batcher thread (`workers/batcher.py`). The
only worker is this process's own, alive exactly as long as the process; nothing is lost on the
way (the queue is in memory), and with no celery beat the sweeper queues the retention purge.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.conf import settings
from pydantic import BaseModel

from translation.backend.base import CaptionAudio, InlineAudio, task_body
from translation.constants import CAPTION_TASK, PURGE_HISTORY_TASK, TRANSLATE_TASK

logger = logging.getLogger(__name__)


class EmbeddedBackend:
    """Tasks on this process's worker threads; this process is the only worker."""

    name = "embedded"
    loses_messages = False

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._finals_waiting = 0  # submitted to the worker threads, not yet started
        self._capacity: dict[str, float] = {}
        self._server_loop: asyncio.AbstractEventLoop | None = None

    # --- tasks ------------------------------------------------------------------------------

    def run(self, name: str, *args: Any) -> Future:
        """Run the task `name` on the worker threads, after what is queued there."""
        return self.executor().submit(self._run, name, args)

    def enqueue_translation(self, translation_id: str) -> Future:
        self._count_final(+1)
        return self.run(TRANSLATE_TASK, str(translation_id))

    def send_caption(self, pcm: bytes, request: Callable[[CaptionAudio], BaseModel]) -> str | None:
        if self._finals_waiting:
            return "finals waiting"
        self.run(CAPTION_TASK, request(InlineAudio(pcm=pcm)))
        return None

    def finals_waiting(self) -> int:
        return self._finals_waiting

    def purge_if_due(self, last: float, now: float) -> bool:
        every = float(settings.RETENTION_INTERVAL_S)
        if every <= 0 or now - last < every:
            return False
        self.run(PURGE_HISTORY_TASK)
        return True

    def serial_executor(self) -> ThreadPoolExecutor:
        return self.executor()

    def warm_up(self, load: Callable[[], None]) -> None:
        self.executor().submit(load)  # the first utterance queues behind the load

    def executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=max(1, settings.WORKER_CONCURRENCY),
                    thread_name_prefix="rutrans-worker",
                )
            return self._executor

    def _run(self, name: str, args: tuple[Any, ...]) -> None:
        from django.db import close_old_connections

        if name == TRANSLATE_TASK:
            self._count_final(-1)
        close_old_connections()
        try:
            task_body(name)(*args)
        except Exception:
            logger.exception("embedded task %s%r failed", name, args[:1])
        finally:
            close_old_connections()

    def _count_final(self, delta: int) -> None:
        with self._lock:
            self._finals_waiting += delta

    # --- the channel layer ------------------------------------------------------------------

    def remember_server_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self._server_loop = loop  # the in-memory channel layer may only be used from it

    def server_loop(self) -> asyncio.AbstractEventLoop | None:
        loop = self._server_loop
        return loop if loop is not None and loop.is_running() else None

    def open_sessions_elsewhere(self, process: str, count: int) -> int:
        return 0  # one process

    # --- the one worker: this process -------------------------------------------------------

    def publish_capacity(self, worker: str, rate: float) -> None:
        self._capacity = {worker: rate}

    def calibrated_capacities(self) -> dict[str, float]:
        return dict(self._capacity)

    def start_heartbeat(self, worker: str) -> None:
        return None

    def stop_heartbeat(self, worker: str | None) -> None:
        return None

    def live_worker_count(self) -> int:
        return 1

    def live_workers(self, workers: Iterable[str], me: str) -> set[str]:
        return {w for w in workers if w == me}
