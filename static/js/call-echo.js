// @ts-check
// The call page's echo rules, kept pure (unit-tested under Node): which device set-ups would
// make a lane translate the other lane's output, and the level the original voice is ducked to.

/** The original voice while a translation plays over it (the "them" lane): -18 dB. */
export const DUCK_DB = -18;

/** @param {number} db */
export function dbToGain(db) {
  return 10 ** (db / 20);
}

/**
 * One device's name without the words that tell its two ends apart ("CABLE Input" and
 * "CABLE Output" are one cable; "Monitor of rutrans-cable" is that sink's other end).
 * @param {string} label
 */
export function baseDeviceName(label) {
  return label
    .toLowerCase()
    .replace(/\((?:[^()]*)\)/g, " ") // "(VB-Audio Virtual Cable)", "(2ch)"
    .replace(/\b(?:monitor of|monitor|input|output|speakers?|microphone|mic|default|communications)\b/g, " ")
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim();
}

/** @typedef {{label: string, groupId?: string} | null} DeviceRef */

/**
 * Whether an input and an output are two ends of one device.
 * @param {DeviceRef} input
 * @param {DeviceRef} output
 */
export function sameDevice(input, output) {
  if (!input || !output || !input.label || !output.label) return false;
  if (input.groupId && output.groupId && input.groupId === output.groupId) return true;
  const a = baseDeviceName(input.label);
  return a !== "" && a === baseDeviceName(output.label);
}

/**
 * Warnings for a call's set-up: a lane that would hear the other lane's translation.
 * @param {{meInput: DeviceRef, meOutput: DeviceRef, themInput: DeviceRef, themOutput: DeviceRef}} devices
 * @returns {{speaker: "me" | "them", message: string}[]}
 */
export function echoWarnings({ meInput, meOutput, themInput, themOutput }) {
  const warnings = [];
  if (sameDevice(themInput, meOutput)) {
    warnings.push({
      speaker: /** @type {const} */ ("them"),
      message: `The "Them" lane listens to ${themInput.label}, where your own translation plays: it would translate your translated voice back. Choose the call's sound (its tab, or the device the call app plays on).`,
    });
  }
  if (sameDevice(meInput, themOutput)) {
    warnings.push({
      speaker: /** @type {const} */ ("me"),
      message: `The "Me" lane listens to ${meInput.label}, where their translation plays: it would send their words back to them. Choose your microphone, and play their translation on headphones.`,
    });
  }
  if (sameDevice(meInput, meOutput)) {
    warnings.push({
      speaker: /** @type {const} */ ("me"),
      message: `The "Me" lane plays its translation on ${meOutput.label}, the device it listens to.`,
    });
  }
  return warnings;
}

/**
 * Does the "them" input carry my translated voice? While my translation plays, the call's
 * sound should hold the other side (or silence), not my translation coming back: count the
 * loud frames heard during my playback; more than `limit` of them is an echo.
 */
export class EchoDetector {
  /** @param {{thresholdRms?: number, limit?: number}} [options] */
  constructor({ thresholdRms = 0.02, limit = 40 } = {}) {
    this.thresholdRms = thresholdRms;
    this.limit = limit;
    this.loudFrames = 0;
    this.warned = false;
  }

  /** My translation started or stopped playing. @param {boolean} _playing */
  playback(_playing) {
    this.loudFrames = 0;
  }

  /**
   * A frame's level on the "them" lane while my translation plays; true once, at the echo.
   * @param {number} level
   */
  heard(level) {
    if (this.warned || level < this.thresholdRms) return false;
    this.loudFrames += 1;
    if (this.loudFrames <= this.limit) return false;
    this.warned = true;
    return true;
  }
}
