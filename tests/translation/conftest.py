import pytest

from translation.jobs import recovery, submit


@pytest.fixture
def dispatched(monkeypatch) -> list[str]:
    """The ids handed to the queue (nothing really runs)."""
    queued: list[str] = []
    monkeypatch.setattr(submit, "enqueue_translation", queued.append)
    monkeypatch.setattr(recovery, "enqueue_translation", queued.append)
    return queued
