"""`manage.py doctor` (workers.diagnostics) with the tiny real-format models, offline."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.workers.engines import conftest as engine_fixtures

pytestmark = pytest.mark.models

tiny_model_env = engine_fixtures.tiny_model_env


@pytest.fixture
def model_settings(settings, tiny_model_env):
    """The production settings as the worker reads them with the tiny models' environment."""
    from workers import runtime

    settings.RUTRANS_TRANSLATOR = "workers.engines.canary.CanaryTranslator"
    settings.RUTRANS_SYNTHESIZER = "workers.engines.silero.SileroSynthesizer"
    settings.RUTRANS_LANGUAGE_IDENTIFIER = "workers.engines.langid.AmberNetIdentifier"
    settings.CANARY_MODEL = tiny_model_env["CANARY_MODEL"]
    settings.LID_MODEL = tiny_model_env["LID_MODEL"]
    settings.MODEL_DEVICE = "cpu"
    settings.SILERO_CACHE_DIR = Path(tiny_model_env["SILERO_CACHE_DIR"])
    runtime.reset()
    yield settings
    runtime.reset()


def doctor(*args) -> str:
    out = StringIO()
    call_command("doctor", *args, stdout=out)
    return out.getvalue()


def test_all_checks_pass_with_every_model_in_place(model_settings):
    output = doctor()
    lines = output.splitlines()
    assert [line for line in lines if not line.startswith(" ")] == [
        "Device",
        "Model files",
        "Storage",
        "Loading (as the worker does)",
        "Round trip",
        "All checks passed.",
    ]
    assert "  ok   device               cpu (MODEL_DEVICE=cpu), fp32" in lines
    assert (
        "canary-1b-v2.nemo (" in output and "v5_ru.pt (" in output and "ambernet.nemo (" in output
    )
    for role in ("translator", "identifier", "synthesizer"):
        assert any(line.startswith(f"  ok   load {role}") and " ms" in line for line in lines)
    [trip] = [line for line in lines if line.startswith("  ok   round trip")]
    assert "1 s of audio" in trip and "lid " in trip and "canary " in trip and "silero " in trip


def test_a_missing_model_file_is_a_failure_naming_the_fetch_command(model_settings, tmp_path):
    model_settings.SILERO_CACHE_DIR = tmp_path / "no-voices"
    with pytest.raises(CommandError) as caught:
        doctor("--no-load")
    message = str(caught.value)
    assert message.startswith("2 problem(s): Silero ru: run `python manage.py fetch_models")
    assert "Silero en" in message


def test_cuda_asked_for_but_absent_is_a_failure(model_settings):
    model_settings.MODEL_DEVICE = "cuda"
    with pytest.raises(CommandError, match="CUDA is not available here: set MODEL_DEVICE=cpu"):
        doctor("--no-load")


def test_storage_reports_free_space_and_the_media_folders_size(settings, tmp_path):
    from workers import diagnostics

    settings.MEDIA_ROOT = tmp_path / "media"
    (tmp_path / "media" / "inputs").mkdir(parents=True)
    (tmp_path / "media" / "inputs" / "a.wav").write_bytes(b"x" * 3 * 2**20)
    (tmp_path / "media" / "b.wav").write_bytes(b"x" * 2**20)
    settings.MEDIA_MIN_FREE_MB = 1
    [check] = diagnostics.storage_checks(settings)
    assert check.ok and check.label == "media folder"
    assert check.found.startswith(f"{tmp_path / 'media'}: 4.0 MiB in 2 files; ")
    assert "GiB free (minimum MEDIA_MIN_FREE_MB=1)" in check.found
    settings.MEDIA_MIN_FREE_MB = 2**40
    [low] = diagnostics.storage_checks(settings)
    assert not low.ok and "uploads and live utterances are refused" in low.problem
    assert "purge_history" in low.problem
