// Unit tests for static/js/capacity.js: the busy / refused line and when it is hidden.
// Run: node --test tests/js/
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { CapacityBanner, capacityText } from "../../static/js/capacity.js";

const BUSY = { type: "status", state: "busy", lag_s: 7.4, queued: 12, captions_paused: false, message: "" };

describe("capacityText", () => {
  it("says how far behind the translations are", () => {
    assert.equal(capacityText(BUSY), "Translator busy: translations 7 s behind");
    assert.equal(
      capacityText({ ...BUSY, lag_s: 3.2, captions_paused: true }),
      "Translator busy: translations 3 s behind; live captions paused",
    );
    assert.equal(capacityText({ ...BUSY, lag_s: 0.2 }), "Translator busy: translations 1 s behind");
  });

  it("says why a connection was refused and when it tries again", () => {
    const refused = { ...BUSY, state: "refused", retry_after_s: 30, message: "translator full" };
    assert.equal(
      capacityText(refused),
      "Translator busy: not connected (translator full). Trying again in 30 s",
    );
  });

  it("says the history is paused while the database is away", () => {
    const paused = { type: "status", state: "history_paused", seq: 3, message: "history paused" };
    assert.equal(capacityText(paused), "History paused: the database is not reachable; translation goes on");
  });

  it("says recordings are paused while the disk is full", () => {
    const full = { type: "status", state: "recording_paused", seq: 1, message: "disk full" };
    assert.equal(capacityText(full), "Recordings paused: the server's disk is full; translation goes on");
  });

  it("names the sentence the history could not keep", () => {
    const lost = { type: "status", state: "history_lost", seq: 4, message: "not kept" };
    assert.equal(capacityText(lost), "Sentence 5 is not kept in the history: the database was away too long");
  });

  it("has nothing to say once the workers caught up", () => {
    assert.equal(capacityText({ ...BUSY, state: "clear", lag_s: 0 }), null);
  });
});

describe("CapacityBanner", () => {
  const element = () => ({ textContent: "", hidden: true, dataset: {} });

  it("shows busy, then hides on clear", () => {
    const el = element();
    const banner = new CapacityBanner(el);
    assert.equal(banner.update(BUSY), true);
    assert.deepEqual([el.hidden, el.dataset.state, el.textContent], [false, "busy", capacityText(BUSY)]);
    assert.equal(banner.update({ ...BUSY, state: "clear" }), true);
    assert.deepEqual([el.hidden, el.textContent], [true, ""]);
  });

  it("ignores the other statuses", () => {
    const el = element();
    assert.equal(new CapacityBanner(el).update({ type: "status", state: "queued", seq: 0 }), false);
    assert.equal(el.hidden, true);
  });
});
