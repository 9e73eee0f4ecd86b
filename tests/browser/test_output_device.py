"""The speaker picker in Chromium: it lists Chrome's fake audio outputs once the microphone is
allowed, routes the translations with AudioContext.setSinkId (hooked here), and remembers the
choice in this browser."""

from __future__ import annotations

import pytest

from tests.browser.conftest import wait_for_event

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.timeout(120)]

# Records every AudioContext.setSinkId call, then lets it through.
HOOK_SET_SINK_ID = """
window.__sinkCalls = [];
const original = AudioContext.prototype.setSinkId;
AudioContext.prototype.setSinkId = function (deviceId) {
  window.__sinkCalls.push(deviceId);
  return original.call(this, deviceId);
};
"""


def open_and_start(page) -> None:
    page.goto("/")
    page.wait_for_function("window.rutrans?.events?.some((e) => e.type === 'page-ready')")
    page.get_by_role("button", name="Start").click()
    wait_for_event(page, "capture-started", timeout_s=15)


def test_picker_lists_fake_outputs_calls_set_sink_id_and_remembers(page, console):
    page.add_init_script(HOOK_SET_SINK_ID)
    open_and_start(page)
    listed = wait_for_event(page, "output-devices", where="e.labels.length > 0", timeout_s=10)
    assert "Fake Audio Output 1" in listed["labels"]
    options = page.locator("#output-device option").all_inner_texts()
    assert options[0] == "System default" and "Fake Audio Output 1" in options
    assert "Fake Default Audio Output" not in options  # the same as "System default"

    page.select_option("#output-device", label="Fake Audio Output 1")
    chosen = wait_for_event(page, "output-device", where="e.label === 'Fake Audio Output 1'")
    device_id = chosen["deviceId"]
    assert device_id and page.evaluate("window.__sinkCalls") == [device_id]
    assert page.evaluate("window.rutrans.live.state.sinkId") == device_id
    assert page.locator("#output-hint").is_hidden()

    # Kept in this browser: after a reload the same output is chosen and routed again.
    page.reload()
    open_and_start(page)
    page.wait_for_function("(id) => window.__sinkCalls.includes(id)", arg=device_id)
    assert page.locator("#output-device").input_value() == device_id

    # Back to the system default.
    page.select_option("#output-device", label="System default")
    page.wait_for_function("window.__sinkCalls.at(-1) === ''")
    page.get_by_role("button", name="Stop").click()
    assert console.errors == []
