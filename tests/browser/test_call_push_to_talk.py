"""Push-to-talk on the call page's "me" lane while the "them" lane runs, in Chromium against
the real stack (issue 29): turns taken in real time come out of the call's exported transcript
in the order spoken, each where it was spoken on the wall clock.

The fake microphone plays two English sentences with a few seconds of silence between them;
"me" holds Space for a moment inside each. Between the presses the "me" lane sends no frames
(its stream clock would stand still if times counted samples) while "them" (a stubbed
getDisplayMedia, as in test_call_page) speaks Russian. Times are compared as differences from
the first turn: the call's clock zero is the server's (its first lane joining).

Spoken times: a press is when Space went down (the lane sends from its next frame); "them" is
when its speech starts (`__startThem` plus the WAV's lead silence). The server's VAD keeps a
preroll before detected speech on a lane that sends silence too ("them"), so that cue may
start up to the preroll (0.3 s) before its speech; a press cannot reach back before itself.
A known bug moves the "them" lane later by the time its connection took to configure (see the
bounds at the end); the push-to-talk lane is held to the issue's 0.5 s.
"""

from __future__ import annotations

import io
import json
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import srt
import webvtt

from tests.browser.conftest import (
    CAPTURE_RATE,
    chromium_hearing,
    events,
    screenshots,
    wait_for_event,
)
from tests.browser.test_call_page import THEM_TEXT, open_call_page
from tests.browser.test_push_to_talk import seconds
from tests.speech import speech_synthesizer, trim_silence
from translation.audio.pcm import resample_float32

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.timeout(420)]

ME_SENTENCES = (
    "I think we should finish the report before the end of next week.",
    "Please send me the new figures as soon as you can, so that we can check them together.",
)
MIC_LEAD_S = 8.0  # before the first sentence: the lanes connect meanwhile (slow when loaded)
MIC_PAUSE_S = 3.0  # between the sentences: "them" speaks in it
THEM_LEAD_S = 0.3  # the "them" WAV's silence before its speech
INTO_SPEECH_S = 0.3  # a press comes this long after the sentence is heard
HOLD_S = 1.2
GAP_S = 1.5  # each turn starts this long after the one before ended
RESULT_TIMEOUT_S = 240  # three translations on a loaded 2-core machine
TOLERANCE_S = 0.5  # issue 29: each start within 0.5 s of when it was spoken

# The "me" lane's input level as its meter shows it (0 in digital silence).
ME_LEVEL = (
    "parseFloat((document.querySelector('#lane-me [data-role=level]').style.transform"
    " || 'scaleX(0)').slice(7))"
)


def silence(seconds_: float) -> np.ndarray:
    return np.zeros(round(seconds_ * CAPTURE_RATE), np.float32)


def download(page, fmt: str, folder: Path, call_id: str) -> Path:
    """The call transcript's `fmt` link on the page, clicked, its download saved."""
    with page.expect_download() as info:
        page.locator(f"#call-transcript a[data-format={fmt}]").click()
    assert info.value.suggested_filename == f"call-{call_id}.{fmt}"
    path = folder / info.value.suggested_filename
    info.value.save_as(path)
    return path


@pytest.fixture(scope="module")
def me_speech(tmp_path_factory) -> tuple[Path, list[float]]:
    """The fake microphone: the two sentences, 48 kHz 16-bit stereo. Returns (path, each
    sentence's length in seconds)."""
    synth = speech_synthesizer(tmp_path_factory)
    speech = []
    for text in ME_SENTENCES:
        audio, sr = synth.speak(text, "en")
        speech.append(
            trim_silence(resample_float32(np.asarray(audio, np.float32), sr, CAPTURE_RATE))
        )
    mono = np.concatenate(
        [silence(MIC_LEAD_S), speech[0], silence(MIC_PAUSE_S), speech[1], silence(3)]
    )
    path = tmp_path_factory.mktemp("call-ptt") / "me-48k.wav"
    sf.write(path, np.stack([mono, mono], axis=1), CAPTURE_RATE, subtype="PCM_16")
    return path, [len(s) / CAPTURE_RATE for s in speech]


