"""AmberNet language ID through NeMo's NGC-name loading path (offline) with a tiny model."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from tests.models_fixtures import LID_LABELS
from workers.engines.base import EngineError, EngineUnavailable, LanguageIdentifier

pytestmark = pytest.mark.models


def test_loads_ngc_name_from_offline_nemo_cache(identifier):
    assert type(identifier.model).__name__ == "EncDecSpeakerLabelModel"
    assert identifier.model_name == "langid_ambernet"
    assert isinstance(identifier, LanguageIdentifier)


@pytest.mark.parametrize("speech_fixture", ["english_speech", "russian_speech"])
def test_guess_is_restricted_to_english_and_russian(identifier, request, speech_fixture):
    audio = request.getfixturevalue(speech_fixture)
    signal = torch.from_numpy(audio).unsqueeze(0)
    with torch.inference_mode():
        logits, _ = identifier.model.forward(
            input_signal=signal, input_signal_length=torch.tensor([signal.shape[1]])
        )
    assert LID_LABELS[int(logits.argmax())] == "de"  # unrestricted, the tiny model says "de"

    guess = identifier.identify(audio)
    assert guess.lang in ("en", "ru")
    assert 0.5 <= guess.confidence <= 1.0
    assert guess.meta["p_en"] + guess.meta["p_ru"] == pytest.approx(1.0, abs=1e-3)
    expected = "en" if guess.meta["p_en"] >= guess.meta["p_ru"] else "ru"
    assert guess.lang == expected
    assert guess.meta["lid_ms"] > 0


def test_logits_of_en_and_ru_decide(identifier, english_speech, monkeypatch):
    en, ru = LID_LABELS.index("en"), LID_LABELS.index("ru")
    fake = torch.zeros(1, len(LID_LABELS))
    fake[0, ru] = 2.0
    fake[0, en] = 0.0
    monkeypatch.setattr(identifier.model, "forward", lambda **_: (fake, None))
    guess = identifier.identify(english_speech)
    assert guess.lang == "ru"
    assert guess.confidence == pytest.approx(float(torch.sigmoid(torch.tensor(2.0))), abs=1e-4)


def test_bad_audio_is_rejected(identifier):
    with pytest.raises(EngineError):
        identifier.identify(np.zeros((2, 100), dtype=np.float32))
    assert identifier.identify(np.zeros(100, dtype=np.float32)).lang in ("en", "ru")


def test_model_without_en_ru_labels_is_refused():
    from workers.engines.langid import AmberNetIdentifier

    model = SimpleNamespace(cfg={"train_ds": {"labels": ["de", "fr"]}})
    with pytest.raises(EngineUnavailable, match="no label"):
        AmberNetIdentifier(model, device="cpu", model_name="x", load_ms=0.0)


def test_missing_model_offline_gives_helpful_error(tiny_model_env, tmp_path, monkeypatch):
    from workers.engines import langid

    monkeypatch.setattr(langid, "_loaded", {})
    monkeypatch.setenv("NEMO_CACHE_DIR", str(tmp_path))
    settings = SimpleNamespace(LID_MODEL="langid_ambernet", MODEL_DEVICE="cpu")
    with pytest.raises(EngineUnavailable, match="python manage.py fetch_models"):
        langid.AmberNetIdentifier.from_settings(settings)
