// Unit tests for static/js/level.js: the meter's scale (-60..0 dBFS) and its gentle fall.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { nextLevel } from "../../static/js/level.js";

describe("nextLevel", () => {
  it("maps RMS to a -60..0 dBFS bar and rises at once", () => {
    assert.equal(nextLevel(1, 0), 1);
    assert.equal(nextLevel(0.001, 0), 0); // -60 dBFS: the floor
    assert.ok(Math.abs(nextLevel(0.0316, 0) - 0.5) < 0.001); // -30 dBFS: half
  });

  it("falls by 15 % of the gap per update, not at once", () => {
    assert.ok(Math.abs(nextLevel(0, 1) - 0.85) < 1e-9);
    assert.ok(nextLevel(0.001, 0.5) < 0.5 && nextLevel(0.001, 0.5) > 0.4);
  });
});