@pytest.fixture(scope="module")
def them_speech(tmp_path_factory) -> tuple[bytes, float]:
    """espeak-ng Russian, THEM_LEAD_S of silence before and 2.5 s after, 48 kHz mono WAV
    bytes, and its speech's length in seconds."""
    synth = speech_synthesizer(tmp_path_factory)
    audio, sr = synth.speak(THEM_TEXT, "ru")
    speech = trim_silence(resample_float32(np.asarray(audio, np.float32), sr, CAPTURE_RATE))
    out = io.BytesIO()
    wav = np.concatenate([silence(THEM_LEAD_S), speech, silence(2.5)])
    sf.write(out, wav, CAPTURE_RATE, format="WAV", subtype="PCM_16")
    return out.getvalue(), len(speech) / CAPTURE_RATE


# This module's own fake microphone (conftest's plays one long sentence).
@pytest.fixture(scope="module")
def browser(sync_playwright_api, chromium_path, me_speech):
    wav, _ = me_speech
    with chromium_hearing(sync_playwright_api, chromium_path, wav) as browser:
        yield browser


def wait_for_me_speech(page, *, timeout_s: float) -> None:
    """Until the "me" lane's meter shows the fake microphone speaking."""
    page.wait_for_function(f"{ME_LEVEL} > 0.3", timeout=timeout_s * 1000)


def press_space(page, hold_s: float) -> float:
    """Hold Space for `hold_s`; returns the monotonic time it went down."""
    before = time.monotonic()
    page.keyboard.down("Space")
    pressed_at = (before + time.monotonic()) / 2
    page.wait_for_timeout(hold_s * 1000)
    page.keyboard.up("Space")
    return pressed_at


