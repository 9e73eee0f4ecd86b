// Unit tests for static/js/speech-fallback.js: the browser's voice when the server's speech
// fails, with a fake speechSynthesis (voice choice by language, events, unsupported browsers).
// Run: node --test tests/js/
import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";

import { parseHTML } from "linkedom";

const { document } = parseHTML(`<!doctype html><html><body>
  <script type="application/json" id="voice-catalogue">{"voices": {"ru": ["baya"], "en": ["en_0"]},
    "defaults": {"ru": "baya", "en": "en_0"}, "names": {"en": "English", "ru": "Russian"}}</script>
  <p id="empty">Nothing yet</p><ol id="conversation"></ol></body></html>`);
globalThis.document = document;
globalThis.window = new EventTarget(); // the page events (events.js) go to window.rutrans.events
const { Conversation } = await import("../../static/js/conversation.js");
const { BCP47, FALLBACK_LABEL, SpeechFallback, pickVoice, whileAudible } =
  await import("../../static/js/speech-fallback.js");

const VOICES = [
  { name: "Google English", lang: "en-GB", localService: false },
  { name: "Milena", lang: "ru_RU", localService: false },
  { name: "Yuri (local)", lang: "ru-RU", localService: true },
  { name: "Samantha", lang: "en-US", localService: true },
  { name: "Ukrainian Russian", lang: "ru-UA", localService: true },
];

class FakeUtterance {
  constructor(text) {
    this.text = text;
    this.lang = "";
    this.voice = null;
  }
}

