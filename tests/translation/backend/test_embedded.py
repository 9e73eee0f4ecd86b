"""translation/backend/embedded.py: tasks on this process's worker threads, in order; finals
counted while they wait; the retention purge queued when due; this process the only worker."""

from __future__ import annotations

import asyncio
import threading

import pytest

from translation.backend import forget_backends, register_tasks, task_backend
from translation.backend.embedded import EmbeddedBackend
from translation.constants import CAPTION_TASK, PURGE_HISTORY_TASK, TRANSLATE_TASK
from translation.jobs import liveness


@pytest.fixture
def embedded(settings):
    settings.EMBEDDED = True
    settings.WORKER_CONCURRENCY = 1
    forget_backends()
    chosen = task_backend()
    assert isinstance(chosen, EmbeddedBackend)
    yield chosen
    forget_backends()


@pytest.fixture
def bodies():
    from workers.tasks import BODIES

    ran: list[tuple] = []
    gate = threading.Event()

    def translate(translation_id):
        gate.wait(5)
        ran.append(("translate", translation_id))

    register_tasks({TRANSLATE_TASK: translate, CAPTION_TASK: lambda r: ran.append(("caption", r))})
    register_tasks({PURGE_HISTORY_TASK: lambda: ran.append(("purge",))})
    yield ran, gate
    register_tasks(BODIES)  # the real ones back


def test_finals_run_in_order_and_are_counted_while_they_wait(embedded, bodies):
    ran, gate = bodies
    first, second = embedded.enqueue_translation("a"), embedded.enqueue_translation("b")
    assert embedded.finals_waiting() == 1  # "a" has started (waiting at the gate), "b" waits
    assert embedded.send_caption(b"\x00\x00", lambda audio: audio) == "finals waiting"
    gate.set()
    first.result(timeout=5), second.result(timeout=5)
    assert ran == [("translate", "a"), ("translate", "b")] and embedded.finals_waiting() == 0


def test_a_caption_goes_with_its_audio_inline(embedded, bodies):
    ran, _ = bodies
    assert embedded.send_caption(b"\x01\x00", lambda audio: audio) is None
    embedded.executor().submit(lambda: None).result(timeout=5)  # after what was queued
    [(kind, audio)] = ran
    assert (kind, audio.where, audio.take()) == ("caption", "inline", b"\x01\x00")


def test_the_purge_is_queued_every_interval(embedded, bodies, settings):
    ran, _ = bodies
    settings.RETENTION_INTERVAL_S = 3600
    assert not embedded.purge_if_due(0.0, 3599.0)
    assert embedded.purge_if_due(0.0, 3600.0)
    embedded.executor().submit(lambda: None).result(timeout=5)
    assert ran == [("purge",)]
    settings.RETENTION_INTERVAL_S = 0  # never
    assert not embedded.purge_if_due(0.0, 10**6)


def test_a_task_with_no_code_is_logged_not_raised(embedded, caplog):
    embedded.run("translation.nothing").result(timeout=5)
    assert "no code registered for the task 'translation.nothing'" in caplog.text


def test_this_process_is_the_only_worker(embedded):
    me = liveness.this_worker()
    assert liveness.live_worker_count() == 1
    assert liveness.live_workers([me, "gpu@elsewhere#1"]) == {me}
    assert liveness.calibrated_capacities() == {}
    liveness.publish_capacity(3.5)
    assert liveness.calibrated_capacities() == {me: 3.5}
    assert embedded.open_sessions_elsewhere("web", 4) == 0 and not embedded.loses_messages


async def test_the_server_loop_is_the_in_memory_layers_while_it_runs(embedded):
    assert embedded.server_loop() is None
    embedded.remember_server_loop(asyncio.get_running_loop())
    assert embedded.server_loop() is asyncio.get_running_loop()


def test_the_backend_is_chosen_again_when_the_settings_change(embedded, settings):
    settings.EMBEDDED = False
    assert task_backend().name == "celery"
    settings.EMBEDDED = True
    assert task_backend() is embedded  # one of each kind per process
