// Unit tests for static/js/call-echo.js: which call set-ups echo, the ducking level, and the
// echo heard on the "them" lane while my translation plays.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  DUCK_DB,
  EchoDetector,
  baseDeviceName,
  dbToGain,
  echoWarnings,
  sameDevice,
} from "../../static/js/call-echo.js";

describe("dbToGain", () => {
  it("turns the -18 dB duck into a gain of about 0.126", () => {
    assert.equal(DUCK_DB, -18);
    assert.ok(Math.abs(dbToGain(DUCK_DB) - 0.1259) < 1e-4);
    assert.equal(dbToGain(0), 1);
  });
});

describe("sameDevice", () => {
  it("knows a virtual cable's two ends by name on each OS", () => {
    assert.equal(baseDeviceName("CABLE Output (VB-Audio Virtual Cable)"), "cable");
    assert.ok(
      sameDevice(
        { label: "CABLE Output (VB-Audio Virtual Cable)" },
        { label: "CABLE Input (VB-Audio Virtual Cable)" },
      ),
    );
    assert.ok(sameDevice({ label: "BlackHole 2ch" }, { label: "BlackHole 2ch" }));
    assert.ok(sameDevice({ label: "Monitor of rutrans-cable" }, { label: "rutrans-cable" }));
  });

  it("knows them by group id, and tells different devices apart", () => {
    assert.ok(
      sameDevice({ label: "Headset mic", groupId: "g1" }, { label: "Headset earpiece", groupId: "g1" }),
    );
    assert.equal(
      sameDevice({ label: "USB Microphone", groupId: "a" }, { label: "Headphones", groupId: "b" }),
      false,
    );
    assert.equal(sameDevice(null, { label: "Headphones" }), false);
    assert.equal(sameDevice({ label: "" }, { label: "" }), false);
  });
});

describe("echoWarnings", () => {
  const cable = { label: "CABLE Input (VB-Audio Virtual Cable)" };
  const cableMic = { label: "CABLE Output (VB-Audio Virtual Cable)" };
  const headphones = { label: "Headphones (USB)" };
  const mic = { label: "Microphone (USB)" };

  it("says nothing about the set-up the docs describe", () => {
    assert.deepEqual(
      echoWarnings({ meInput: mic, meOutput: cable, themInput: null, themOutput: headphones }),
      [],
    );
  });

  it("warns the them lane that listens to the cable my translation plays on", () => {
    const warnings = echoWarnings({
      meInput: mic,
      meOutput: cable,
      themInput: cableMic,
      themOutput: headphones,
    });
    assert.deepEqual(
      warnings.map((w) => w.speaker),
      ["them"],
    );
    assert.match(warnings[0].message, /translate your translated voice back/);
  });

  it("warns the me lane that listens to where their translation plays", () => {
    const warnings = echoWarnings({
      meInput: cableMic,
      meOutput: headphones,
      themInput: null,
      themOutput: cable,
    });
    assert.deepEqual(
      warnings.map((w) => w.speaker),
      ["me"],
    );
  });
});

describe("EchoDetector", () => {
  it("warns once when the call's sound stays loud while my translation plays", () => {
    const echo = new EchoDetector({ thresholdRms: 0.02, limit: 3 });
    echo.playback(true);
    assert.equal(echo.heard(0.001), false); // silence: the other side is listening
    assert.deepEqual(
      [0.1, 0.1, 0.1].map((l) => echo.heard(l)),
      [false, false, false],
    );
    assert.equal(echo.heard(0.1), true);
    assert.equal(echo.heard(0.1), false); // once
  });

  it("starts counting again at each playback", () => {
    const echo = new EchoDetector({ limit: 2 });
    echo.heard(0.5);
    echo.heard(0.5);
    echo.playback(false);
    assert.equal(echo.heard(0.5), false);
  });
});
