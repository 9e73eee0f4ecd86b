"""`manage.py purge_history`: by age or by the settings' policy, dry or not, orphans listed."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.translation.history.test_retention import (
    DAY,
    files_under,
    make_old,
    media,
    row_with_files,
)
from translation.history import retention
from translation.management.commands.purge_history import parse_age
from translation.models import Translation

pytestmark = pytest.mark.django_db
media = media  # the fixture


def purge(*args) -> str:
    out = StringIO()
    call_command("purge_history", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("text", "seconds"), [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("1.5d", 129600)]
)
def test_ages(text, seconds):
    assert parse_age(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["30", "d", "30 days", "-3d", ""])
def test_a_bad_age_names_the_format(text):
    with pytest.raises(CommandError, match="e.g. 30d, 12h, 90m"):
        parse_age(text)


def test_dry_run_lists_and_keeps_everything(media):
    old = row_with_files(31 * DAY)
    stray = media / "outputs" / "stray.wav"
    stray.write_bytes(b"RIFF")
    make_old(stray, retention.ORPHAN_GRACE_S + 1)
    before = files_under(media)
    output = purge("--older-than", "30d", "--dry-run")
    assert "orphan file (no row names it): outputs/stray.wav" in output
    assert f"would delete {old.input_audio.name}" in output
    assert output.rstrip().endswith(
        "dry run: would delete 1 rows, the recordings of 0 more rows, 2 files; orphans: "
        "1 files without a row, 0 rows naming a missing file"
    )
    assert files_under(media) == before and Translation.objects.count() == 1


def test_older_than_deletes_rows_and_files_or_only_audio(media):
    old, young = row_with_files(31 * DAY), row_with_files(29 * DAY)
    output = purge("--older-than", "30d", "--audio-only")
    assert "deleted 0 rows, the recordings of 1 more rows, 2 files" in output
    assert Translation.objects.count() == 2
    purge("--older-than", "30d")
    assert list(Translation.objects.values_list("pk", flat=True)) == [young.pk]
    assert files_under(media) == {young.input_audio.name, young.output_audio.name}
    assert not Translation.objects.filter(pk=old.pk).exists()


def test_without_an_age_the_settings_policy_applies(media):
    row_with_files(400 * DAY)
    output = purge()
    assert output.startswith("policy: recordings are kept 30 days, texts 365 days")
    assert "deleted 1 rows" in output and Translation.objects.count() == 0
