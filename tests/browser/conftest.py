"""Browser tests: Debian's Chromium driven by Playwright against the real stack (Daphne,
a Celery worker, Redis, PostgreSQL), with espeak-ng speech as the fake microphone.

In CI (CI=true) a missing Chromium, Playwright or service fails the run instead of skipping."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.services import missing
from tests.speech import speech_synthesizer, trim_silence
from tests.stack import ROOT, Stack, real_stack
from translation.audio.pcm import resample_float32

CHROMIUM = os.environ.get("RUTRANS_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
DB_NAME = "rutrans_browser"
CAPTURE_RATE = 48_000
LEAD_SILENCE_S = 1.0
TAIL_SILENCE_S = 2.5

SPEECH_TEXT = "The weather is lovely today, so we will walk along the river and look at the boats."


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which(CHROMIUM) or (CHROMIUM if os.access(CHROMIUM, os.X_OK) else None)
    if path is None:
        missing(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    return path


@pytest.fixture(scope="session")
def sync_playwright_api():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the Python playwright package (pip install playwright)")
    return sync_playwright


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory) -> tuple[Path, float]:
    """espeak-ng speech, 1 s of silence before and 2.5 s after, 48 kHz 16-bit stereo: the
    fake microphone. Returns (path, seconds of speech)."""
    synth = speech_synthesizer(tmp_path_factory)
    audio, sr = synth.speak(SPEECH_TEXT, "en")
    speech = trim_silence(resample_float32(np.asarray(audio, dtype=np.float32), sr, CAPTURE_RATE))
    padded = np.concatenate(
        [
            np.zeros(round(LEAD_SILENCE_S * CAPTURE_RATE), np.float32),
            speech,
            np.zeros(round(TAIL_SILENCE_S * CAPTURE_RATE), np.float32),
        ]
    )
    path = tmp_path_factory.mktemp("fake-capture") / "speech-48k.wav"
    sf.write(path, np.stack([padded, padded], axis=1), CAPTURE_RATE, subtype="PCM_16")
    return path, len(speech) / CAPTURE_RATE


@pytest.fixture(scope="session")
def browser_stack(tmp_path_factory, model_env) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("browser-stack")
    with real_stack(data_dir, name=DB_NAME, redis_db=12, extra_env=model_env) as stack:
        yield stack


def launch_chromium(pw, chromium_path, wav):
    """Debian's chromium, headless, its fake microphone playing `wav` once."""
    return pw.chromium.launch(
        executable_path=chromium_path,
        headless=True,
        args=[
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}%noloop",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    )


@contextmanager
def open_page(browser, base_url: str, *, init_script: str | None = None):
    """A fresh browser context (1280 × 900) on `base_url` and its page."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=base_url)
    if init_script:
        context.add_init_script(init_script)
    try:
        yield context.new_page()
    finally:
        context.close()


# Module scope: Playwright's sync API keeps an event loop running in the main thread while
# it is open, and the asyncio tests of other modules cannot start their own loop meanwhile.
@pytest.fixture(scope="module")
def browser(sync_playwright_api, chromium_path, speech_wav):
    wav, _ = speech_wav
    with chromium_hearing(sync_playwright_api, chromium_path, wav) as browser:
        yield browser


@contextmanager
def chromium_hearing(sync_playwright_api, chromium_path: str, wav):
    """A Playwright session and its Chromium whose fake microphone plays `wav` once (a module
    with a microphone of its own overrides `browser` with this)."""
    with sync_playwright_api() as pw:
        browser = launch_chromium(pw, chromium_path, wav)
        try:
            yield browser
        finally:
            browser.close()


class ConsoleLog:
    """Everything the page logged; `errors` are console errors and uncaught exceptions."""

    def __init__(self, page) -> None:
        self.lines: list[str] = []
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def _console(self, message) -> None:
        line = f"{message.type}: {message.text}"
        self.lines.append(line)
        if message.type == "error":
            self.errors.append(line)


@pytest.fixture
def page(browser, browser_stack):
    with open_page(browser, browser_stack.http_url) as page:
        yield page


@pytest.fixture
def console(page) -> ConsoleLog:
    return ConsoleLog(page)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def events(page, type_: str) -> list[dict]:
    """The page's test hook: window.rutrans.events of one type."""
    return page.evaluate(
        "(type) => (window.rutrans?.events || []).filter((e) => e.type === type)", type_
    )


def wait_for_event(page, type_: str, *, where: str = "true", timeout_s: float = 30.0) -> dict:
    """Wait for an event of `type_` for which the JS expression `where` (over `e`) holds."""
    predicate = (
        "([type, where]) => (window.rutrans?.events || [])"
        ".some((e) => e.type === type && new Function('e', 'return ' + where)(e))"
    )
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(predicate, arg=[type_, where], timeout=timeout_s * 1000)
    except PlaywrightTimeout:
        seen = page.evaluate("(window.rutrans?.events || []).filter((e) => e.type !== 'level')")
        pytest.fail(
            f"no {type_!r} event where {where} within {timeout_s:.0f} s; the page's events: "
            + "\n".join(map(str, seen)),
            pytrace=False,
        )
    matches = page.evaluate(
        "([type, where]) => (window.rutrans?.events || [])"
        ".filter((e) => e.type === type && new Function('e', 'return ' + where)(e))",
        [type_, where],
    )
    return matches[0]


def screenshots(page, artifacts: Path, name: str, *, narrow: int = 360) -> list[Path]:
    """Full-page screenshots at 1280 px and `narrow` px wide, and 1280 px in the dark scheme."""
    paths = []
    original = page.viewport_size
    for width, height in ((1280, 900), (narrow, 780)):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(200)
        path = artifacts / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        paths.append(path)
    page.emulate_media(color_scheme="dark")
    page.wait_for_timeout(200)
    path = artifacts / f"{name}-1280-dark.png"
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(path), full_page=True)
    paths.append(path)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size(original)
    return paths
