"""What the job tests share: an outage flag of each test's own."""

from __future__ import annotations

import pytest

from translation.jobs import lifecycle


class QuietWatch(lifecycle.DatabaseWatch):
    """This test's own outage flag: no thread of its own tries the database."""

    def _wait_for_it(self) -> None:
        pass


@pytest.fixture(autouse=True)
def database_watch(monkeypatch) -> lifecycle.DatabaseWatch:
    watch = QuietWatch()
    monkeypatch.setattr(lifecycle, "database", watch)
    return watch