def test_push_to_talk_turns_in_a_call_come_out_in_the_spoken_order(
    page, console, me_speech, them_speech, artifacts, tmp_path
):
    _, sentence_s = me_speech
    them_wav, them_s = them_speech
    assert sentence_s[0] > INTO_SPEECH_S + HOLD_S + 0.5  # the first press hears speech only
    open_call_page(page, them_wav)
    page.check("#push-to-talk")
    page.uncheck("#echo-guard")  # no lane pauses while the other's translation plays
    page.get_by_role("button", name="Start call").click()
    started = wait_for_event(page, "call-started", timeout_s=20)
    assert sorted(started["lanes"]) == ["me", "them"]
    call_id = started["call"]
    for speaker in ("me", "them"):
        wait_for_event(page, "lane-configured", where=f"e.speaker === '{speaker}'", timeout_s=20)
    assert page.locator("#talk").is_visible() and page.locator("#talk").is_enabled()
    # Still in the microphone's lead silence: the turns start from the first sentence.
    waits = {s: round(connect_wait_s(page, s), 3) for s in ("me", "them")}
    assert page.evaluate(ME_LEVEL) == 0, (
        f"the first sentence began before the lanes were live: {waits}"
    )
    assert page.evaluate("window.rutrans.call.state.me.framesSent") == 0

    spoken: list[tuple[str, float]] = []
    # Me: inside the first sentence.
    wait_for_me_speech(page, timeout_s=MIC_LEAD_S + 5)
    page.wait_for_timeout(INTO_SPEECH_S * 1000)
    spoken.append(("me", press_space(page, HOLD_S)))
    released_at = time.monotonic()
    # Them: the shared tab speaks while "me" is released.
    page.wait_for_timeout(GAP_S * 1000)
    before = time.monotonic()
    assert page.evaluate("window.__startThem()") > them_s
    spoken.append(("them", (before + time.monotonic()) / 2 + THEM_LEAD_S))
    them_ended_at = spoken[-1][1] + them_s
    # Me again: inside the second sentence.
    page.wait_for_timeout(max(0.0, them_ended_at + GAP_S - time.monotonic()) * 1000)
    wait_for_me_speech(page, timeout_s=5)
    spoken.append(("me", press_space(page, HOLD_S)))
    gaps = [spoken[1][1] - released_at, spoken[2][1] - them_ended_at]
    assert all(1.0 <= gap <= 3.0 for gap in gaps), f"the gaps between the turns: {gaps}"

    # The released "me" lane sent nothing between its presses.
    pressed, released = events(page, "talk-pressed"), events(page, "talk-released")
    assert len(pressed) == len(released) == 2
    assert pressed[0]["framesSent"] == 0
    assert released[0]["framesSent"] == pressed[1]["framesSent"] > 0
    assert released[1]["framesSent"] > pressed[1]["framesSent"]

    wait_for_event(
        page,
        "lane-result",
        where="window.rutrans.events.filter((x) => x.type === 'lane-result').length >= 3",
        timeout_s=RESULT_TIMEOUT_S,
    )
    results = events(page, "lane-result")
    assert sorted(r["speaker"] for r in results) == ["me", "me", "them"], results
    assert all(r["text"] for r in results), results
    page.get_by_role("button", name="Stop call").click()
    wait_for_event(page, "call-stopped")
    badges = page.locator('[data-role="state"]')
    assert [badges.nth(i).inner_text() for i in range(badges.count())] == ["Stopped", "Stopped"]

    # The conversation on the page: Me, Them, Me.
    items = page.locator("#conversation .utterance")
    assert [items.nth(i).get_attribute("data-speaker") for i in range(items.count())] == [
        "me",
        "them",
        "me",
    ]
    page.evaluate("window.scrollTo(0, 0)")
    shots = screenshots(page, artifacts, "call-push-to-talk", narrow=390)
    assert all(path.stat().st_size > 10_000 for path in shots)

    # The call's transcript from the page's own links: SRT, WebVTT and JSON agree.
    link = page.locator("#call-transcript a[data-format=srt]")
    assert link.get_attribute("href") == f"/api/calls/{call_id}/transcript?format=srt"
    cues = list(srt.parse(download(page, "srt", tmp_path, call_id).read_text(encoding="utf-8")))
    vtt = webvtt.read(str(download(page, "vtt", tmp_path, call_id)))
    data = json.loads(download(page, "json", tmp_path, call_id).read_text(encoding="utf-8"))
    order = [speaker for speaker, _ in spoken]
    assert [c.content.split(":")[0] for c in cues] == ["Me", "Them", "Me"]
    assert [c.voice for c in vtt.captions] == [u["speaker"] for u in data["utterances"]] == order
    starts = [u["start_s"] for u in data["utterances"]]
    assert [c.start for c in cues] == [timedelta(seconds=s) for s in starts]
    assert [seconds(c.start) for c in vtt.captions] == [pytest.approx(s, abs=0.001) for s in starts]
    assert starts == sorted(r["start_s"] for r in results)  # the page's times, the server's

    # Each turn where it was spoken, relative to the first. The "them" lane captures from
    # before its connection is configured; those frames wait in the page's outbox
    # (static/js/ws-client.js) and reach the server in a burst just after its first control,
    # the stream's time zero: StreamClock (translation/audio/clock.py) places that backlog
    # back before the zero (by up to the time the connection took), so the lane's times are
    # where they were captured, not late by the wait (as they were: +0.83, +0.91 s measured).
    waited_s = connect_wait_s(page, "them")
    zero, lines, offs = spoken[0][1], [], []
    for (speaker, at), start_s in zip(spoken, starts, strict=True):
        said, placed = at - zero, start_s - starts[0]
        offs.append(placed - said)
        lines.append(f"{speaker}: spoken {said:+.3f} s, transcript {placed:+.3f} s")
        lines[-1] += f", off {offs[-1]:+.3f} s"
    print("\ncall push-to-talk turns (relative to the first):\n  " + "\n  ".join(lines))
    print(f"gaps between turns: {gaps[0]:.2f} s, {gaps[1]:.2f} s")
    print(f"them lane: capture started {waited_s:.3f} s before its connection was configured")
    print(f"screenshots: {', '.join(str(p) for p in shots)}")
    for off in offs:
        assert abs(off) <= TOLERANCE_S, "\n".join(lines)
    assert console.errors == []


def connect_wait_s(page, speaker: str) -> float:
    """Seconds from the lane's capture starting to its connection being configured (live),
    on the page's clock."""
    started = events(page, "lane-started")
    live = [e for e in events(page, "lane-socket") if e["state"] == "live"]
    t0 = next(e["t"] for e in started if e["speaker"] == speaker)
    return (next(e["t"] for e in live if e["speaker"] == speaker) - t0) / 1000
