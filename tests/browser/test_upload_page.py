"""The upload page in Chromium against the real stack: choose a recording, follow the job
over /ws/jobs/<id>, then play and download the translation and read both texts."""

from __future__ import annotations

import pytest

from tests.browser.conftest import events, screenshots, wait_for_event

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.timeout(240)]

JOB_TIMEOUT_S = 90


def open_upload_page(page) -> None:
    page.goto("/upload")
    page.wait_for_function("window.rutrans?.events?.some((e) => e.type === 'page-ready')")


def test_a_file_is_translated_played_and_downloadable(page, console, speech_wav, artifacts):
    wav, _ = speech_wav
    open_upload_page(page)
    submit = page.get_by_role("button", name="Translate")
    assert submit.is_disabled()

    page.get_by_label("Direction").select_option("en->ru")
    assert page.get_by_label("Russian voice").is_visible()
    assert not page.get_by_label("English voice").is_visible()
    page.get_by_label("Russian voice").select_option("xenia")
    page.set_input_files("#file", str(wav))
    assert wav.name in page.locator("#file-info").inner_text()
    submit.click()

    created = wait_for_event(page, "job-created", timeout_s=30)
    done = wait_for_event(page, "job-done", timeout_s=JOB_TIMEOUT_S)
    assert done["id"] == created["id"]
    assert (done["src"], done["tgt"]) == ("en", "ru") and done["text"]
    assert not done["tts_failed"]
    statuses = [e["status"] for e in events(page, "job-status")]
    assert statuses[-1] == "done" and statuses == sorted(
        statuses, key=["queued", "running", "done"].index
    )

    assert page.locator("#target-text").inner_text() == done["text"]
    if done["source_text"]:
        assert page.locator("#source-text").inner_text() == done["source_text"]
    assert page.locator("#job .steps li[data-step=done]").get_attribute("data-state") == "done"

    # The translation plays to its end.
    page.evaluate("document.getElementById('result-audio').play()")
    wait_for_event(page, "audio-ended", timeout_s=30)

    # And downloads as a WAV (the API's Content-Disposition names it).
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download WAV").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".wav")
    with open(download.path(), "rb") as fh:
        header = fh.read(12)
    assert header[:4] == b"RIFF" and header[8:12] == b"WAVE"

    screenshots(page, artifacts, "upload")
    assert console.errors == []


def test_dropping_a_file_chooses_it_and_a_bad_file_shows_the_error(page, console, tmp_path):
    open_upload_page(page)
    # A drop onto the zone, as a file manager would do it.
    page.evaluate(
        """() => {
          const data = new DataTransfer();
          data.items.add(new File(["not audio at all"], "notes.wav", {type: "audio/wav"}));
          const zone = document.getElementById("drop-zone");
          zone.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true}));
        }"""
    )
    assert "notes.wav" in page.locator("#file-info").inner_text()
    page.get_by_role("button", name="Translate").click()
    failed = wait_for_event(page, "job-failed", timeout_s=JOB_TIMEOUT_S)
    assert failed["error"]
    error_box = page.locator("#job-error")
    assert error_box.is_visible() and error_box.inner_text() == failed["error"]
    assert page.get_by_role("button", name="Translate another file").is_visible()
    # The API's 4xx for the bad file is the only console error allowed here.
    assert all("status of 4" in line for line in console.errors), console.errors
