import pytest

from translation import services


@pytest.fixture
def dispatched(monkeypatch) -> list[str]:
    """The ids handed to the queue (nothing really runs)."""
    queued: list[str] = []
    monkeypatch.setattr(services, "enqueue_translation", queued.append)
    return queued
