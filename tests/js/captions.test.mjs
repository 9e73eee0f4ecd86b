// Unit tests for static/js/captions.js: which partials an utterance entry may show.
// Run: node --test tests/js/
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { acceptsPartial } from "../../static/js/captions.js";

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
