"""The sweeper thread's retention duty: embedded only (celery beat schedules it otherwise),
every RETENTION_INTERVAL_S (when it is due: tests/translation/backend/test_embedded.py), run as
the purge task on the embedded worker thread."""

import pytest

from tests.translation.history.test_retention import DAY, files_under, media, row_with_files
from translation.backend import task_backend
from translation.constants import PURGE_HISTORY_TASK
from translation.models import Translation

media = media  # the fixture


@pytest.mark.django_db(transaction=True)
def test_the_embedded_purge_task_enforces_the_policy(media):
    old, young = row_with_files(400 * DAY), row_with_files(DAY)
    task_backend().run(PURGE_HISTORY_TASK).result(timeout=30)
    assert list(Translation.objects.values_list("pk", flat=True)) == [young.pk]
    assert files_under(media) == {young.input_audio.name, young.output_audio.name}
    assert not Translation.objects.filter(pk=old.pk).exists()
