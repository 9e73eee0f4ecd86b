// Unit tests for static/js/playback.js: order of pieces, keeping up (speed and skip), the
// WAV header parser. The browser output is replaced by a fake that plays nothing.
// Run: node --test tests/js/
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  DEFAULT_CATCH_UP,
  PlaybackQueue,
  catchUpRate,
  staleItems,
  wavDurationS,
} from "../../static/js/playback.js";

const settle = () => new Promise((resolve) => setImmediate(resolve));

class FakeOutput {
  constructor() {
    this.plays = [];
    this.sinkId = null;
  }

  context() {}

  async setSinkId(id) {
    this.sinkId = id;
  }

  play(wav, { rate }) {
    let end;
    const handle = {
      wav,
      rate,
      positionS: 0,
      stopped: false,
      started: Promise.resolve(),
      ended: new Promise((resolve) => (end = resolve)),
      stop() {
        this.stopped = true;
        end({ peak: 0, duration: 0 });
      },
      setRate(next) {
        this.rate = next;
      },
      position() {
        return this.positionS;
      },
      finish() {
        end({ peak: 0.5, duration: 1 });
      },
    };
    this.plays.push(handle);
    return handle;
  }
}

function piece(name, durationS, key) {
  return { wav: name, durationS, key, id: name };
}

function recorder(queue, ...types) {
  const seen = [];
  for (const type of types) queue.addEventListener(type, ({ detail }) => seen.push({ type, ...detail }));
  return seen;
}

describe("PlaybackQueue order", () => {
  it("plays live pieces by [connection, seq, piece]; a replay after what was queued before it", async () => {
    const output = new FakeOutput();
    const queue = new PlaybackQueue({ output });
    queue.setCatchUp("off");
    queue.enqueue(piece("s0p0", 1, [1, 0, 0]));
    queue.enqueue({ wav: "replay", durationS: 1, replay: true, id: "r" });
    queue.enqueue(piece("s1p0", 1, [1, 1, 0]));
    queue.enqueue(piece("s0p1", 1, [1, 0, 1]));
    queue.enqueue(piece("next-connection", 1, [2, 0, 0]));
    await settle();
    for (let i = 0; i < 5; i++) {
      output.plays.at(-1).finish();
      await settle();
    }
    assert.deepEqual(
      output.plays.map((p) => p.wav),
      ["s0p0", "replay", "s0p1", "s1p0", "next-connection"],
    );
    assert.equal(queue.playing, false);
  });

  it("routes audio to the chosen output device", async () => {
    const output = new FakeOutput();
    const queue = new PlaybackQueue({ output });
    await queue.setSinkId("headphones-id");
    assert.equal(output.sinkId, "headphones-id");
  });

  it("drops live pieces when muted, keeps replays", async () => {
    const output = new FakeOutput();
    const queue = new PlaybackQueue({ output });
    queue.setMuted(true);
    assert.equal(queue.enqueue(piece("live", 1, [1, 0, 0])), false);
    assert.equal(queue.enqueue({ wav: "again", durationS: 1, replay: true }), true);
    await settle();
    assert.deepEqual(
      output.plays.map((p) => p.wav),
      ["again"],
    );
    queue.clear();
    await settle();
  });
});

