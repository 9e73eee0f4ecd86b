// Unit tests for static/js/captions.js: which partials an utterance entry may show, and how a
// line shows its committed and tentative parts.
// Run: node --test tests/js/
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  acceptsPartial,
  renderLine,
  settleEntry,
  showPartial,
  splitStable,
} from "../../static/js/captions.js";

describe("acceptsPartial", () => {
  it("takes the first and each newer partial of an open utterance", () => {
    assert.equal(acceptsPartial({ state: "pending" }, { part: 1 }), true);
    assert.equal(acceptsPartial({ state: "partial", partialPart: 1 }, { part: 2 }), true);
  });

  it("drops a partial older than (or the same as) the one shown", () => {
    assert.equal(acceptsPartial({ state: "partial", partialPart: 3 }, { part: 2 }), false);
    assert.equal(acceptsPartial({ state: "partial", partialPart: 3 }, { part: 3 }), false);
  });

  it("never replaces a final or an error", () => {
    assert.equal(acceptsPartial({ state: "done" }, { part: 9 }), false);
    assert.equal(acceptsPartial({ state: "error" }, { part: 1 }), false);
  });

  it("reads the state from the entry's element when it has one", () => {
    const entry = { el: { dataset: { state: "done" } } };
    assert.equal(acceptsPartial(entry, { part: 1 }), false);
  });
});

// Just enough DOM for the rendering: elements with text, children, classes and attributes.
// Every text write is recorded, so a test can tell an append from a rewrite.
class FakeText {
  constructor(data) {
    this.data = data;
  }
}

class FakeElement {
  constructor(doc, tag) {
    this.ownerDocument = doc;
    this.tagName = tag;
    this.children = [];
    this.attributes = new Map();
    this.className = "";
    this.lang = "";
    this.nodes = [];
    const classes = new Set();
    this.classList = {
      add: (name) => classes.add(name),
      remove: (name) => classes.delete(name),
      contains: (name) => classes.has(name),
    };
  }
  get textContent() {
    if (this.children.length) return this.children.map((c) => c.textContent).join("");
    return this.nodes.map((n) => n.data).join("");
  }
  set textContent(value) {
    this.ownerDocument.writes.push({ el: this, op: "set", value });
    this.children = [];
    this.nodes = value ? [new FakeText(value)] : [];
  }
  append(text) {
    this.ownerDocument.writes.push({ el: this, op: "append", value: text });
    this.nodes.push(new FakeText(text));
  }
  replaceChildren(...children) {
    this.children = children;
    this.nodes = [];
  }
  setAttribute(name, value) {
    this.attributes.set(name, String(value));
  }
  removeAttribute(name) {
    this.attributes.delete(name);
  }
  getAttribute(name) {
    return this.attributes.get(name) ?? null;
  }
}

function fakeDocument() {
  const doc = { writes: [] };
  doc.createElement = (tag) => new FakeElement(doc, tag);
  return doc;
}

function fakeEntry() {
  const doc = fakeDocument();
  const el = doc.createElement("li");
  el.dataset = { state: "pending" };
  const entry = { el, sourceText: doc.createElement("p"), targetText: doc.createElement("p") };
  entry.sourceText.textContent = "…";
  entry.targetText.textContent = "Translating…";
  doc.writes.length = 0;
  return { doc, entry };
}

const [committedOf, tentativeOf] = [
  (line) => line.captionSpans.committed,
  (line) => line.captionSpans.tentative,
];

describe("splitStable", () => {
  it("splits at the committed length, clamped to the text", () => {
    assert.deepEqual(splitStable("we will walk", 7), { committed: "we will", tentative: " walk" });
    assert.deepEqual(splitStable("we", 9), { committed: "we", tentative: "" });
    assert.deepEqual(splitStable("we", -1), { committed: "", tentative: "we" });
    assert.deepEqual(splitStable("we", undefined), { committed: "", tentative: "we" });
  });
});

describe("renderLine", () => {
  it("shows committed words steady and the rest tentative, hidden from screen readers", () => {
    const { doc } = fakeEntry();
    const line = doc.createElement("p");
    renderLine(line, "we will walk", 7, "en");
    assert.equal(committedOf(line).textContent, "we will");
    assert.equal(tentativeOf(line).textContent, " walk");
    assert.equal(tentativeOf(line).getAttribute("aria-hidden"), "true");
    assert.equal(committedOf(line).getAttribute("aria-hidden"), null);
    assert.equal(line.textContent, "we will walk");
    assert.equal(line.lang, "en");
    assert.ok(line.classList.contains("provisional"));
  });

  it("appends newly committed text and never rewrites what was committed", () => {
    const { doc } = fakeEntry();
    const line = doc.createElement("p");
    renderLine(line, "we will walk", 7);
    renderLine(line, "we will walk along the", 12);
    renderLine(line, "we will walk along the river", 12); // only the tentative tail changes
    const committedWrites = doc.writes.filter((w) => w.el === committedOf(line));
    assert.deepEqual(
      committedWrites.map((w) => [w.op, w.value]),
      [
        ["append", "we will"],
        ["append", " walk"],
      ],
    );
    assert.equal(committedOf(line).textContent, "we will walk");
    assert.equal(tentativeOf(line).textContent, " along the river");
  });

  it("leaves an unchanged line untouched (the reader's place holds)", () => {
    const { doc } = fakeEntry();
    const line = doc.createElement("p");
    renderLine(line, "we will walk", 7);
    const before = doc.writes.length;
    renderLine(line, "we will walk", 7);
    assert.equal(doc.writes.length, before);
  });

  it("keeps what was shown when a partial's line is empty", () => {
    const { doc } = fakeEntry();
    const line = doc.createElement("p");
    renderLine(line, "we will", 2);
    renderLine(line, "", 0);
    assert.equal(line.textContent, "we will");
  });
});

describe("showPartial and settleEntry", () => {
  it("renders both lines of a partial and leaves the entry readable (committed text only)", () => {
    const { entry } = fakeEntry();
    const partial = {
      part: 1,
      src: "en",
      tgt: "ru",
      source_text: "we will walk",
      text: "мы пойдём",
      stable: { source_text: 7, text: 2 },
    };
    assert.equal(showPartial(entry, partial), true);
    assert.equal(entry.el.dataset.state, "partial");
    assert.equal(entry.el.getAttribute("aria-hidden"), null);
    assert.equal(committedOf(entry.sourceText).textContent, "we will");
    assert.equal(committedOf(entry.targetText).textContent, "мы");
    assert.equal(tentativeOf(entry.targetText).textContent, " пойдём");
    assert.equal(showPartial(entry, { ...partial, part: 1 }), false); // not newer
  });

  it("reads a partial without `stable` as all tentative", () => {
    const { entry } = fakeEntry();
    showPartial(entry, { part: 1, source_text: "a b", text: "c d" });
    assert.equal(committedOf(entry.targetText).textContent, "");
    assert.equal(tentativeOf(entry.targetText).textContent, "c d");
  });

  it("lets the final replace the lines: spans forgotten, provisional style gone", () => {
    const { entry } = fakeEntry();
    showPartial(entry, { part: 1, source_text: "a b", text: "c d", stable: { text: 1 } });
    settleEntry(entry);
    entry.targetText.textContent = "C D E.";
    assert.equal(entry.targetText.captionSpans, undefined);
    assert.ok(!entry.targetText.classList.contains("provisional"));
    assert.equal(entry.targetText.textContent, "C D E.");
    // A later partial (never sent after a final, but say one came) starts fresh spans.
    renderLine(entry.targetText, "x y", 1);
    assert.equal(entry.targetText.textContent, "x y");
  });
});
