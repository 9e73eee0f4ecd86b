"""What both task backends share: the interface callers see (`TaskBackend`), where a caption's
audio is (`CaptionAudio`), the error of a liveness that cannot be read, and the task bodies
registered by name."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, Future
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from translation.backend.broker import broker_redis

TaskBody = Callable[..., None]


class LivenessUnknown(Exception):
    """The heartbeats cannot be read now (Redis unreachable): nobody is declared dead."""


class InlineAudio(BaseModel):
    """A partial's audio in the caption request itself (the embedded backend: same process)."""

    model_config = ConfigDict(frozen=True)
    where: Literal["inline"] = "inline"
    pcm: bytes  # int16, 16 kHz mono

    def take(self) -> bytes:
        return self.pcm


class StoredAudio(BaseModel):
    """A partial's audio in a short-lived Redis key (the Celery backend: the task goes as
    JSON); taken once."""

    model_config = ConfigDict(frozen=True)
    where: Literal["redis"] = "redis"
    key: str

    def take(self) -> bytes:
        return broker_redis().getdel(self.key) or b""


CaptionAudio = Annotated[InlineAudio | StoredAudio, Field(discriminator="where")]


class TaskBackend(Protocol):
    """What the web tier and the jobs need from whoever runs the tasks."""

    name: str
    loses_messages: bool
    """Can a task message be lost on its way (a broker restart, a worker that took it and
    died)? Then recovery re-sends what the database shows lost."""

    def enqueue_translation(self, translation_id: str) -> Future | None:
        """Queue the translation task of a committed history row."""
        ...

    def send_caption(self, pcm: bytes, request: Callable[[CaptionAudio], BaseModel]) -> str | None:
        """Queue a partial caption (its audio `pcm`, its request built around where the audio
        went). None when queued, else why it was skipped."""
        ...

    def finals_waiting(self) -> int:
        """Translations queued for a worker and not started (partials step aside for them)."""
        ...

    def purge_if_due(self, last: float, now: float) -> bool:
        """Queue the retention purge when the backend has no scheduler of its own to do it and
        one is due (monotonic seconds). True when queued."""
        ...

    def serial_executor(self) -> Executor | None:
        """Where work that must not race an in-process translation for the database runs
        (the embedded worker's threads); None when translations run elsewhere."""
        ...

    def warm_up(self, load: Callable[[], None]) -> None:
        """Load the models in the background at the web process's start when it runs the
        tasks itself (workers load on `worker_ready`)."""
        ...

    def remember_server_loop(self, loop: asyncio.AbstractEventLoop) -> None: ...

    def server_loop(self) -> asyncio.AbstractEventLoop | None:
        """The server's running loop when sync code must talk to the channel layer there (the
        in-memory layer), else None (a private loop per process serves Redis)."""
        ...

    def open_sessions_elsewhere(self, process: str, count: int) -> int:
        """Publish this web process's open live sessions; the other processes' total."""
        ...

    def publish_capacity(self, worker: str, rate: float) -> None:
        """A worker's calibrated rate, published with its heartbeat."""
        ...

    def calibrated_capacities(self) -> dict[str, float]:
        """{worker: calibrated rate} of the workers alive now (LivenessUnknown)."""
        ...

    def start_heartbeat(self, worker: str) -> threading.Thread | None: ...

    def stop_heartbeat(self, worker: str | None) -> None: ...

    def live_worker_count(self) -> int:
        """Worker processes alive now (LivenessUnknown)."""
        ...

    def live_workers(self, workers: Iterable[str], me: str) -> set[str]:
        """Those of `workers` alive now; `me` is this process's identity (LivenessUnknown)."""
        ...


_bodies: dict[str, TaskBody] = {}


def register_tasks(bodies: Mapping[str, TaskBody]) -> None:
    """The task code by name (the worker side, once, at Django start-up); the embedded backend
    runs these, Celery's declarations wrap them."""
    _bodies.update(bodies)


def task_body(name: str) -> TaskBody:
    body = _bodies.get(name)
    if body is None:
        raise LookupError(f"no code registered for the task {name!r}")
    return body
