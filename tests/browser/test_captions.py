"""Live captions in Chromium against the real stack with LIVE_CAPTIONS=1: while the fake
microphone is still speaking, the utterance shows provisional text (source and translation);
committed words steady, the tentative tail lighter and hidden from screen readers; then the
final replaces it in place."""

from __future__ import annotations

import pytest

from tests.browser.conftest import (
    LEAD_SILENCE_S,
    events,
    open_page,
    screenshots,
    wait_for_event,
)
from tests.stack import real_stack

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def captions_browser_stack(tmp_path_factory, model_env):
    data_dir = tmp_path_factory.mktemp("browser-captions-stack")
    env = {**model_env, "LIVE_CAPTIONS": "1", "TORCH_NUM_THREADS": "1"}
    with real_stack(data_dir, name="rutrans_browser_captions", redis_db=10, extra_env=env) as stack:
        yield stack


@pytest.fixture
def page(browser, captions_browser_stack):
    with open_page(browser, captions_browser_stack.http_url) as page:
        yield page


def test_provisional_text_while_speaking_then_the_final_in_place(
    page, console, speech_wav, artifacts
):
    _, speech_s = speech_wav
    page.goto("/")
    page.wait_for_function("window.rutrans?.events?.some((e) => e.type === 'page-ready')")
    assert page.locator("#captions").is_checked()
    page.select_option("#mode", "en->ru")
    page.get_by_role("button", name="Start").click()
    started = wait_for_event(page, "capture-started", timeout_s=15)
    configured = wait_for_event(page, "status", where="e.state === 'configured'", timeout_s=15)
    assert configured["captions"] is True

    # Provisional text appears while the microphone is still speaking.
    partial = wait_for_event(page, "partial", where="e.shown", timeout_s=30)
    speech_ends_at = started["t"] + (LEAD_SILENCE_S + speech_s) * 1000
    assert partial["seq"] == 0 and partial["text"] and partial["source_text"]
    assert partial["t"] < speech_ends_at, (partial["t"], speech_ends_at)
    entry = page.locator("#conversation .utterance").first
    assert entry.get_attribute("data-state") == "partial"
    target = entry.locator(".target .text")
    source = entry.locator(".source .text")
    assert "provisional" in target.get_attribute("class")
    # Committed words steady, the tentative tail lighter and hidden from screen readers; the
    # line reads as the newest partial shown, split where its `stable` says. Read in one
    # evaluation, so no newer partial lands between the reads.
    lines = page.evaluate(
        """() => {
          const last = window.rutrans.events.filter((e) => e.type === 'partial' && e.shown).pop();
          const entry = document.querySelector('#conversation .utterance');
          const read = (side) => {
            const line = entry.querySelector(`.${side} .text`);
            const committed = line.querySelector('.committed');
            const tentative = line.querySelector('.tentative');
            return {
              committed: committed.textContent,
              tentative: tentative.textContent,
              tentativeHidden: tentative.getAttribute('aria-hidden'),
              committedColor: getComputedStyle(committed).color,
              tentativeColor: getComputedStyle(tentative).color,
              committedFont: getComputedStyle(committed).font,
              tentativeFont: getComputedStyle(tentative).font,
            };
          };
          return { last, source: read('source'), target: read('target'),
                   entryHidden: entry.getAttribute('aria-hidden') };
        }"""
    )
    last = lines["last"]
    assert lines["entryHidden"] is None  # committed text is readable ...
    for side, text, stable in (
        ("target", last["text"], last["stable"]["text"]),
        ("source", last["source_text"], last["stable"]["source_text"]),
    ):
        line = lines[side]
        assert line["committed"] == text[:stable] and line["tentative"] == text[stable:]
        assert line["tentativeHidden"] == "true"  # ... the tentative tail is not
        assert line["tentativeColor"] != line["committedColor"]  # visibly tentative
        assert line["tentativeFont"] == line["committedFont"]  # same metrics: no reflow
    box_while_provisional = entry.bounding_box()
    page.screenshot(path=str(artifacts / "captions-provisional-1280.png"), full_page=True)

    # The final replaces it in the same entry.
    result = wait_for_event(page, "result", timeout_s=60)
    assert result["seq"] == 0 and result["text"]
    assert page.locator("#conversation .utterance").count() == 1
    assert entry.get_attribute("data-state") == "done"
    assert entry.get_attribute("aria-hidden") is None
    assert target.inner_text() == result["text"]
    assert "provisional" not in target.get_attribute("class")
    assert "provisional" not in source.get_attribute("class")
    assert page.locator("#final-announcer").inner_text() == result["text"]
    # In place: the entry did not move (its top stays; it may only grow downwards).
    assert abs(entry.bounding_box()["y"] - box_while_provisional["y"]) < 1
    # Every partial shown came before the final; none was shown after it.
    assert all(e["t"] <= result["t"] for e in events(page, "partial") if e["shown"])
    shown = [e for e in events(page, "partial") if e["shown"]]
    assert [e["part"] for e in shown] == sorted(e["part"] for e in shown)
    # Committed text was never retracted: each partial begins with every earlier one's.
    for i, earlier in enumerate(shown):
        for later in shown[i + 1 :]:
            for key in ("text", "source_text"):
                kept = earlier[key][: earlier["stable"][key]]
                assert later[key].startswith(kept), (earlier, later)

    screenshots(page, artifacts, "captions-final")
    page.get_by_role("button", name="Stop").click()
    assert console.errors == []


def test_turning_captions_off_in_the_page_tells_the_server(page, console):
    page.goto("/")
    page.wait_for_function("window.rutrans?.events?.some((e) => e.type === 'page-ready')")
    page.locator("#captions").uncheck()
    page.get_by_role("button", name="Start").click()
    configured = wait_for_event(page, "status", where="e.state === 'configured'", timeout_s=15)
    assert configured["captions"] is False
    page.get_by_role("button", name="Stop").click()
    assert console.errors == []