/** speechSynthesis as the page sees it: speaks one utterance at a time, when `finish` says. */
class FakeSynth {
  constructor(voices = VOICES) {
    this.voices = voices;
    this.spoken = [];
    this.cancelled = 0;
  }
  getVoices() {
    return this.voices;
  }
  speak(utterance) {
    this.spoken.push(utterance);
    queueMicrotask(() => utterance.onstart?.());
  }
  cancel() {
    this.cancelled++;
  }
  /** The last utterance ends (or fails with `error`). */
  finish(error) {
    const utterance = this.spoken.at(-1);
    if (error) utterance.onerror?.({ error });
    else utterance.onend?.();
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const pageEvents = (type) => window.rutrans.events.filter((e) => e.type === type);

describe("pickVoice", () => {
  it("takes the exact tag, an on-device voice first", () => {
    assert.equal(pickVoice(VOICES, "ru-RU").name, "Yuri (local)");
    assert.equal(pickVoice(VOICES, "en-US").name, "Samantha");
  });

  it("falls back to the same language in another region, and to none", () => {
    assert.equal(pickVoice(VOICES.slice(0, 1), "en-US").name, "Google English");
    assert.equal(pickVoice(VOICES.slice(1, 2), "ru-RU").name, "Milena"); // "ru_RU" as Android spells it
    assert.equal(pickVoice(VOICES.slice(3), "ru-RU").name, "Ukrainian Russian");
    assert.equal(pickVoice(VOICES.slice(3, 4), "ru-RU"), null);
    assert.equal(pickVoice([], "en-US"), null);
  });
});

describe("SpeechFallback", () => {
  let synth, box;
  beforeEach(() => {
    window.rutrans.events.length = 0; // events.js keeps the list it made
    synth = new FakeSynth();
    box = { checked: true, disabled: false, title: "" };
  });

  const make = (options = {}) => new SpeechFallback({ box, synth, Utterance: FakeUtterance, ...options });

  it("speaks in the target language's tag with a matching voice, busy until it ends", async () => {
    const fallback = make({ speaker: "me" });
    const seen = [];
    fallback.addEventListener("busy", () => seen.push("busy"));
    fallback.addEventListener("idle", () => seen.push("idle"));
    const done = fallback.speak({ text: "Привет, мир", lang: "ru", seq: 3 });
    assert.equal(synth.spoken.length, 1);
    const [utterance] = synth.spoken;
    assert.deepEqual(
      [utterance.text, utterance.lang, utterance.voice.name],
      ["Привет, мир", "ru-RU", "Yuri (local)"],
    );
    await tick();
    assert.equal(fallback.speaking, true);
    assert.deepEqual(seen, ["busy"]);
    synth.finish();
    assert.equal(await done, true);
    assert.equal(fallback.speaking, false);
    assert.deepEqual(seen, ["busy", "idle"]);
    assert.deepEqual(
      pageEvents("speech-fallback").map(({ seq, lang, text, speaker, voice }) => ({
        seq,
        lang,
        text,
        speaker,
        voice,
      })),
      [{ seq: 3, lang: "ru-RU", text: "Привет, мир", speaker: "me", voice: "Yuri (local)" }],
    );
    assert.equal(pageEvents("speech-fallback-ended")[0].spoken, true);
  });

  it("leaves the voice to the browser when none matches, with the lang still set", async () => {
    synth.voices = [];
    const done = make().speak({ text: "Hello", lang: "en", seq: 0 });
    assert.deepEqual([synth.spoken[0].lang, synth.spoken[0].voice], [BCP47.en, null]);
    await tick();
    synth.finish();
    assert.equal(await done, true);
  });

  it("says nothing when the box is off, the page is muted or there is no text", async () => {
    box.checked = false;
    assert.equal(await make().speak({ text: "Привет", lang: "ru" }), false);
    box.checked = true;
    assert.equal(await make({ allowed: () => false }).speak({ text: "Привет", lang: "ru" }), false);
    assert.equal(await make().speak({ text: "", lang: "ru" }), false);
    assert.equal(synth.spoken.length, 0);
    assert.deepEqual(pageEvents("speech-fallback"), []);
  });

  it("does nothing in a browser without speechSynthesis, and disables its box", async () => {
    const fallback = make({ synth: null });
    assert.equal(fallback.supported, false);
    assert.deepEqual([box.checked, box.disabled], [false, true]);
    box.checked = true; // even if ticked by hand
    assert.equal(await fallback.speak({ text: "Привет", lang: "ru" }), false);
    assert.equal(make({ Utterance: null }).supported, false);
  });

  it("resolves false on an error and on cancel, and goes idle", async () => {
    const fallback = make();
    const seen = [];
    fallback.addEventListener("idle", () => seen.push("idle"));
    const failed = fallback.speak({ text: "Один", lang: "ru" });
    await tick();
    synth.finish("synthesis-failed");
    assert.equal(await failed, false);
    assert.equal(pageEvents("speech-fallback-ended")[0].error, "synthesis-failed");
    const cancelled = fallback.speak({ text: "Два", lang: "ru" });
    await tick();
    fallback.cancel();
    assert.equal(await cancelled, false);
    assert.equal(synth.cancelled, 1);
    assert.deepEqual(seen, ["idle", "idle"]);
    assert.equal(fallback.speaking, false);
  });
});

describe("whileAudible", () => {
  it("is playing while any source is, idle once all are", () => {
    const player = new EventTarget();
    const voice = new EventTarget();
    const changes = [];
    whileAudible([player, voice], (playing) => changes.push(playing));
    player.dispatchEvent(new Event("busy"));
    voice.dispatchEvent(new Event("busy"));
    player.dispatchEvent(new Event("idle"));
    assert.deepEqual(changes, [true]);
    voice.dispatchEvent(new Event("idle"));
    voice.dispatchEvent(new Event("idle")); // a second idle changes nothing
    assert.deepEqual(changes, [true, false]);
  });
});

describe("afterAudio", () => {
  let conversation, synth, box;
  beforeEach(() => {
    window.rutrans.events.length = 0; // events.js keeps the list it made
    const list = document.getElementById("conversation");
    conversation = new Conversation({ list, empty: document.getElementById("empty"), document });
    conversation.clear();
    synth = new FakeSynth();
    box = { checked: true, disabled: false, title: "" };
  });

  const failedEntry = (text = "Привет") => {
    const entry = conversation.entryFor("s", 0, { mode: "en->ru" });
    conversation.fillResult(entry, {
      type: "result",
      seq: 0,
      id: "r1",
      src: "en",
      tgt: "ru",
      text,
      tts_failed: false,
      timings: {},
    });
    return entry;
  };

  it("shows the server's reason and, opted in, speaks the text labelled as the browser's voice", async () => {
    const fallback = new SpeechFallback({ box, synth, Utterance: FakeUtterance });
    const entry = failedEntry();
    const spoken = fallback.afterAudio(conversation, entry, "the Piper voice is missing");
    const problem = entry.el.querySelector(".utterance-error");
    assert.equal(
      problem.textContent,
      "The voice could not be synthesised; the text is shown. the Piper voice is missing",
    );
    assert.equal(entry.replay.hidden, true);
    await tick();
    assert.equal(entry.el.querySelector(".fallback-voice").textContent, FALLBACK_LABEL);
    assert.equal(entry.el.dataset.playing, "true");
    synth.finish();
    assert.equal(await spoken, true);
    assert.equal(entry.el.dataset.playing, undefined);
    assert.equal(entry.el.dataset.fallback, "browser");
    assert.deepEqual([synth.spoken.length, synth.spoken[0].lang], [1, "ru-RU"]);
  });

  it("unchecked: the reason is shown, nothing is spoken, no label", async () => {
    box.checked = false;
    const fallback = new SpeechFallback({ box, synth, Utterance: FakeUtterance });
    const entry = failedEntry();
    assert.equal(await fallback.afterAudio(conversation, entry, ""), false);
    assert.equal(entry.el.querySelector(".utterance-error").hidden, false);
    assert.equal(entry.el.querySelector(".fallback-voice"), null);
    assert.equal(synth.spoken.length, 0);
  });

  it("speaks nothing when the server's audio came, or when nothing was heard", async () => {
    const fallback = new SpeechFallback({ box, synth, Utterance: FakeUtterance });
    const played = failedEntry();
    played.pieces.push({ wav: new Blob([]), durationS: 1 });
    assert.equal(await fallback.afterAudio(conversation, played, "piece 2 failed"), false);
    assert.equal(
      played.el.querySelector(".utterance-error").textContent,
      "Part of the audio is missing: piece 2 failed",
    );
    conversation.clear();
    const silent = failedEntry("");
    assert.equal(await fallback.afterAudio(conversation, silent), false);
    assert.equal(silent.el.querySelector(".utterance-error").hidden, true);
    assert.equal(synth.spoken.length, 0);
  });
});
