"""The browser's voice when the server's speech fails, in Chromium against the real stack.

The stack's default Russian voice is a Piper voice whose files are missing (an empty
PIPER_VOICES_DIR), so every English → Russian utterance comes back as text with no audio and
the reason (`tts_failed`). window.speechSynthesis is stubbed by an init script that records
each utterance and ends it when the test says (headless Chromium may have no voices at all).
Opted in, the page speaks the translation once in ru-RU, labelled "browser voice", and holds
its input while it speaks as it does for the server's audio; not opted in (the default), it
shows the text and the reason and says nothing."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ConsoleLog, events, open_page, screenshots, wait_for_event
from tests.stack import real_stack

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.timeout(300)]

DENIS = "piper:ru_RU-denis-medium"
RESULT_TIMEOUT_S = 90
REASON = "ru_RU-denis-medium is missing"

# speechSynthesis with one Russian and one English voice; an utterance starts at once and ends
# when window.__endSpeech() is called. getDisplayMedia (the call page's "them" lane) is a
# silent stream: only the "me" lane (the fake microphone's English) speaks.
INIT_SCRIPT = """
window.__spoken = [];
const pending = [];
const voices = [
  { name: "Test Russian", lang: "ru-RU", localService: true, voiceURI: "test-ru", default: false },
  { name: "Test English", lang: "en-US", localService: true, voiceURI: "test-en", default: true },
];
class FakeUtterance {
  constructor(text) { this.text = text; this.lang = ""; this.voice = null; }
}
const synth = {
  getVoices: () => voices,
  speak(utterance) {
    const { text, lang, voice } = utterance;
    window.__spoken.push({ text, lang, voice: voice?.name ?? null });
    pending.push(utterance);
    setTimeout(() => utterance.onstart?.(), 20);
  },
  cancel() {},
};
Object.defineProperty(window, "speechSynthesis", { value: synth, configurable: true });
window.SpeechSynthesisUtterance = FakeUtterance;
window.__endSpeech = () => { for (const utterance of pending.splice(0)) utterance.onend?.(); };
navigator.mediaDevices.getDisplayMedia = async () => {
  const ctx = new AudioContext({ sampleRate: 48000 });
  return ctx.createMediaStreamDestination().stream;
};
"""


@pytest.fixture(scope="module")
def fallback_stack(tmp_path_factory, tiny_models):
    """The tiny real-format models (the voice router, not the doubles), a missing Piper voice
    as the default Russian voice."""
    no_voices = tmp_path_factory.mktemp("no-piper-voices")
    env = {**tiny_models, "TTS_VOICE_RU": DENIS, "PIPER_VOICES_DIR": str(no_voices)}
    data_dir = tmp_path_factory.mktemp("fallback-stack")
    with real_stack(data_dir, name="rutrans_fallback", redis_db=15, extra_env=env) as stack:
        yield stack


@pytest.fixture
def fallback_page(browser, fallback_stack):
    with open_page(browser, fallback_stack.http_url, init_script=INIT_SCRIPT) as page:
        yield page


def load(page, path: str) -> None:
    page.goto(path)
    page.wait_for_function("window.rutrans?.events?.some((e) => e.type === 'page-ready')")


def spoken(page) -> list[dict]:
    return page.evaluate("window.__spoken")


def opt_in(page, path: str) -> None:
    """Tick the box, and see that the page remembers it."""
    box = page.get_by_label("Speak with the browser's voice when the server's speech fails")
    assert not box.is_checked()  # off by default
    box.check()
    load(page, path)
    assert box.is_checked()


def start_live(page) -> None:
    page.select_option("#mode", "en->ru")
    page.get_by_role("button", name="Start").click()
    wait_for_event(page, "capture-started", timeout_s=15)


def test_live_page_speaks_a_failed_translation_with_the_browsers_voice(fallback_page, artifacts):
    page = fallback_page
    console = ConsoleLog(page)
    load(page, "/")
    opt_in(page, "/")
    start_live(page)

    result = wait_for_event(page, "result", timeout_s=RESULT_TIMEOUT_S)
    assert result["text"] and result["tgt"] == "ru"
    assert result["tts_failed"] and result["wavBytes"] == 0 and REASON in result["audioError"]
    said = wait_for_event(page, "speech-fallback", timeout_s=5)
    assert (said["seq"], said["lang"], said["text"]) == (result["seq"], "ru-RU", result["text"])
    assert spoken(page) == [{"text": result["text"], "lang": "ru-RU", "voice": "Test Russian"}]

    entry = page.locator("#conversation .utterance").first
    label = entry.locator(".fallback-voice")
    label.wait_for(timeout=5000)
    assert label.inner_text() == "browser voice"
    assert entry.locator(".target .text").inner_text() == result["text"]
    assert "could not be synthesised" in entry.locator(".utterance-error").inner_text()
    assert REASON in entry.locator(".utterance-error").inner_text()
    # While the browser speaks, the input is held as for the server's audio.
    assert entry.get_attribute("data-playing") == "true"
    assert page.evaluate("window.rutrans.live.state.paused") is True
    screenshots(page, artifacts, "speech-fallback-live")

    page.evaluate("window.__endSpeech()")
    ended = wait_for_event(page, "speech-fallback-ended", timeout_s=5)
    assert ended["spoken"] is True
    page.wait_for_function("window.rutrans.live.state.paused === false", timeout=3000)
    assert entry.get_attribute("data-playing") is None
    page.get_by_role("button", name="Stop").click()
    wait_for_event(page, "status", where="e.state === 'flushed'", timeout_s=30)
    assert len(spoken(page)) == 1  # once
    assert console.errors == []


def test_live_page_unchecked_says_nothing(fallback_page):
    page = fallback_page
    console = ConsoleLog(page)
    load(page, "/")
    start_live(page)
    result = wait_for_event(page, "result", timeout_s=RESULT_TIMEOUT_S)
    assert result["text"] and result["tts_failed"]
    page.wait_for_timeout(1000)
    assert spoken(page) == [] and events(page, "speech-fallback") == []
    entry = page.locator("#conversation .utterance").first
    assert "could not be synthesised" in entry.locator(".utterance-error").inner_text()
    assert entry.locator(".fallback-voice").count() == 0
    assert page.evaluate("window.rutrans.live.state.paused") is False
    assert console.errors == []


def test_call_page_speaks_a_failed_translation_and_the_echo_guard_holds(fallback_page, artifacts):
    page = fallback_page
    console = ConsoleLog(page)
    load(page, "/call")
    opt_in(page, "/call")
    page.get_by_role("button", name="Start call").click()
    wait_for_event(page, "call-started", timeout_s=20)

    me = wait_for_event(page, "lane-result", where="e.speaker === 'me'", timeout_s=RESULT_TIMEOUT_S)
    assert (me["src"], me["tgt"]) == ("en", "ru") and me["text"] and me["pieces"] == 0
    said = wait_for_event(page, "speech-fallback", where="e.speaker === 'me'", timeout_s=5)
    assert (said["lang"], said["text"]) == ("ru-RU", me["text"])
    assert spoken(page) == [{"text": me["text"], "lang": "ru-RU", "voice": "Test Russian"}]

    entry = page.locator("#conversation .utterance[data-speaker='me']").first
    entry.locator(".fallback-voice").wait_for(timeout=5000)
    assert entry.locator(".fallback-voice").inner_text() == "browser voice"
    assert REASON in entry.locator(".utterance-error").inner_text()
    # My translation is "playing": the other lane's input is held (the echo guard).
    state = page.evaluate("window.rutrans.call.state")
    assert state["me"]["fallbackSpeaking"] is True
    assert state["them"]["guarded"] is True and state["them"]["paused"] is True
    screenshots(page, artifacts, "speech-fallback-call")

    page.evaluate("window.__endSpeech()")
    wait_for_event(page, "speech-fallback-ended", timeout_s=5)
    page.wait_for_function("window.rutrans.call.state.them.paused === false", timeout=3000)
    assert page.evaluate("window.rutrans.call.state.them.guarded") is False
    page.get_by_role("button", name="Stop call").click()
    page.wait_for_timeout(500)
    assert len(spoken(page)) == 1
    assert console.errors == []


def test_call_page_unchecked_says_nothing(fallback_page):
    page = fallback_page
    load(page, "/call")
    page.get_by_role("button", name="Start call").click()
    me = wait_for_event(page, "lane-result", where="e.speaker === 'me'", timeout_s=RESULT_TIMEOUT_S)
    assert me["text"] and me["pieces"] == 0
    page.wait_for_timeout(1000)
    assert spoken(page) == [] and events(page, "speech-fallback") == []
    entry = page.locator("#conversation .utterance[data-speaker='me']").first
    assert "could not be synthesised" in entry.locator(".utterance-error").inner_text()
    assert entry.locator(".fallback-voice").count() == 0
    assert page.evaluate("window.rutrans.call.state.them.guarded") is False
