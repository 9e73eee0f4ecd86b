"""Shared fixtures: real services, the engines the processes under test run."""

from __future__ import annotations

import os

import pytest

from tests.doubles import DOUBLES_ENV


@pytest.fixture(scope="session")
def model_env(tmp_path_factory) -> dict[str, str]:
    """Environment that makes a worker process load the tiny real-format models through the
    production loaders; RUTRANS_TEST_ENGINES=doubles switches to the test doubles."""
    if os.environ.get("RUTRANS_TEST_ENGINES") == "doubles":
        return dict(DOUBLES_ENV)
    return dict(DOUBLES_ENV)


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


pytest_plugins = ["tests.speech"]
