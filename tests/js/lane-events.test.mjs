// Unit tests for static/js/lane-events.js (the page events a lane reports, named per page) and
// static/js/original-voice.js (the call's original voice, ducked under a translation).
// Run: node --test tests/js/
import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";

globalThis.window = new EventTarget(); // the page events (events.js) go to window.rutrans.events
const { LANE_EVENTS, laneEvent, reportLane } = await import("../../static/js/lane-events.js");
const { OriginalVoice } = await import("../../static/js/original-voice.js");
const { DUCK_DB, dbToGain } = await import("../../static/js/call-echo.js");

const ME = { speaker: "me", solo: false };
const LIVE = { speaker: "me", solo: true };
const events = () =>
  window.rutrans.events.map((event) => {
    const rest = { ...event };
    delete rest.t;
    return rest;
  });

beforeEach(() => {
  window.rutrans.events.length = 0;
});

describe("laneEvent", () => {
  it("names a call lane's events lane-… with its speaker first", () => {
    assert.deepEqual(laneEvent("result", { seq: 3, pieces: 2 }, ME), [
      "lane-result",
      { speaker: "me", seq: 3, pieces: 2 },
    ]);
    assert.deepEqual(laneEvent("socket", { state: "live" }, { speaker: "them", solo: false }), [
      "lane-socket",
      { speaker: "them", state: "live" },
    ]);
  });

  it("names the live page's one lane by the live page's names, without a speaker", () => {
    assert.deepEqual(laneEvent("socket", { state: "live" }, LIVE), ["socket-state", { state: "live" }]);
    assert.deepEqual(laneEvent("error", { error: "boom", seq: 1 }, LIVE), [
      "server-error",
      { error: "boom", seq: 1 },
    ]);
    assert.equal(laneEvent("started", {}, LIVE)[0], "capture-started");
    assert.equal(laneEvent("audio", {}, LIVE)[0], "audio-piece");
  });

  it("reports nothing where the page has no such event", () => {
    assert.equal(laneEvent("queued", { seq: 1 }, LIVE), null);
    assert.equal(laneEvent("partial", { seq: 1 }, ME), null);
    assert.equal(laneEvent("notice", { message: "x" }, ME), null);
    assert.equal(laneEvent("playback-skipped", { ids: [] }, ME), null);
  });

  it("refuses a name it does not know (a typo would report nothing)", () => {
    assert.throws(() => laneEvent("resutl", {}, ME), /no lane event resutl/);
  });

  it("keeps the call page's and the live page's playback names", () => {
    for (const type of ["started", "ended", "stopped", "failed"]) {
      assert.deepEqual(LANE_EVENTS[`playback-${type}`], [`lane-playback-${type}`, `playback-${type}`]);
    }
  });
});

describe("reportLane", () => {
  it("emits the page event, or none", () => {
    reportLane("text", { seq: 1, text: "привет" }, ME);
    reportLane("text", { seq: 1, text: "hello" }, LIVE);
    reportLane("queued", { seq: 2 }, LIVE);
    assert.deepEqual(events(), [
      { type: "lane-text", speaker: "me", seq: 1, text: "привет" },
      { type: "text", seq: 1, text: "hello" },
    ]);
  });
});

class FakeParam {
  constructor(value) {
    this.value = value;
    this.targets = [];
  }
  setTargetAtTime(value, at, constant) {
    this.targets.push({ value, at, constant });
  }
}

class FakeNode {
  constructor(ctx) {
    this.context = ctx;
    this.gain = new FakeParam(1);
    this.connected = [];
    this.disconnected = false;
  }
  connect(node) {
    this.connected.push(node);
    return node;
  }
  disconnect() {
    this.disconnected = true;
  }
}

function fakeContext() {
  const ctx = { currentTime: 4.5, destination: { name: "destination" }, made: [] };
  ctx.createMediaStreamSource = (stream) => {
    const node = new FakeNode(ctx);
    node.stream = stream;
    ctx.made.push(node);
    return node;
  };
  ctx.createGain = () => {
    const node = new FakeNode(ctx);
    ctx.made.push(node);
    return node;
  };
  return ctx;
}

describe("OriginalVoice", () => {
  it("plays the stream through a gain to the lane's output, ducked if a translation plays", () => {
    const ctx = fakeContext();
    const voice = new OriginalVoice("them");
    assert.equal(voice.gain, null);
    voice.play(ctx, "call-stream", true);
    const [source, gain] = ctx.made;
    assert.equal(source.stream, "call-stream");
    assert.deepEqual(source.connected, [gain]);
    assert.deepEqual(gain.connected, [ctx.destination]);
    assert.equal(voice.gain, dbToGain(DUCK_DB));
    assert.deepEqual(events(), [{ type: "original-playing", speaker: "them", gain: dbToGain(DUCK_DB) }]);
  });

  it("ducks and raises with a short ramp, and stops by disconnecting", () => {
    const ctx = fakeContext();
    const voice = new OriginalVoice("them");
    voice.duck(true); // not playing: nothing to duck
    voice.play(ctx, "s", false);
    const [source, gain] = ctx.made;
    assert.equal(voice.gain, 1);
    voice.duck(true);
    voice.duck(false);
    assert.deepEqual(
      gain.gain.targets.map(({ value, at }) => [value, at]),
      [
        [dbToGain(DUCK_DB), 4.5],
        [1, 4.5],
      ],
    );
    assert.deepEqual(
      events().filter((e) => e.type === "ducking"),
      [
        { type: "ducking", speaker: "them", db: DUCK_DB },
        { type: "ducking", speaker: "them", db: 0 },
      ],
    );
    voice.stop();
    assert.ok(source.disconnected && gain.disconnected);
    assert.equal(voice.gain, null);
  });
});
