"""Shared fixtures: real services, the engines the processes under test run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.doubles import DOUBLES_ENV
from tests.services import LocalS3, missing


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, str]:
    """Build the tiny random-weight models of the real classes once per run (a NeMo Canary
    `.nemo` in a Hugging Face cache, AmberNet in NeMo's cache, Silero `torch.package` voices)
    and return the environment that makes the production loaders use them, offline."""
    try:
        import nemo.collections.asr  # noqa: F401
    except ImportError:
        missing("NeMo (the worker extra: pip install -e '.[worker]')")
    from tests.models_fixtures import prepare_model_env

    root = os.environ.get("RUTRANS_TINY_MODELS_DIR") or tmp_path_factory.mktemp("tiny-models")
    return prepare_model_env(Path(root))


@pytest.fixture(scope="session")
def model_env(request) -> dict[str, str]:
    """Environment for the worker processes under test: the tiny real-format models through
    the production loaders (RUTRANS_TEST_ENGINES=doubles: the test doubles instead)."""
    if os.environ.get("RUTRANS_TEST_ENGINES") == "doubles":
        return dict(DOUBLES_ENV)
    return dict(request.getfixturevalue("tiny_models"))


@pytest.fixture
def engines(settings):
    """In-process engines = the test doubles; reset the worker runtime around the test."""
    from workers import runtime

    settings.RUTRANS_TRANSLATOR = DOUBLES_ENV["RUTRANS_TRANSLATOR"]
    settings.RUTRANS_SYNTHESIZER = DOUBLES_ENV["RUTRANS_SYNTHESIZER"]
    settings.RUTRANS_LANGUAGE_IDENTIFIER = DOUBLES_ENV["RUTRANS_LANGUAGE_IDENTIFIER"]
    runtime.reset()
    yield settings
    runtime.reset()


@pytest.fixture(scope="session")
def local_s3():
    """moto's S3 server for the whole run (tests/services.py LocalS3)."""
    server = LocalS3().start()
    yield server
    server.stop()


pytest_plugins = ["tests.speech"]


@pytest.fixture(autouse=True)
def fresh_cache():
    """Each test starts with an empty cache: the limits' counters and the audio kept there
    (translation/limits, translation/transient_audio) are the test's own."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def no_admission_by_loop_cpu(settings):
    """In-process tests run their consumers on pytest's own thread, which is busy running
    tests nearly all the time: its CPU share says nothing of a web process's sessions, so the
    loop-CPU admission rule is off here (tests/translation/jobs/test_capacity.py tests it)."""
    settings.ADMISSION_MAX_LOOP_CPU = float("inf")
