// Unit tests for static/js/conversation.js: utterance entries in a real DOM (linkedom), filled
// by results, kept in clock order across lanes, and the latency label.
import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";

import { parseHTML } from "linkedom";

const { document, window } = parseHTML(`<!doctype html><html><body>
  <script type="application/json" id="voice-catalogue">{"voices": {"ru": ["baya"], "en": ["en_0"]},
    "defaults": {"ru": "baya", "en": "en_0"}, "names": {"en": "English", "ru": "Russian"}}</script>
  <p id="empty">Nothing yet</p><ol id="conversation"></ol></body></html>`);
globalThis.document = document;
globalThis.window = window;
const { Conversation, describeTimings, directionText } = await import("../../static/js/conversation.js");

/** @returns {any} */
function result(fields = {}) {
  return {
    type: "result",
    seq: 0,
    id: "r1",
    src: "en",
    tgt: "ru",
    text: "Привет",
    source_text: "Hello",
    tts_failed: false,
    timings: { endpoint_ms: 300, queue_ms: 10, ast_ms: 400, first_audio_ms: 650, push_ms: 5 },
    ...fields,
  };
}

describe("Conversation", () => {
  let list, empty, conversation, replays;
  beforeEach(() => {
    list = document.getElementById("conversation");
    empty = document.getElementById("empty");
    replays = [];
    conversation = new Conversation({ list, empty, document, onReplay: (entry) => replays.push(entry.key) });
    conversation.clear();
  });

  it("makes one pending entry per utterance and hides the empty text", () => {
    const entry = conversation.entryFor(1, 0, { id: "r1", mode: "en->ru" });
    assert.equal(conversation.entryFor(1, 0), entry);
    assert.equal(list.children.length, 1);
    assert.equal(empty.hidden, true);
    assert.equal(entry.el.dataset.state, "pending");
    assert.equal(entry.el.dataset.id, "r1");
    assert.equal(entry.direction.textContent, "EN → RU");
    assert.equal(entry.targetText.textContent, "Translating…");
  });

  it("fills a result: both lines, their languages, the direction and the latency", () => {
    const entry = conversation.entryFor(1, 0);
    conversation.fillResult(entry, result());
    assert.equal(entry.el.dataset.state, "done");
    assert.equal(entry.sourceText.textContent, "Hello");
    assert.equal(entry.sourceText.lang, "en");
    assert.equal(entry.targetText.textContent, "Привет");
    assert.equal(entry.targetText.lang, "ru");
    assert.equal(entry.sourceLabel.textContent, "English");
    assert.equal(entry.targetLabel.textContent, "Russian");
    assert.equal(entry.direction.getAttribute("aria-label"), "English to Russian");
    assert.equal(entry.latency.textContent, "965 ms");
  });

  it("labels call lanes and keeps their utterances in the order of the call's clock", () => {
    const later = conversation.entryFor(1, 0, { speaker: "them", startS: 4.0 });
    const earlier = conversation.entryFor(1, 0, { speaker: "me", startS: 1.5 });
    const middle = conversation.entryFor(2, 0, { speaker: "me" });
    conversation.fillResult(middle, result({ start_s: 2.5, end_s: 3.0 }));
    const order = [...list.children].map((li) => li.querySelector(".speaker").textContent);
    assert.deepEqual(order, ["Me", "Me", "Them"]);
    assert.deepEqual([...list.children], [earlier.el, middle.el, later.el]);
    assert.equal(later.el.dataset.speaker, "them");
  });

  it("marks what was still on its way as lost, for one lane only", () => {
    const me = conversation.entryFor(1, 0, { speaker: "me" });
    const them = conversation.entryFor(1, 0, { speaker: "them" });
    conversation.markLost("them");
    assert.equal(me.el.dataset.state, "pending");
    assert.equal(them.el.dataset.state, "error");
    assert.match(them.el.querySelector(".utterance-error").textContent, /connection was lost/);
  });

  it("replays an entry only once it has audio", () => {
    const entry = conversation.entryFor(1, 0);
    entry.replay.disabled = false;
    entry.replay.dispatchEvent(new window.Event("click"));
    assert.deepEqual(replays, []);
    entry.pieces.push({ wav: null, durationS: 1 });
    entry.replay.dispatchEvent(new window.Event("click"));
    assert.deepEqual(replays, ["1:0"]);
  });

  it("adds notices between the utterances", () => {
    conversation.addNotice("Sharing stopped.", "info");
    assert.equal(list.lastElementChild.className, "notice notice-info");
    assert.equal(list.lastElementChild.getAttribute("role"), "status");
  });
});

describe("describeTimings", () => {
  it("sums what the listener waits for and lists each stage", () => {
    const { label, detail, waitMs } = describeTimings({
      endpoint_ms: 700,
      queue_ms: 20,
      lid_ms: 30,
      ast_ms: 500,
      push_ms: 4,
    });
    assert.equal(waitMs, 1254);
    assert.equal(label, "1.3 s");
    assert.equal(
      detail,
      "end of speech 700 ms · queue 20 ms · language ID 30 ms · translation 500 ms · delivery 4 ms",
    );
  });

  it("counts the first audio instead of the models once it is known", () => {
    assert.equal(describeTimings({ ast_ms: 400, first_audio_ms: 600 }).waitMs, 600);
  });
});

describe("directionText", () => {
  it("names a fixed direction and auto-detect", () => {
    assert.equal(directionText("ru->en"), "RU → EN");
    assert.equal(directionText("auto"), "Auto-detect");
  });
});
