"""The call page in Chromium against the real stack: both lanes of one call fed with real
speech, each translated, shown (labelled Me / Them, interleaved on the call's clock) and
played on its own output; the original voice ducked under the "them" translation.

The "me" lane hears Chromium's fake microphone (espeak-ng English, the session's speech WAV).
The "them" lane shares "tab audio": getDisplayMedia is stubbed by an init script with a
MediaStream from a Web Audio graph that plays espeak-ng Russian (served by a Playwright route)
when the test says so: after the "me" translation has played, as people take turns in a call.
"""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest
import soundfile as sf
import srt

from tests.browser.conftest import events, screenshots, wait_for_event
from tests.speech import speech_synthesizer, trim_silence
from translation.audio.pcm import resample_float32

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.timeout(300)]

RESULT_TIMEOUT_S = 90
THEM_TEXT = "Добрый день, как у вас дела сегодня?"
OUTPUTS = {"me": "Fake Audio Output 1", "them": "Fake Audio Output 2"}

# setSinkId recorded per AudioContext (and let through); each lane's output chosen before the
# page loads (by name: ids change); getDisplayMedia stubbed with the "them" speech.
INIT_SCRIPT = """
window.__sinkCalls = [];
const originalSetSinkId = AudioContext.prototype.setSinkId;
AudioContext.prototype.setSinkId = function (deviceId) {
  window.__sinkCalls.push(deviceId);
  return originalSetSinkId.call(this, deviceId);
};
for (const [speaker, label] of Object.entries(window.__outputs)) {
  const saved = JSON.stringify({ deviceId: "old-id", label });
  localStorage.setItem(`rutrans.call.${speaker}.output.v1`, saved);
}
navigator.mediaDevices.getDisplayMedia = async (constraints) => {
  window.__displayConstraints = constraints;
  const ctx = new AudioContext({ sampleRate: 48000 });
  const wav = await (await fetch("/__test__/them.wav")).arrayBuffer();
  const buffer = await ctx.decodeAudioData(wav);
  const destination = ctx.createMediaStreamDestination();
  window.__startThem = () => {
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(destination);
    source.start();
    return buffer.duration;
  };
  return destination.stream;
};
"""


@pytest.fixture(scope="module")
def them_wav(tmp_path_factory) -> bytes:
    """espeak-ng Russian, 0.3 s of silence before and 2.5 s after, 48 kHz mono WAV bytes."""
    synth = speech_synthesizer(tmp_path_factory)
    audio, sr = synth.speak(THEM_TEXT, "ru")
    speech = trim_silence(resample_float32(np.asarray(audio, dtype=np.float32), sr, 48_000))
    padded = np.concatenate([np.zeros(14_400, np.float32), speech, np.zeros(120_000, np.float32)])
    out = io.BytesIO()
    sf.write(out, padded, 48_000, format="WAV", subtype="PCM_16")
    return out.getvalue()


def open_call_page(page, them_wav: bytes) -> None:
    page.route(
        "**/__test__/them.wav",
        lambda route: route.fulfill(status=200, body=them_wav, content_type="audio/wav"),
    )
    page.add_init_script(f"window.__outputs = {json.dumps(OUTPUTS)};")
    page.add_init_script(INIT_SCRIPT)
    page.goto("/call")
    page.wait_for_function("window.rutrans?.events?.some((e) => e.type === 'page-ready')")


def lane_state(page, speaker: str) -> dict:
    return page.evaluate("(s) => window.rutrans.call.state[s]", speaker)


