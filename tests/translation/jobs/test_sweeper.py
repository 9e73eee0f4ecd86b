"""The sweeper thread's retention duty: embedded only (celery beat schedules it otherwise),
every RETENTION_INTERVAL_S, run as the purge task on the embedded worker thread."""

import pytest

from tests.translation.history.test_retention import DAY, files_under, media, row_with_files
from translation.constants import PURGE_HISTORY_TASK
from translation.jobs import sweeper
from translation.messaging import dispatch
from translation.models import Translation

media = media  # the fixture


def test_retention_is_due_every_interval_embedded_only(settings):
    settings.RETENTION_INTERVAL_S = 3600
    settings.EMBEDDED = True
    assert not sweeper.retention_due(0.0, 3599.0)
    assert sweeper.retention_due(0.0, 3600.0)
    settings.EMBEDDED = False  # the real stack: the beat service's job
    assert not sweeper.retention_due(0.0, 10**6)
    settings.EMBEDDED, settings.RETENTION_INTERVAL_S = True, 0  # 0: never
    assert not sweeper.retention_due(0.0, 10**6)


@pytest.mark.django_db(transaction=True)
def test_the_embedded_purge_task_enforces_the_policy(media):
    old, young = row_with_files(400 * DAY), row_with_files(DAY)
    dispatch.run_embedded(PURGE_HISTORY_TASK).result(timeout=30)
    assert list(Translation.objects.values_list("pk", flat=True)) == [young.pk]
    assert files_under(media) == {young.input_audio.name, young.output_audio.name}
    assert not Translation.objects.filter(pk=old.pk).exists()
