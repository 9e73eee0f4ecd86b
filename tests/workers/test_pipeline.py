"""The utterance pipeline with the real engines on tiny real-format models."""

import numpy as np
import pytest

from tests.workers.engines import conftest as engine_fixtures
from workers.pipeline import TranslationPipeline

pytestmark = pytest.mark.models

# The engines' session fixtures (tiny models built once, espeak speech), shared here.
tiny_model_env = engine_fixtures.tiny_model_env
model_settings = engine_fixtures.model_settings
canary = engine_fixtures.canary
identifier = engine_fixtures.identifier
synthesizer = engine_fixtures.synthesizer
english_speech = engine_fixtures.english_speech
russian_speech = engine_fixtures.russian_speech


@pytest.fixture
def pipeline(canary, synthesizer, identifier):
    return TranslationPipeline(
        translator=canary, synthesizer=synthesizer, identifier=identifier, with_source_text=True
    )


@pytest.mark.parametrize("speech_fixture", ["english_speech", "russian_speech"])
def test_auto_source_goes_through_lid_ast_and_tts(pipeline, request, speech_fixture):
    audio = request.getfixturevalue(speech_fixture)
    result = pipeline.run(audio, src="auto", tgt=None)

    assert result.src in ("en", "ru")
    assert result.tgt == ("ru" if result.src == "en" else "en")
    assert result.meta["lid"]["lang"] == result.src
    assert 0.5 <= result.meta["lid"]["confidence"] <= 1.0
    assert isinstance(result.text, str) and result.text
    assert isinstance(result.source_text, str)
    assert result.tts_failed is False
    assert result.sample_rate == 24000
    assert result.audio.dtype == np.float32 and len(result.audio) > 0
    for key in ("lid_ms", "ast_ms", "tts_ms", "total_ms"):
        assert key in result.timings
    assert result.meta["ast"]["inference_ms"] > 0


def test_explicit_direction_skips_language_id(canary, synthesizer, russian_speech):
    class NoLid:
        def identify(self, audio):
            raise AssertionError("language ID must not run for an explicit source")

    pipeline = TranslationPipeline(translator=canary, synthesizer=synthesizer, identifier=NoLid())
    result = pipeline.run(russian_speech, src="ru", tgt="en", voices={"en": "en_7", "ru": "xenia"})
    assert (result.src, result.tgt) == ("ru", "en")
    assert "lid_ms" not in result.timings
    assert result.voice == "en_7"
    assert result.tts_failed is False


def test_without_source_transcript(canary, synthesizer, english_speech):
    pipeline = TranslationPipeline(
        translator=canary, synthesizer=synthesizer, identifier=None, with_source_text=False
    )
    result = pipeline.run(english_speech, src="en", tgt="ru")
    assert result.source_text is None
    assert result.text


def test_tts_failure_returns_the_text(canary, identifier, english_speech, tmp_path):
    from workers.engines.silero import SileroSynthesizer

    no_voices = SileroSynthesizer(tmp_path / "empty", sample_rate=24000)
    pipeline = TranslationPipeline(translator=canary, synthesizer=no_voices, identifier=identifier)
    result = pipeline.run(english_speech, src="en", tgt="ru")
    assert result.tts_failed is True
    assert result.text
    assert result.audio is None
    assert "fetch_models" in result.tts_error


def test_a_canary_that_hears_only_special_tokens_means_no_speech_and_no_tts(
    tmp_path, tiny_model_env, identifier, monkeypatch
):
    """A model whose whole output is `<|nospeech|>`: a clear status, no TTS, not an error."""
    from tests.models_fixtures import build_tiny_canary
    from workers.engines import canary as canary_module
    from workers.pipeline import NO_SPEECH

    monkeypatch.setattr(canary_module, "_loaded", {})
    path = build_tiny_canary(tmp_path, filename="nospeech.nemo", favour_token="<|nospeech|>")
    translator = canary_module.CanaryTranslator.load(str(path), device="cpu")

    class NoSynthesis:
        def synthesize(self, text, *, lang, voice=None):
            raise AssertionError("TTS must not run without speech")

    result = TranslationPipeline(
        translator=translator, synthesizer=NoSynthesis(), identifier=identifier
    ).run(np.zeros(16000, np.float32), src="en", tgt="ru")
    assert result.no_speech is True
    assert (result.text, result.audio, result.tts_failed) == ("", None, False)
    assert result.tts_error == NO_SPEECH
    assert result.meta["no_speech"] is True
