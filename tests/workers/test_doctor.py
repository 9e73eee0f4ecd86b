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
    settings.PIPER_VOICES_DIR = Path(tiny_model_env["PIPER_VOICES_DIR"])
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
    assert "1 s of audio" in trip and "lid " in trip and "canary " in trip and "tts " in trip


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


DENIS = "piper:ru_RU-denis-medium"


@pytest.fixture
def piper_settings(model_settings, monkeypatch):
    """The voice router with a Piper default voice; the tiny voices' size and MD5 stand in
    for the published ones."""
    from workers.engines import piper
    from workers.models_fetch import file_md5

    for key in piper.PIPER_VOICE_FILES:
        model = Path(model_settings.PIPER_VOICES_DIR) / f"{key}.onnx"
        monkeypatch.setitem(
            piper.PIPER_VOICE_FILES,
            key,
            piper.PiperVoiceFiles(key, model.stat().st_size, file_md5(model)),
        )
    model_settings.RUTRANS_SYNTHESIZER = "workers.engines.voices.VoiceRouter"
    model_settings.TTS_VOICE_RU = DENIS
    return model_settings


def test_piper_voices_are_checked_with_the_licence_their_card_states(piper_settings):
    output = doctor()
    lines = output.splitlines()
    assert output.rstrip().endswith("All checks passed.")
    [denis] = [line for line in lines if line.startswith("  ok   Piper ru_RU-denis")]
    assert "ru_RU-denis-medium.onnx (" in denis and "licence per MODEL_CARD: none" in denis
    assert sum(line.startswith("  ok   Piper ") for line in lines) == 8  # all tiny voices fetched
    assert any(
        line.startswith("  ok   onnxruntime") and "CPUExecutionProvider" in line for line in lines
    )
    assert any(
        line.startswith("  ok   load synthesizer") and "VoiceRouter" in line for line in lines
    )


def test_a_missing_default_piper_voice_names_the_fetch_command(piper_settings, tmp_path):
    piper_settings.PIPER_VOICES_DIR = tmp_path / "no-voices"
    with pytest.raises(CommandError) as caught:
        doctor("--no-load")
    assert str(caught.value) == (
        "1 problem(s): Piper ru_RU-denis: run `python manage.py fetch_models --only piper "
        f"--piper-voices {DENIS}` with internet access"
    )


def test_a_piper_voice_that_is_not_the_published_file_is_a_failure(piper_settings, monkeypatch):
    from workers.engines import piper

    key = "ru_RU-denis-medium"
    published = piper.PIPER_VOICE_FILES[key]
    monkeypatch.setitem(
        piper.PIPER_VOICE_FILES, key, piper.PiperVoiceFiles(key, published.onnx_bytes, "0" * 32)
    )
    with pytest.raises(CommandError, match=f"Piper ru_RU-denis: .*has MD5 {published.onnx_md5}"):
        doctor("--no-load")


def test_silero_is_not_needed_when_no_default_voice_is_silero(piper_settings, tmp_path):
    piper_settings.TTS_VOICE_EN = "piper:en_US-lessac-medium"
    piper_settings.SILERO_CACHE_DIR = tmp_path / "no-silero"
    output = doctor("--no-load")
    assert "not needed by the default piper:ru_RU-denis-medium" in output
    assert output.rstrip().endswith("All checks passed.")


def test_without_the_language_id_model_the_round_trip_still_runs_a_fixed_direction(
    model_settings, tmp_path
):
    """Only the language-ID model missing: doctor reports it, and still proves that a session
    with a direction set works (the round trip runs en->ru without LID)."""
    model_settings.LID_MODEL = str(tmp_path / "absent-ambernet.nemo")
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("doctor", stdout=out)
    lines = out.getvalue().splitlines()
    assert any(line.startswith("  FAIL load identifier") for line in lines)
    [trip] = [line for line in lines if "round trip" in line]
    assert trip.startswith("  ok   round trip"), trip
    assert "en->ru (fixed: no language ID)" in trip and "lid " not in trip
    assert "canary " in trip and "tts " in trip
    assert "round trip" not in str(caught.value)


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
