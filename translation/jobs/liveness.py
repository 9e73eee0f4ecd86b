"""Which translation workers are alive: a worker process's identity, and the questions the jobs
ask about the workers (answered by the task backend, `translation.backend`).

Each worker process has an identity of its own, `<celery node name>#<boot id>` (a worker that is
restarted under the same node name, as compose does, is a new identity: the rows of the dead
one are not mistaken for its own). The start of a task records the identity on the row
(`Translation.worker`), so recovery (`recovery.recover_translations`) and the start-of-task
guard (`lifecycle.start_translation`) can ask whether a row's worker lives. The Celery backend
answers from a heartbeat per worker process in Redis (`translation/backend/celery_backend.py`);
the embedded one knows one worker, this process's own thread, alive exactly when its identity
is this process's.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable

from translation.backend import LivenessUnknown, task_backend

__all__ = ["LivenessUnknown"]  # the jobs' name for it; raised by the backend

# Made once per process at import; a prefork pool's children inherit their parent's, which is
# right: the parent beats for them and requeues a task whose child died.
BOOT_ID = uuid.uuid4().hex[:10]

_worker: str | None = None


def this_worker(node: str | None = None) -> str:
    """This process's worker identity; `node` (the Celery node name) is given once, at start."""
    global _worker
    if _worker is None or node is not None:
        _worker = f"{node or 'embedded'}#{BOOT_ID}"[:200]
    return _worker


def publish_capacity(rate: float) -> None:
    """This worker's calibrated rate (audio seconds translated per second at a full batch,
    `workers/calibration.py`), published with its heartbeat for the web tier's admission."""
    task_backend().publish_capacity(this_worker(), rate)


def calibrated_capacities() -> dict[str, float]:
    """{worker: calibrated rate} of the workers alive now. Raises LivenessUnknown when that
    cannot be read."""
    return task_backend().calibrated_capacities()


def start_heartbeat(node: str) -> threading.Thread | None:
    """Say this worker process is alive, now and from then on (before it consumes a task)."""
    return task_backend().start_heartbeat(this_worker(node))


def stop_heartbeat() -> None:
    """This worker process has stopped consuming for good: no more beats, and others are told
    at once."""
    task_backend().stop_heartbeat(_worker)


def live_worker_count() -> int:
    """How many worker processes are alive now (each consumes the `gpu` queue while it does:
    one whose consumer stops exits, `workers/worker_process.py`). Embedded: 1, this process's
    thread. Raises LivenessUnknown when that cannot be told."""
    return task_backend().live_worker_count()


def live_workers(workers: Iterable[str]) -> set[str]:
    """Those of `workers` that are alive now. Raises LivenessUnknown when that cannot be told."""
    names = {w for w in workers if w}
    if not names:
        return set()
    return task_backend().live_workers(names, this_worker())
