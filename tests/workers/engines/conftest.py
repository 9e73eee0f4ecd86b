"""Session fixtures: the tiny real-format models (built once) and espeak-ng speech.

The models are laid out in a Hugging Face cache, NeMo's NGC cache and a Silero directory, and
the environment points the production loaders there with downloads off (HF_HUB_OFFLINE=1).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tests import models_fixtures


@pytest.fixture(scope="session")
def tiny_model_env(tmp_path_factory, tiny_models) -> dict[str, str]:
    """Build (once) the tiny models and point this process at them, offline."""
    env = tiny_models
    saved = {key: os.environ.get(key) for key in env}
    import huggingface_hub.constants as hub_constants

    saved_hub = (hub_constants.HF_HUB_CACHE, hub_constants.HF_HUB_OFFLINE)
    models_fixtures.apply_model_env(env)
    yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    hub_constants.HF_HUB_CACHE, hub_constants.HF_HUB_OFFLINE = saved_hub


@pytest.fixture(scope="session")
def model_settings(tiny_model_env) -> SimpleNamespace:
    """What the production settings hold when started with `tiny_model_env`."""
    return SimpleNamespace(
        CANARY_MODEL=tiny_model_env["CANARY_MODEL"],
        LID_MODEL=tiny_model_env["LID_MODEL"],
        MODEL_DEVICE=tiny_model_env["MODEL_DEVICE"],
        SILERO_CACHE_DIR=Path(tiny_model_env["SILERO_CACHE_DIR"]),
        PIPER_VOICES_DIR=Path(tiny_model_env["PIPER_VOICES_DIR"]),
        TTS_SAMPLE_RATE=24000,
        TTS_VOICE_RU="baya",
        TTS_VOICE_EN="en_0",
        SOURCE_TRANSCRIPT=True,
    )


@pytest.fixture(scope="session")
def canary(model_settings):
    from workers.engines.canary import CanaryTranslator

    return CanaryTranslator.from_settings(model_settings)


@pytest.fixture(scope="session")
def identifier(model_settings):
    from workers.engines.langid import AmberNetIdentifier

    return AmberNetIdentifier.from_settings(model_settings)


@pytest.fixture(scope="session")
def synthesizer(model_settings):
    from workers.engines.silero import SileroSynthesizer

    return SileroSynthesizer.from_settings(model_settings)


@pytest.fixture(scope="session")
def piper(model_settings):
    from workers.engines.piper import PiperSynthesizer

    return PiperSynthesizer.from_settings(model_settings)


@pytest.fixture(scope="session")
def english_speech(speech) -> np.ndarray:
    return speech.speech_16k("The train to the museum leaves at nine o'clock.", "en")


@pytest.fixture(scope="session")
def russian_speech(speech) -> np.ndarray:
    return speech.speech_16k("Поезд до музея отправляется в девять часов.", "ru")
