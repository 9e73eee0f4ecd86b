// Float → int16 PCM framing for the capture worklet. Pure: no Web Audio, so Node can test it.
//
// The worklet receives 128-sample render quanta as one Float32Array per channel; the server
// wants little-endian int16 frames (any length up to MAX_FRAME_BYTES: the page sends 64 ms at
// 16 kHz mono, static/js/capture.js), interleaved when there are two channels
// (see translation/protocol/control.py). PcmFramer converts, interleaves, and carries the remainder
// of a quantum over to the next call.

export const FRAME_MS = 20;

/** Samples per channel in one frame of `frameMs` at `sampleRate` (960 at 48 kHz). */
export function frameSamplesFor(sampleRate, frameMs = FRAME_MS) {
  if (!(sampleRate > 0) || !(frameMs > 0)) {
    throw new RangeError(`bad sample rate or frame length: ${sampleRate} Hz, ${frameMs} ms`);
  }
  return Math.max(1, Math.round((sampleRate * frameMs) / 1000));
}

/** One float sample in [-1, 1] as int16, clipped; NaN counts as silence. */
export function floatToInt16(x) {
  if (!(x === x)) return 0; // NaN
  if (x >= 1) return 32767;
  if (x <= -1) return -32768;
  return Math.round(x < 0 ? x * 32768 : x * 32767);
}

/** RMS of an int16 frame, 0..1 (a full-scale square wave is 1). */
export function frameLevel(frame) {
  if (frame.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < frame.length; i++) {
    const s = frame[i] / 32768;
    sum += s * s;
  }
  return Math.sqrt(sum / frame.length);
}

export class PcmFramer {
  /**
   * @param {{channels: number, frameSamples: number}} options
   *   channels: 1 or 2 (interleaved L R L R … when 2); frameSamples: per channel.
   */
  constructor({ channels, frameSamples }) {
    if (channels !== 1 && channels !== 2) throw new RangeError(`channels must be 1 or 2: ${channels}`);
    if (!Number.isInteger(frameSamples) || frameSamples < 1) {
      throw new RangeError(`frameSamples must be a positive integer: ${frameSamples}`);
    }
    this.channels = channels;
    this.frameSamples = frameSamples;
    this._frame = new Int16Array(frameSamples * channels);
    this._filled = 0; // samples per channel already in _frame
  }

  /** Samples per channel waiting for the next frame. */
  get buffered() {
    return this._filled;
  }

  /** Bytes in one emitted frame. */
  get frameBytes() {
    return this.frameSamples * this.channels * 2;
  }

  /**
   * Add one block of audio; returns the frames it completed (each a new Int16Array the
   * caller may transfer). `channelData` is one Float32Array per channel, all the same length:
   * a mono block feeds both channels of a stereo framer, an extra channel is ignored.
   */
  push(channelData) {
    const frames = [];
    if (!channelData || channelData.length === 0) return frames;
    const left = channelData[0];
    const right = this.channels === 2 ? (channelData[1] ?? left) : null;
    const n = left.length;
    const ch = this.channels;
    let i = 0;
    while (i < n) {
      const take = Math.min(n - i, this.frameSamples - this._filled);
      const frame = this._frame;
      let out = this._filled * ch;
      if (right === null) {
        for (let k = 0; k < take; k++) frame[out++] = floatToInt16(left[i + k]);
      } else {
        for (let k = 0; k < take; k++) {
          frame[out++] = floatToInt16(left[i + k]);
          frame[out++] = floatToInt16(right[i + k]);
        }
      }
      this._filled += take;
      i += take;
      if (this._filled === this.frameSamples) {
        frames.push(frame);
        this._frame = new Int16Array(this.frameSamples * ch);
        this._filled = 0;
      }
    }
    return frames;
  }

  /** Drop a partly filled frame (e.g. when capture restarts). */
  reset() {
    this._frame.fill(0);
    this._filled = 0;
  }
}