describe("keeping up", () => {
  it("counts what waits, and the rest of what plays, as behind", async () => {
    const output = new FakeOutput();
    const queue = new PlaybackQueue({ output });
    queue.setCatchUp("off");
    queue.enqueue(piece("a", 4, [1, 0, 0]));
    queue.enqueue(piece("b", 3, [1, 0, 1]));
    await settle();
    assert.equal(queue.behindS, 7);
    output.plays[0].positionS = 2.5;
    assert.equal(queue.behindS, 4.5);
    queue.clear();
    await settle();
    assert.equal(queue.behindS, 0);
  });

  it("speeds up with the backlog, within the limit", () => {
    const options = { ...DEFAULT_CATCH_UP, mode: "speed" };
    assert.equal(catchUpRate(0, options), 1);
    assert.equal(catchUpRate(options.targetS, options), 1);
    assert.equal(catchUpRate(options.targetS + options.rampS / 2, options), 1.25);
    assert.equal(catchUpRate(1000, options), options.maxRate);
    assert.equal(catchUpRate(1000, { ...options, mode: "off" }), 1);
    assert.equal(catchUpRate(1000, { ...options, mode: "skip" }), 1);
  });

  it("plays faster as pieces pile up and tells how far behind it is", async () => {
    const output = new FakeOutput();
    const queue = new PlaybackQueue({ output });
    queue.setCatchUp("speed");
    const lags = recorder(queue, "lag");
    queue.enqueue(piece("first", 2, [1, 0, 0]));
    await settle();
    assert.equal(output.plays[0].rate, 1); // 2 s behind: fine
    for (let seq = 1; seq <= 6; seq++) queue.enqueue(piece(`s${seq}`, 3, [1, seq, 0]));
    assert.equal(queue.behindS, 20);
    output.plays[0].finish();
    await settle();
    assert.equal(output.plays[1].rate, 1.5); // 18 s waiting: the fastest allowed
    assert.deepEqual(lags.at(-1), { type: "lag", behindS: 18, rate: 1.5, mode: "speed" });
    assert.equal(output.plays.length, 2); // nothing skipped in "speed"
    queue.clear();
    await settle();
  });

  it("skips the oldest waiting pieces beyond the limit, never the one playing or replays", async () => {
    const output = new FakeOutput();
    const queue = new PlaybackQueue({ output });
    queue.setCatchUp("skip");
    const skipped = recorder(queue, "skipped");
    queue.enqueue(piece("playing", 3, [1, 0, 0]));
    await settle();
    queue.enqueue({ wav: "replay", durationS: 2, replay: true, id: "r" });
    for (let seq = 1; seq <= 5; seq++) queue.enqueue(piece(`s${seq}`, 3, [1, seq, 0]));
    // At s3, 3 + 2 + 9 = 14 s > 12 s: the oldest live pieces go until 4 s is left or only
    // the newest (s3) remains; at s5 (14 s again) the same.
    assert.deepEqual(
      skipped.map((e) => [e.items.map((item) => item.wav), e.seconds]),
      [
        [["s1", "s2"], 6],
        [["s3", "s4"], 6],
      ],
    );
    assert.deepEqual(
      queue._items.map((item) => item.wav),
      ["replay", "s5"],
    );
    assert.equal(queue.behindS, 8);
    assert.equal(output.plays[0].stopped, false);
    queue.clear();
    await settle();
  });

  it("plans what is stale without touching anything", () => {
    const waiting = [
      { durationS: 5, id: "a" },
      { durationS: 5, id: "b", replay: true },
      { durationS: 5, id: "c" },
      { durationS: 5, id: "d" },
    ];
    const options = { ...DEFAULT_CATCH_UP, mode: "speed+skip" };
    assert.deepEqual(
      staleItems(waiting, 1, options).map((i) => i.id),
      ["a", "c"],
    );
    assert.deepEqual(staleItems(waiting, 1, { ...options, mode: "speed" }), []);
    assert.deepEqual(staleItems(waiting.slice(0, 2), 1, options), []); // 11 s: within 12 s
  });

  it("rejects an unknown mode", () => {
    assert.throws(() => new PlaybackQueue({ output: new FakeOutput() }).setCatchUp("warp"), RangeError);
  });
});

describe("wavDurationS", () => {
  function wav(sampleRate, samples, extraChunk = false) {
    const extra = extraChunk ? 12 : 0;
    const buffer = new ArrayBuffer(44 + extra + samples * 2);
    const view = new DataView(buffer);
    const put = (at, text) => [...text].forEach((c, i) => view.setUint8(at + i, c.charCodeAt(0)));
    put(0, "RIFF");
    view.setUint32(4, buffer.byteLength - 8, true);
    put(8, "WAVE");
    put(12, "fmt ");
    view.setUint32(16, 16, true);
    view.setUint16(20, 1, true);
    view.setUint16(22, 1, true);
    view.setUint32(24, sampleRate, true);
    view.setUint32(28, sampleRate * 2, true);
    view.setUint16(32, 2, true);
    view.setUint16(34, 16, true);
    let at = 36;
    if (extraChunk) {
      put(at, "LIST");
      view.setUint32(at + 4, 4, true);
      at += 12;
    }
    put(at, "data");
    view.setUint32(at + 4, samples * 2, true);
    return buffer;
  }

  it("reads the duration of a PCM_16 WAV from its header", () => {
    assert.equal(wavDurationS(wav(24000, 48000)), 2);
    assert.equal(wavDurationS(wav(48000, 12000, true)), 0.25);
    assert.equal(wavDurationS(new Uint8Array(wav(8000, 800))), 0.1);
  });

  it("is 0 for anything else", () => {
    assert.equal(wavDurationS(new ArrayBuffer(4)), 0);
    assert.equal(wavDurationS(new TextEncoder().encode("RIFF....JUNKxxxxxxxx").buffer), 0);
    assert.equal(wavDurationS(null), 0);
  });
});
