// Unit tests for static/js/settings.js: what a stored (maybe stale or broken) settings entry
// becomes. Run: node --test tests/js/
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { LIVE_DEFAULTS, loadStored, readLiveSettings, saveStored } from "../../static/js/settings.js";

const OFFERED = { modes: ["auto", "en->ru", "ru->en"], catchUpModes: ["speed+skip", "speed", "skip", "off"] };

function memoryStorage(initial = {}) {
  const items = new Map(Object.entries(initial));
  return {
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => items.set(key, String(value)),
    items,
  };
}

describe("loadStored / saveStored", () => {
  it("round-trips an object", () => {
    const storage = memoryStorage();
    saveStored(storage, "k", { mode: "en->ru", mute: true });
    assert.deepEqual(loadStored(storage, "k"), { mode: "en->ru", mute: true });
  });

  it("reads nothing, broken JSON, arrays and scalars as an empty object", () => {
    const storage = memoryStorage({ broken: "{", list: "[1]", number: "3", nothing: "null" });
    for (const key of ["missing", "broken", "list", "number", "nothing"]) {
      assert.deepEqual(loadStored(storage, key), {});
    }
  });

  it("ignores a storage that refuses to write", () => {
    const full = {
      setItem() {
        throw new Error("QuotaExceededError");
      },
    };
    assert.doesNotThrow(() => saveStored(full, "k", { a: 1 }));
  });
});

describe("readLiveSettings", () => {
  it("gives the defaults for an empty entry", () => {
    assert.deepEqual(readLiveSettings({}, OFFERED), { ...LIVE_DEFAULTS, voice: { ru: "", en: "" } });
  });

  it("keeps every valid stored field", () => {
    const stored = {
      mode: "ru->en",
      source: "display",
      voice: { ru: "baya", en: "en_3" },
      mute: true,
      pauseWhilePlaying: false,
      pushToTalk: true,
      catchUp: "skip",
      captions: false,
      keepRecordings: false,
    };
    assert.deepEqual(readLiveSettings(stored, OFFERED), stored);
  });

  it("replaces each unknown or mistyped field by its default, keeping the others", () => {
    const settings = readLiveSettings(
      {
        mode: "de->fr",
        source: "camera",
        voice: { ru: 7, en: "en_1" },
        mute: "yes",
        catchUp: "warp",
        captions: false,
      },
      OFFERED,
    );
    assert.equal(settings.mode, "auto");
    assert.equal(settings.source, "mic");
    assert.deepEqual(settings.voice, { ru: "", en: "en_1" });
    assert.equal(settings.mute, false);
    assert.equal(settings.catchUp, "speed+skip");
    assert.equal(settings.captions, false);
  });
});
