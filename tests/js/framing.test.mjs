// Unit tests for static/js/framing.js, the capture worklet's float → int16 framing.
// Run: node --test tests/js/
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { FRAME_MS, PcmFramer, floatToInt16, frameLevel, frameSamplesFor } from "../../static/js/framing.js";

const QUANTUM = 128;

function ramp(n, start = 0) {
  // Distinct, exactly representable values so each sample can be traced through framing.
  return Float32Array.from({ length: n }, (_, i) => (start + i) / 32768);
}

describe("floatToInt16", () => {
  it("clips at full scale", () => {
    assert.equal(floatToInt16(1), 32767);
    assert.equal(floatToInt16(1.5), 32767);
    assert.equal(floatToInt16(Infinity), 32767);
    assert.equal(floatToInt16(-1), -32768);
    assert.equal(floatToInt16(-7), -32768);
    assert.equal(floatToInt16(-Infinity), -32768);
  });

  it("maps silence and NaN to zero", () => {
    assert.equal(floatToInt16(0), 0);
    assert.ok(floatToInt16(-0) === 0);
    assert.equal(floatToInt16(NaN), 0);
  });

  it("scales and rounds within range", () => {
    assert.equal(floatToInt16(0.5), 16384); // 0.5 * 32767 = 16383.5 → 16384
    assert.equal(floatToInt16(-0.5), -16384);
    assert.equal(floatToInt16(100 / 32768), 100);
    assert.equal(floatToInt16(-100 / 32768), -100);
  });
});

describe("frameSamplesFor", () => {
  it("is 20 ms by default", () => {
    assert.equal(FRAME_MS, 20);
    assert.equal(frameSamplesFor(48000), 960);
    assert.equal(frameSamplesFor(44100), 882);
    assert.equal(frameSamplesFor(16000), 320);
    assert.equal(frameSamplesFor(48000, 10), 480);
  });

  it("rejects nonsense", () => {
    assert.throws(() => frameSamplesFor(0), RangeError);
    assert.throws(() => frameSamplesFor(48000, -5), RangeError);
  });
});

describe("PcmFramer", () => {
  it("emits frames of exactly frameSamples × channels int16 samples", () => {
    const framer = new PcmFramer({ channels: 1, frameSamples: 960 });
    assert.equal(framer.frameBytes, 1920);
    const frames = [];
    for (let q = 0; q < 15; q++) frames.push(...framer.push([new Float32Array(QUANTUM)]));
    // 15 × 128 = 1920 samples = exactly two frames, nothing left over.
    assert.equal(frames.length, 2);
    for (const f of frames) {
      assert.ok(f instanceof Int16Array);
      assert.equal(f.length, 960);
      assert.equal(f.byteLength, 1920);
    }
    assert.equal(framer.buffered, 0);
  });

  it("carries the remainder of a block over to the next call, in order", () => {
    const framer = new PcmFramer({ channels: 1, frameSamples: 300 });
    const first = framer.push([ramp(QUANTUM, 0)]);
    const second = framer.push([ramp(QUANTUM, 128)]);
    assert.deepEqual([first.length, second.length], [0, 0]);
    assert.equal(framer.buffered, 256);
    const third = framer.push([ramp(QUANTUM, 256)]); // 384 in: one frame, 84 carried
    assert.equal(third.length, 1);
    assert.equal(framer.buffered, 84);
    assert.deepEqual(
      Array.from(third[0]),
      Array.from({ length: 300 }, (_, i) => i),
    );
    const fourth = framer.push([ramp(216, 384)]); // 84 + 216 = 300
    assert.equal(fourth.length, 1);
    assert.deepEqual(
      Array.from(fourth[0]),
      Array.from({ length: 300 }, (_, i) => 300 + i),
    );
  });

  it("emits several frames from one large block", () => {
    const framer = new PcmFramer({ channels: 1, frameSamples: 100 });
    const frames = framer.push([ramp(350)]);
    assert.equal(frames.length, 3);
    assert.equal(framer.buffered, 50);
    assert.equal(frames[2][99], 299);
  });

  it("interleaves stereo as L R L R", () => {
    const framer = new PcmFramer({ channels: 2, frameSamples: 4 });
    const left = Float32Array.from([1, 2, 3, 4].map((v) => v / 32768));
    const right = Float32Array.from([-1, -2, -3, -4].map((v) => v / 32768));
    const [frame] = framer.push([left, right]);
    assert.deepEqual(Array.from(frame), [1, -1, 2, -2, 3, -3, 4, -4]);
    assert.equal(framer.frameBytes, 16);
  });

  it("keeps stereo pairs together across a carry-over", () => {
    const framer = new PcmFramer({ channels: 2, frameSamples: 3 });
    const mk = (vals) => Float32Array.from(vals, (v) => v / 32768);
    assert.equal(framer.push([mk([1, 2]), mk([11, 12])]).length, 0);
    const [frame] = framer.push([mk([3, 4]), mk([13, 14])]);
    assert.deepEqual(Array.from(frame), [1, 11, 2, 12, 3, 13]);
    assert.equal(framer.buffered, 1);
    const [next] = framer.push([mk([5, 6]), mk([15, 16])]);
    assert.deepEqual(Array.from(next), [4, 14, 5, 15, 6, 16]);
  });

  it("duplicates a mono block into both channels of a stereo framer", () => {
    const framer = new PcmFramer({ channels: 2, frameSamples: 2 });
    const [frame] = framer.push([Float32Array.from([0.25, -0.25])]);
    assert.deepEqual(Array.from(frame), [8192, 8192, -8192, -8192]);
  });

  it("clips loud input inside frames", () => {
    const framer = new PcmFramer({ channels: 1, frameSamples: 4 });
    const [frame] = framer.push([Float32Array.from([2, -2, 0.999999, NaN])]);
    assert.deepEqual(Array.from(frame), [32767, -32768, 32767, 0]);
  });

  it("hands out a fresh array per frame, so a transferred buffer is never reused", () => {
    const framer = new PcmFramer({ channels: 1, frameSamples: 2 });
    const [a, b] = framer.push([ramp(4, 1)]);
    assert.notEqual(a.buffer, b.buffer);
    assert.deepEqual(
      [Array.from(a), Array.from(b)],
      [
        [1, 2],
        [3, 4],
      ],
    );
  });

  it("reset drops a partial frame", () => {
    const framer = new PcmFramer({ channels: 1, frameSamples: 4 });
    framer.push([ramp(3, 7)]);
    framer.reset();
    assert.equal(framer.buffered, 0);
    const [frame] = framer.push([ramp(4, 1)]);
    assert.deepEqual(Array.from(frame), [1, 2, 3, 4]);
  });

  it("ignores an empty block and rejects bad options", () => {
    const framer = new PcmFramer({ channels: 1, frameSamples: 4 });
    assert.deepEqual(framer.push([]), []);
    assert.throws(() => new PcmFramer({ channels: 3, frameSamples: 4 }), RangeError);
    assert.throws(() => new PcmFramer({ channels: 1, frameSamples: 0 }), RangeError);
  });
});

describe("frameLevel", () => {
  it("is the RMS on a 0..1 scale", () => {
    assert.equal(frameLevel(new Int16Array(10)), 0);
    assert.equal(frameLevel(new Int16Array(0)), 0);
    const square = Int16Array.from({ length: 8 }, (_, i) => (i % 2 ? -16384 : 16384));
    assert.equal(frameLevel(square), 0.5);
  });
});
