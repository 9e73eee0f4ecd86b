"""The live page in Chromium against the real stack: the fake microphone speaks an English
sentence, the page streams it over /ws/translate, shows the translation and plays it; Stop
flushes the utterance in progress."""

from __future__ import annotations

import pytest

from tests.browser.conftest import LEAD_SILENCE_S, events, screenshots, wait_for_event

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.timeout(240)]

RESULT_TIMEOUT_S = 60


def start(page, mode: str = "en->ru") -> None:
    page.goto("/")
    page.wait_for_function("window.rutrans?.events?.some((e) => e.type === 'page-ready')")
    page.select_option("#mode", mode)
    page.get_by_role("button", name="Start").click()
    wait_for_event(page, "capture-started", timeout_s=15)


def test_speech_is_translated_shown_and_played(page, console, speech_wav, artifacts):
    _, speech_s = speech_wav
    start(page)
    started = events(page, "capture-started")[0]
    assert (started["sampleRate"], started["channels"]) == (16_000, 1)  # the models' own rate
    wait_for_event(page, "socket-state", where="e.state === 'live'", timeout_s=15)
    assert page.locator("#connection").inner_text() == "Connected"

    # The utterance ends by itself at the silence after the speech.
    result = wait_for_event(page, "result", timeout_s=RESULT_TIMEOUT_S)
    assert (result["seq"], result["src"], result["tgt"]) == (0, "en", "ru")
    assert result["text"] and not result["tts_failed"] and result["wavBytes"] > 44
    assert abs(result["timings"]["audio_s"] - speech_s) < 1.0

    entry = page.locator("#conversation .utterance").first
    assert entry.get_attribute("data-state") == "done"
    assert entry.locator(".direction").inner_text() == "EN → RU"
    assert entry.locator(".target .text").inner_text() == result["text"]
    if result["source_text"]:
        assert entry.locator(".source .text").inner_text() == result["source_text"]
    assert entry.locator(".latency").inner_text().endswith(("ms", " s"))

    # Its WAV plays to the end, audibly (the analyser saw a signal).
    ended = wait_for_event(page, "playback-ended", timeout_s=30)
    assert ended["peak"] > 0.01 and ended["duration"] > 0
    assert events(page, "playback-failed") == []

    # Replay plays it again, through the same queue.
    entry.get_by_role("button", name="Replay").click()
    page.wait_for_function(
        "window.rutrans.events.filter((e) => e.type === 'playback-ended').length >= 2",
        timeout=20_000,
    )

    screenshots(page, artifacts, "live")

    # Stop with nothing left in the stream: the flush says so, no extra result.
    page.get_by_role("button", name="Stop").click()
    wait_for_event(page, "status", where="e.state === 'flushed'", timeout_s=10)
    assert len(events(page, "result")) == 1
    assert page.locator("#start").get_attribute("aria-pressed") == "false"
    assert console.errors == []


def test_stop_mid_speech_flushes_the_last_utterance(page, console, speech_wav):
    _, speech_s = speech_wav
    start(page)
    # Stop while the sentence is still being spoken.
    wait_for_event(page, "level", where="e.level > 0.02", timeout_s=LEAD_SILENCE_S + 10)
    page.wait_for_timeout(1500)
    page.get_by_role("button", name="Stop").click()
    stopped_at = events(page, "capture-stopped")[0]["t"]

    result = wait_for_event(page, "result", timeout_s=RESULT_TIMEOUT_S)
    assert result["seq"] == 0 and result["text"]
    # Cut at the flush: shorter than the whole sentence, and not by the silence timeout.
    assert result["timings"]["audio_s"] < speech_s - 0.5
    assert page.locator("#conversation .utterance[data-state=done]").count() == 1
    wait_for_event(page, "playback-ended", timeout_s=30)
    assert events(page, "result")[0]["t"] >= stopped_at
    assert console.errors == []


def test_a_lost_connection_reconnects_and_resends_the_control(page, console):
    page.goto("/")
    page.wait_for_function("window.rutrans?.events?.some((e) => e.type === 'page-ready')")
    page.select_option("#mode", "ru->en")
    page.select_option("#voice-en", "en_7")
    page.get_by_role("button", name="Start").click()
    wait_for_event(page, "status", where="e.state === 'configured'", timeout_s=15)

    page.evaluate("window.rutrans.live.dropConnection()")
    retrying = wait_for_event(page, "socket-state", where="e.state === 'retrying'", timeout_s=5)
    assert "retrying" in page.locator("#connection").inner_text()
    # Back with a new session, configured again without the user doing anything.
    page.wait_for_function(
        "window.rutrans.events.filter((e) => e.type === 'status' && e.state === 'configured')"
        ".length >= 2",
        timeout=15_000,
    )
    configured = [e for e in events(page, "status") if e["state"] == "configured"]
    assert [(e["mode"], e["voice"]["en"]) for e in configured] == [("ru->en", "en_7")] * 2
    states = [e["state"] for e in events(page, "socket-state") if e["t"] >= retrying["t"]]
    assert states[:4] == ["retrying", "connecting", "configuring", "live"]
    assert page.locator("#connection").inner_text() == "Connected"
    page.get_by_role("button", name="Stop").click()
    assert console.errors == []


def test_keep_recordings_off_keeps_only_the_text(page, console, browser_stack):
    import psycopg

    page.goto("/")
    page.wait_for_function("window.rutrans?.events?.some((e) => e.type === 'page-ready')")
    box = page.get_by_label("Keep recordings in the history")
    assert box.is_checked() and box.is_enabled()
    box.uncheck()
    page.select_option("#mode", "en->ru")
    page.get_by_role("button", name="Start").click()
    configured = wait_for_event(page, "status", where="e.state === 'configured'", timeout_s=15)
    assert configured["store_audio"] is False
    result = wait_for_event(page, "result", timeout_s=RESULT_TIMEOUT_S)
    assert result["text"] and result["wavBytes"] > 44  # the translation is still spoken
    with psycopg.connect(browser_stack.env["DATABASE_URL"]) as conn:
        stored = conn.execute(
            "SELECT store_audio, input_audio, output_audio, text FROM translation_translation "
            "ORDER BY created_at DESC LIMIT 1"
        ).fetchone()
    assert stored == (False, "", "", result["text"])
    page.get_by_role("button", name="Stop").click()
    assert console.errors == []
