"""Silero TTS through the production loader with tiny torch.package models."""

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from tests.models_fixtures import TINY_TTS_SECONDS_PER_CHAR
from translation.constants import SILERO_VOICES
from workers.engines.base import EngineError, EngineUnavailable, SpeechSynthesizer
from workers.engines.silero import PAUSE_S, SILERO_MODELS, SileroSynthesizer, check_voices
from workers.engines.textnorm import normalize_for_speech, split_sentences

pytestmark = pytest.mark.models


def expected_samples(text: str, lang: str, rate: int) -> int:
    chunks = split_sentences(normalize_for_speech(text, lang), 500)
    speech = sum(round(len(c) * TINY_TTS_SECONDS_PER_CHAR * rate) for c in chunks)
    return speech + (len(chunks) - 1) * int(PAUSE_S * rate)


def test_russian_text_with_digits_and_latin_is_spoken(synthesizer):
    text = "В 2024 году 15% из 300 человек купили iPhone 15."
    speech = synthesizer.synthesize(text, lang="ru")
    assert isinstance(synthesizer, SpeechSynthesizer)
    assert speech.sample_rate == 24000
    assert speech.audio.dtype == np.float32 and speech.audio.ndim == 1
    assert len(speech.audio) == expected_samples(text, "ru", 24000)
    assert np.abs(speech.audio).max() <= 1.0
    assert speech.meta["chunks"] == 1 and speech.meta["tts_ms"] >= 0


def test_long_text_is_chunked_and_joined_with_pauses(synthesizer):
    text = " ".join(f"This is sentence number {i} of a long answer." for i in range(40))
    speech = synthesizer.synthesize(text, lang="en", voice="en_42")
    chunks = split_sentences(normalize_for_speech(text, "en"), 500)
    assert len(chunks) > 1 and all(len(chunk) <= 500 for chunk in chunks)
    assert speech.meta["chunks"] == len(chunks)
    assert len(speech.audio) == expected_samples(text, "en", 24000)


@pytest.mark.parametrize("rate", [8000, 48000])
def test_sample_rates(model_settings, rate):
    settings = SimpleNamespace(**{**vars(model_settings), "TTS_SAMPLE_RATE": rate})
    speech = SileroSynthesizer.from_settings(settings).synthesize("Привет, мир!", lang="ru")
    assert speech.sample_rate == rate
    assert len(speech.audio) == expected_samples("Привет, мир!", "ru", rate)


def test_unsupported_sample_rate_is_refused(model_settings):
    settings = SimpleNamespace(**{**vars(model_settings), "TTS_SAMPLE_RATE": 16000})
    with pytest.raises(EngineUnavailable, match="8000, 24000, 48000"):
        SileroSynthesizer.from_settings(settings)


def test_voices(synthesizer):
    for voice in SILERO_VOICES["ru"]:
        assert len(synthesizer.synthesize("Да.", lang="ru", voice=voice).audio) > 0
    with pytest.raises(EngineError, match="aidar, baya, kseniya, xenia, eugene"):
        synthesizer.synthesize("Да.", lang="ru", voice="en_1")
    with pytest.raises(EngineError, match="en_0 … en_117"):
        synthesizer.synthesize("Yes.", lang="en", voice="baya")
    with pytest.raises(EngineError, match="nothing to speak"):
        synthesizer.synthesize(" ... ", lang="en")


def test_bad_default_voice_is_a_configuration_error(model_settings):
    settings = SimpleNamespace(**{**vars(model_settings), "TTS_VOICE_RU": "natasha"})
    with pytest.raises(EngineUnavailable, match="TTS_VOICE_RU"):
        SileroSynthesizer.from_settings(settings)


def test_missing_package_file(tmp_path):
    synthesizer = SileroSynthesizer(tmp_path, sample_rate=24000)
    synthesizer.preload()  # logs, does not fail: the text can still be returned
    with pytest.raises(EngineUnavailable, match="python manage.py fetch_models"):
        synthesizer.synthesize("Привет.", lang="ru")


def test_corrupt_package_file(tmp_path):
    (tmp_path / "v3_en.pt").write_bytes(b"garbage")
    with pytest.raises(EngineUnavailable, match="delete the file"):
        SileroSynthesizer(tmp_path).synthesize("Hello.", lang="en")


def test_package_loads_without_the_tests_on_the_path(tiny_model_env, tmp_path):
    path = f"{tiny_model_env['SILERO_CACHE_DIR']}/{SILERO_MODELS['en'].filename}"
    code = (
        "import sys, torch.package;"
        f"m = torch.package.PackageImporter({path!r})"
        ".load_pickle('tts_models', 'model');"
        "a = m.apply_tts(text='hello', speaker='en_3', sample_rate=8000);"
        "assert not any(k.startswith('tests') for k in sys.modules);"
        "print(a.shape[0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == str(round(5 * TINY_TTS_SECONDS_PER_CHAR * 8000))


def test_v5_russian_gets_stress_and_yo_flags_and_v3_english_its_own(tmp_path):
    from tests.models_fixtures import build_recording_silero

    for lang in ("ru", "en"):
        build_recording_silero(tmp_path, lang)
    synthesizer = SileroSynthesizer(tmp_path, sample_rate=24000, device="cpu")

    russian = synthesizer.synthesize("Всё хорошо.", lang="ru", voice="xenia")
    english = synthesizer.synthesize("All is well.", lang="en")

    [ru_call] = synthesizer._model("ru").calls
    assert ru_call == {
        "text": ru_call["text"],
        "speaker": "xenia",
        "sample_rate": 24000,
        "put_accent": True,
        "put_yo": True,
        "put_stress_homo": True,
        "put_yo_homo": True,
    }
    [en_call] = synthesizer._model("en").calls
    assert set(en_call) == {"text", "speaker", "sample_rate", "put_accent", "put_yo"}
    # numpy float64 output converted through torch.as_tensor
    assert russian.audio.dtype == np.float32 and english.audio.dtype == np.float32
    assert len(english.audio) == int(len(en_call["text"]) * 0.01 * 24000)


def test_the_installed_voices_are_checked_against_the_offered_ones(synthesizer, caplog):
    """At load, each package's speakers are compared with translation.constants.SILERO_VOICES (the
    list the UI and the API offer); the tiny packages carry Silero's real lists."""
    with caplog.at_level("ERROR", logger="workers.engines.silero"):
        for lang in ("ru", "en"):
            synthesizer.synthesize("Да." if lang == "ru" else "Yes.", lang=lang)
    assert "mismatch" not in caplog.text
    assert check_voices("ru", [*SILERO_VOICES["ru"], "random"], "v5_ru.pt") == []
    problems = check_voices("ru", ["aidar", "baya", "natasha"], "v5_ru.pt")
    assert problems == [
        "v5_ru.pt lacks the ru voices eugene, kseniya, xenia that are offered",
        "v5_ru.pt has ru voices not offered: natasha",
    ]
