// Unit tests for static/js/protocol.js: call ids and modes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { CALL_ID_PATTERN, modeLanguages, newCallId } from "../../static/js/protocol.js";

describe("newCallId", () => {
  it("is 32 lower-case hex characters, different each time", () => {
    const ids = new Set(Array.from({ length: 50 }, newCallId));
    assert.equal(ids.size, 50);
    for (const id of ids) assert.match(id, CALL_ID_PATTERN);
  });
});

describe("modeLanguages", () => {
  it("splits a fixed direction and leaves auto's target open", () => {
    assert.deepEqual(modeLanguages("en->ru"), ["en", "ru"]);
    assert.deepEqual(modeLanguages("ru->en"), ["ru", "en"]);
    assert.deepEqual(modeLanguages("auto"), ["auto", null]);
  });
});
