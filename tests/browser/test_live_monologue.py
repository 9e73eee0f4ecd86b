"""A long monologue in Chromium against the real stack: six sentences one after another, each
translated into speech longer than the source (as Russian often is), so the playback queue
falls behind. It must play every piece in order, faster (never above the limit) to keep up,
show how far behind it is, and end up to date, without console errors.

The translator is a double whose Russian text grows with the audio (50 characters per
second); the voice is the real Silero engine on the tiny model (40 ms per character), so the
translated speech is twice as long as the source."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.browser.conftest import (
    CAPTURE_RATE,
    ConsoleLog,
    chromium_hearing,
    events,
    open_page,
    wait_for_event,
)
from tests.speech import speech_synthesizer, trim_silence
from tests.stack import real_stack
from translation.audio.pcm import resample_float32

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.timeout(300)]

DB_NAME = "rutrans_browser_monologue"
REDIS_DB = 11
SENTENCES = (
    "Good evening, and thank you all for coming to this talk.",
    "Tonight I want to tell you about the rivers of the north.",
    "They freeze in winter and flood the valleys every spring.",
    "The people who live there have learned to move with the water.",
    "Their boats are light, and their houses stand on tall wooden legs.",
    "Next year we will travel there together and see it for ourselves.",
)
GAP_S = 1.3  # between sentences: each is its own utterance, whatever the segmenter's rules
MAX_RATE = 1.5


@pytest.fixture(scope="module")
def monologue_wav(tmp_path_factory) -> tuple[Path, int]:
    """The six sentences with GAP_S between them, 48 kHz stereo: the fake microphone."""
    synth = speech_synthesizer(tmp_path_factory)
    gap = np.zeros(round(GAP_S * CAPTURE_RATE), np.float32)
    parts = [np.zeros(CAPTURE_RATE, np.float32)]
    for sentence in SENTENCES:
        audio, sr = synth.speak(sentence, "en")
        speech = resample_float32(np.asarray(audio, np.float32), sr, CAPTURE_RATE)
        parts += [trim_silence(speech), gap]
    parts.append(np.zeros(2 * CAPTURE_RATE, np.float32))
    mono = np.concatenate(parts)
    path = tmp_path_factory.mktemp("fake-monologue") / "monologue-48k.wav"
    sf.write(path, np.stack([mono, mono], axis=1), CAPTURE_RATE, subtype="PCM_16")
    return path, len(SENTENCES)


@pytest.fixture(scope="module")
def monologue_stack(tmp_path_factory, model_env):
    env = {
        **model_env,
        "RUTRANS_TRANSLATOR": "tests.doubles.ProportionalTranslator",
        "RUTRANS_TEST_CHARS_PER_S": "50",
    }
    data_dir = tmp_path_factory.mktemp("browser-monologue-stack")
    with real_stack(data_dir, name=DB_NAME, redis_db=REDIS_DB, extra_env=env) as stack:
        yield stack


@pytest.fixture(scope="module")
def monologue_page(sync_playwright_api, chromium_path, monologue_wav, monologue_stack):
    wav, _ = monologue_wav
    with chromium_hearing(sync_playwright_api, chromium_path, wav) as browser:
        # A monologue comes as tab audio does: without the microphone's echo cancellation and
        # noise suppression (which would take the translation playing meanwhile for an echo).
        # Chromium's fake screen capture has no audio, so the fake microphone stands in.
        with open_page(
            browser, monologue_stack.http_url, init_script=TAB_AUDIO_CONSTRAINTS
        ) as page:
            yield page


TAB_AUDIO_CONSTRAINTS = """
const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = (constraints) =>
  getUserMedia({
    ...constraints,
    audio: { ...constraints.audio, echoCancellation: false, noiseSuppression: false,
             autoGainControl: false },
  });
"""


def lag_state(page) -> dict:
    return page.evaluate(
        """() => ({...window.rutrans.live.state,
                   text: document.getElementById('playback-lag').textContent,
                   level: document.getElementById('playback-lag').dataset.state})"""
    )


def test_a_long_monologue_plays_in_order_and_keeps_up(monologue_page, monologue_wav, artifacts):
    page = monologue_page
    console = ConsoleLog(page)
    _, utterances = monologue_wav
    page.goto("/")
    page.wait_for_function("window.rutrans?.events?.some((e) => e.type === 'page-ready')")
    assert page.locator("#playback-lag").inner_text() == "Playback up to date"
    page.select_option("#mode", "en->ru")
    page.select_option("#catch-up", "speed")  # keep every piece: the order is checked below
    page.locator("#pause-while-playing").uncheck()  # tab audio goes on while we listen
    page.get_by_role("button", name="Start").click()
    wait_for_event(page, "capture-started", timeout_s=15)
    assert page.evaluate("window.rutrans.live.state.catchUp") == "speed"

    # While it plays, watch the indicator (and take a screenshot once it is far behind).
    samples: list[dict] = []
    shot = artifacts / "live-monologue-behind-1280.png"
    shot.unlink(missing_ok=True)
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        state = lag_state(page)
        samples.append(state)
        if state["rate"] > 1.2 and not shot.exists():
            page.screenshot(path=str(shot), full_page=True)
        done = events(page, "result")
        if len(done) == utterances and state["queued"] == 0 and not state["behindS"]:
            break
        page.wait_for_timeout(250)
    else:
        seen = page.evaluate(
            "window.rutrans.events.filter((e) => !['level', 'playback-started',"
            " 'playback-ended'].includes(e.type))"
        )
        pytest.fail(f"the monologue did not finish playing: {samples[-1]}; events: {seen}")

    results = events(page, "result")
    assert [r["seq"] for r in results] == list(range(utterances))
    assert all(r["pieces"] >= 1 and r["wavBytes"] > 44 and not r["audioError"] for r in results)
    pieces = events(page, "audio-piece")
    assert len(pieces) == sum(r["pieces"] for r in results) and len(pieces) > utterances
    assert max(p["bytes"] for p in pieces) <= 256 * 1024

    # Every piece played, in (seq, piece) order, none skipped in "speed".
    started = [e["id"] for e in events(page, "playback-started")]
    played_seqs = [int(key.split(":")[1]) for key in started]
    assert played_seqs == sorted(played_seqs) and len(started) == len(pieces)
    assert len(events(page, "playback-ended")) == len(pieces)
    assert events(page, "playback-failed") == [] and events(page, "playback-skipped") == []

    # It fell behind, said so, and played faster, never above the limit.
    behind = [s for s in samples if s["behindS"] > 2]
    assert behind, f"never behind by more than 2 s: {samples}"
    assert max(s["rate"] for s in samples) > 1.1
    assert all(1 <= s["rate"] <= MAX_RATE for s in samples)
    assert any(
        re.fullmatch(r"Playback \d+\.\d s behind · playing at 1\.\d+×", s["text"]) for s in behind
    ), [s["text"] for s in behind]
    assert {s["level"] for s in behind} & {"behind", "far"}
    assert shot.exists()
    assert page.locator("#playback-lag").inner_text() == "Playback up to date"

    page.get_by_role("button", name="Stop").click()
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(artifacts / "live-monologue-done-1280-dark.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 780})
    page.emulate_media(color_scheme="light")
    page.screenshot(path=str(artifacts / "live-monologue-done-360.png"), full_page=True)
    assert console.errors == []
