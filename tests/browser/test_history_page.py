"""Auto-detection shown on the live page, and the staff history page, in Chromium against the
real stack: with src=auto each result shows the detected language and its confidence, one click
corrects the direction for the next utterance; /history lists the session with its utterance,
its input/output players and the transcript links."""

from __future__ import annotations

import subprocess

import pytest

from tests.browser.conftest import events, screenshots, wait_for_event
from tests.stack import PYTHON, ROOT

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.timeout(300)]

STAFF_PASSWORD = "history-pw-15"


@pytest.fixture(scope="module")
def staff_user(browser_stack) -> str:
    name = "historian"
    subprocess.run(
        [
            PYTHON,
            "manage.py",
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model; U = get_user_model(); "
            f"U.objects.filter(username={name!r}).exists() or "
            f"U.objects.create_user({name!r}, password={STAFF_PASSWORD!r}, is_staff=True)",
        ],
        cwd=ROOT,
        env=browser_stack.env,
        check=True,
        capture_output=True,
    )
    return name


def test_detected_language_correction_and_history(page, console, artifacts, staff_user):
    page.goto("/")
    page.wait_for_function("window.rutrans?.events?.some((e) => e.type === 'page-ready')")
    page.select_option("#mode", "auto")
    page.get_by_role("button", name="Start").click()
    result = wait_for_event(page, "result", timeout_s=90)
    lid = result["lid"]
    assert lid["lang"] in ("en", "ru") and 0 <= lid["confidence"] <= 1
    assert result["src"] == lid["lang"]
    session = page.evaluate("window.rutrans.live.state.session")

    detection = page.locator("#conversation .utterance .detection").first
    name = {"en": "English", "ru": "Russian"}
    other = "ru" if lid["lang"] == "en" else "en"
    assert detection.locator(".detection-label").inner_text() == (
        f"Detected {name[lid['lang']]} · {round(lid['confidence'] * 100)} %"
    )
    wait_for_event(page, "playback-ended", timeout_s=30)
    page.evaluate("window.scrollTo(0, 0)")
    screenshots(page, artifacts, "live-detected", narrow=390)

    # One click: the next utterance goes the other way, and the server is told now.
    detection.get_by_role("button", name=f"Wrong language: it was {name[other]}").click()
    corrected = f"{other}->{lid['lang']}"
    assert page.locator("#mode").input_value() == corrected
    wait_for_event(page, "status", where=f"e.state === 'configured' && e.mode === '{corrected}'")
    assert events(page, "direction-corrected") == [
        {**events(page, "direction-corrected")[0], "mode": corrected}
    ]
    page.get_by_role("button", name="Stop").click()
    wait_for_event(page, "status", where="e.state === 'flushed'", timeout_s=10)
    assert console.errors == []

    # The staff history page.
    page.goto("/history")
    assert "/admin/login/" in page.url
    page.fill("#id_username", staff_user)
    page.fill("#id_password", STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/history")
    console.errors.clear()  # the admin's login page has no favicon link: /favicon.ico is a 404
    item = page.locator(f'.session[data-session="{session}"]')
    assert item.count() == 1
    utterance = item.locator(".history-utterance").first
    assert utterance.get_attribute("data-status") == "done"
    assert utterance.locator(".target .text").inner_text() == result["text"]
    assert utterance.locator(".stream-time").inner_text().endswith(" s")
    for kind in ("input", "output"):
        src = utterance.locator(f"audio[src$='/{kind}.wav']").get_attribute("src")
        assert page.request.get(src).headers["content-type"] == "audio/wav"
    links = item.locator(".export-links a")
    assert links.all_inner_texts() == ["SRT", "VTT", "TXT", "JSON"]
    vtt = page.request.get(links.nth(1).get_attribute("href"))
    assert vtt.ok and vtt.text().startswith("WEBVTT")
    assert page.locator('nav a[aria-current="page"]').inner_text() == "History"
    screenshots(page, artifacts, "history", narrow=390)
    assert console.errors == []