def test_a_call_with_both_lanes(page, console, them_wav, artifacts, browser_stack):
    open_call_page(page, them_wav)
    assert page.locator("#me-mode").input_value() == "en->ru"
    assert page.locator("#them-mode").input_value() == "ru->en"
    page.get_by_role("button", name="Start call").click()
    started = wait_for_event(page, "call-started", timeout_s=20)
    assert sorted(started["lanes"]) == ["me", "them"]
    call_id = started["call"]
    for speaker in ("me", "them"):
        configured = wait_for_event(
            page, "lane-configured", where=f"e.speaker === '{speaker}'", timeout_s=15
        )
        assert configured["call"] == call_id
    # The tab's own playback is taken over, so the page can play the original ducked.
    assert page.evaluate("window.__displayConstraints.audio.suppressLocalAudioPlayback") is True
    wait_for_event(page, "original-playing", where="e.speaker === 'them'")

    # Me first: the fake microphone's English.
    me = wait_for_event(page, "lane-result", where="e.speaker === 'me'", timeout_s=RESULT_TIMEOUT_S)
    assert (me["src"], me["tgt"]) == ("en", "ru") and me["text"] and me["pieces"] >= 1
    wait_for_event(page, "lane-playback-ended", where="e.speaker === 'me'", timeout_s=30)

    # Then them: the shared tab speaks Russian.
    page.wait_for_timeout(500)
    them_started_at = time.monotonic()
    page.evaluate("window.__startThem()")
    them = wait_for_event(
        page, "lane-result", where="e.speaker === 'them'", timeout_s=RESULT_TIMEOUT_S
    )
    assert (them["src"], them["tgt"]) == ("ru", "en") and them["text"] and them["pieces"] >= 1
    them_latency_s = time.monotonic() - them_started_at

    # Ducking: while the "them" translation plays, the original's gain is down to about -18 dB.
    wait_for_event(page, "ducking", where="e.speaker === 'them' && e.db === -18", timeout_s=30)
    page.wait_for_function("window.rutrans.call.state.them.originalGain < 0.2", timeout=5000)
    ducked = lane_state(page, "them")["originalGain"]
    assert 0.1 < ducked < 0.2  # 10 ** (-18 / 20) = 0.126
    wait_for_event(page, "lane-playback-ended", where="e.speaker === 'them'", timeout_s=30)
    page.wait_for_function("window.rutrans.call.state.them.originalGain > 0.9", timeout=5000)

    # Each lane played on its own output.
    ids = {
        s: page.evaluate(
            "(label) => [...document.querySelectorAll('option')]"
            ".find((o) => o.textContent === label)?.value",
            OUTPUTS[s],
        )
        for s in ("me", "them")
    }
    assert ids["me"] and ids["them"] and ids["me"] != ids["them"]
    played = {e["speaker"]: e["sinkId"] for e in events(page, "lane-playback-started")}
    assert played == ids
    assert set(ids.values()) <= set(page.evaluate("window.__sinkCalls"))

    # One conversation: Me, then Them, on the call's clock.
    items = page.locator("#conversation .utterance")
    assert items.count() == 2
    assert [items.nth(i).get_attribute("data-speaker") for i in range(2)] == ["me", "them"]
    assert [items.nth(i).locator(".speaker").inner_text() for i in range(2)] == ["Me", "Them"]
    starts = [float(items.nth(i).get_attribute("data-start-s")) for i in range(2)]
    assert starts[0] < starts[1]
    assert items.nth(1).locator(".side.target .text").inner_text() == them["text"]

    # The call's transcript, both lanes.
    body = page.request.get(f"/api/calls/{call_id}/transcript?format=srt").text()
    cues = list(srt.parse(body))
    assert [c.content.split(":")[0] for c in cues] == ["Me", "Them"]
    data = json.loads(page.request.get(f"/api/calls/{call_id}/transcript?format=json").text())
    assert [u["speaker"] for u in data["utterances"]] == ["me", "them"]

    page.get_by_role("button", name="Stop call").click()
    wait_for_event(page, "call-stopped")
    badges = page.locator('[data-role="state"]')
    assert [badges.nth(i).inner_text() for i in range(badges.count())] == ["Stopped", "Stopped"]
    shots = screenshots(page, artifacts, "call-page", narrow=390)
    assert all(path.stat().st_size > 10_000 for path in shots)
    timings = {e["speaker"]: e["timings"] for e in events(page, "lane-result")}
    print(f"\ncall lanes: me {timings['me']}, them {timings['them']}")
    print(f"them: speech started → result {them_latency_s:.2f} s")
    assert console.errors == []


def test_the_live_page_status_stays_on_one_line_at_390_px(page, console, artifacts):
    page.set_viewport_size({"width": 390, "height": 780})
    page.goto("/")
    page.wait_for_function("window.rutrans?.events?.some((e) => e.type === 'page-ready')")
    page.get_by_role("button", name="Start").click()
    wait_for_event(page, "capture-started", timeout_s=15)
    page.get_by_role("button", name="Stop").click()
    page.wait_for_function(
        "document.getElementById('activity').textContent.startsWith('Stopped')", timeout=15000
    )
    page.wait_for_timeout(1500)
    activity = page.locator("#activity").bounding_box()
    pill = page.locator("#playback-lag").bounding_box()
    line = page.evaluate(
        "parseFloat(getComputedStyle(document.getElementById('activity')).lineHeight)"
    )
    assert activity["height"] <= 2 * line + 1  # "Stopped — nothing left to translate": 1-2 lines
    assert activity["width"] > 250  # its own full-width line, not a sliver beside the pill
    assert activity["y"] >= pill["y"] + pill["height"] - 1  # below Start and the pill
    page.screenshot(path=str(artifacts / "live-page-390.png"), full_page=True)
    assert console.errors == []
