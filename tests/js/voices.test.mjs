// Unit tests for static/js/voices.js: how the pickers name and group the server's voices.
// Run: node --test tests/js/
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { voiceGroups, voiceLabel } from "../../static/js/voices.js";

const voices = { ru: ["baya", "piper:ru_RU-denis-medium", "mystery"], en: ["en_0"] };
const details = {
  baya: { name: "Baya (female)", engine: "silero", licence: "CC BY-NC-SA 4.0 (non-commercial)" },
  "piper:ru_RU-denis-medium": { name: "Denis (male)", engine: "piper", licence: "CC0" },
  en_0: { name: "Speaker 0", engine: "silero", licence: "CC BY-NC-SA 4.0 (non-commercial)" },
};

describe("voiceLabel", () => {
  it("shows the readable name and the licence, not the raw id", () => {
    assert.equal(voiceLabel("en_0", details), "Speaker 0 — CC BY-NC-SA 4.0 (non-commercial)");
    assert.equal(voiceLabel("piper:ru_RU-denis-medium", details), "Denis (male) — CC0");
  });

  it("falls back to the id for a voice the server did not describe", () => {
    assert.equal(voiceLabel("mystery", details), "mystery");
  });
});

describe("voiceGroups", () => {
  it("groups a language's voices by engine, in the server's order", () => {
    assert.deepEqual(voiceGroups("ru", voices, details), [
      { engine: "silero", label: "Silero", voices: [{ id: "baya", label: voiceLabel("baya", details) }] },
      {
        engine: "piper",
        label: "Piper",
        voices: [{ id: "piper:ru_RU-denis-medium", label: "Denis (male) — CC0" }],
      },
      { engine: "other", label: "other", voices: [{ id: "mystery", label: "mystery" }] },
    ]);
  });

  it("is empty for a language without voices", () => {
    assert.deepEqual(voiceGroups("de", voices, details), []);
  });
});
