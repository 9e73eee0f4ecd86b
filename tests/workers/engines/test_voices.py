"""The voice router: each voice to its engine, the defaults, clear errors."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from translation.constants import PIPER_VOICES, SILERO_VOICES, VOICE_CATALOGUE, VOICES
from workers.engines.base import EngineError, EngineUnavailable, Speech, SpeechSynthesizer
from workers.engines.voices import VoiceRouter

DENIS = "piper:ru_RU-denis-medium"


class RecordingEngine:
    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[tuple[str, str, str | None]] = []

    def synthesize(self, text, *, lang, voice=None):
        self.calls.append((text, lang, voice))
        return Speech(np.zeros(10, dtype=np.float32), 24000, {"engine": float(len(self.name))})


@pytest.fixture
def engines():
    return {"silero": RecordingEngine("silero"), "piper": RecordingEngine("piper")}


def router_of(engines, built, **defaults):
    def factory(name):
        def build():
            built.append(name)
            return engines[name]

        return build

    return VoiceRouter({name: factory(name) for name in engines}, default_voices=defaults)


def test_the_catalogue_names_every_voice_with_engine_name_and_licence():
    assert set(VOICE_CATALOGUE) == {v for lang in VOICES for v in VOICES[lang]}
    for lang in VOICES:
        assert VOICES[lang] == SILERO_VOICES[lang] + PIPER_VOICES[lang]
        for voice in VOICES[lang]:
            info = VOICE_CATALOGUE[voice]
            assert (info.id, info.lang) == (voice, lang)
            assert info.engine == ("piper" if voice.startswith("piper:") else "silero")
            assert info.name and info.name != voice and info.licence
    assert VOICE_CATALOGUE["en_7"].name == "Speaker 7"
    assert VOICE_CATALOGUE["baya"].name == "Baya (female)"


def test_routes_each_voice_to_its_engine(engines):
    built: list[str] = []
    router = router_of(engines, built)
    assert isinstance(router, SpeechSynthesizer)
    router.synthesize("Привет.", lang="ru", voice=DENIS)
    router.synthesize("Hello.", lang="en", voice="en_3")
    router.synthesize("Привет.", lang="ru")  # the default: Silero's baya
    assert engines["piper"].calls == [("Привет.", "ru", DENIS)]
    assert engines["silero"].calls == [("Hello.", "en", "en_3"), ("Привет.", "ru", "baya")]
    assert built == ["piper", "silero"]  # each engine built once, when first needed


def test_preload_builds_only_the_default_voices_engines(engines):
    built: list[str] = []
    router = router_of(engines, built, ru=DENIS, en="piper:en_US-lessac-medium")
    router.preload()
    assert built == ["piper"]
    router.synthesize("Hi.", lang="en")
    assert engines["piper"].calls == [("Hi.", "en", "piper:en_US-lessac-medium")]


def test_bad_voices_are_clear_errors(engines):
    router = router_of(engines, [])
    with pytest.raises(EngineError, match="unknown ru voice 'en_3'"):
        router.synthesize("Привет.", lang="ru", voice="en_3")
    with pytest.raises(EngineError, match="unknown en voice"):
        router.synthesize("Hi.", lang="en", voice="piper:en_US-nobody-medium")
    with pytest.raises(EngineError, match="unsupported TTS language"):
        router.synthesize("Hallo.", lang="de")  # type: ignore[arg-type]
    with pytest.raises(EngineUnavailable, match="TTS_VOICE_EN"):
        router_of(engines, [], en="baya")


def test_an_engine_that_cannot_load_fails_its_voices_only(engines):
    def broken():
        raise ImportError("no module named piper")

    router = VoiceRouter({"silero": lambda: engines["silero"], "piper": broken}, default_voices={})
    with pytest.raises(EngineUnavailable, match="could not load the piper engine: ImportError"):
        router.synthesize("Привет.", lang="ru", voice=DENIS)
    assert router.synthesize("Привет.", lang="ru", voice="xenia").sample_rate == 24000


@pytest.mark.models
def test_from_settings_speaks_with_both_real_engines(model_settings):
    settings = SimpleNamespace(**{**vars(model_settings), "TTS_VOICE_RU": DENIS})
    router = VoiceRouter.from_settings(settings)
    piper = router.synthesize("Привет.", lang="ru")
    silero = router.synthesize("Hello.", lang="en", voice="en_1")
    assert piper.sample_rate == silero.sample_rate == 24000
    assert len(piper.audio) and len(silero.audio)
