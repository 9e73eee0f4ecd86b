// @ts-check
// The call's original voice under the "them" lane's translation: played on the lane's output
// (my headphones) and ducked by DUCK_DB (call-echo.js) while a translation plays.
import { DUCK_DB, dbToGain } from "./call-echo.js";
import { emit } from "./events.js";

const DUCK_TIME_CONSTANT_S = 0.06;

export class OriginalVoice {
  /** @param {string} speaker  the lane, named in the page events */
  constructor(speaker) {
    this.speaker = speaker;
    /** @type {{source: MediaStreamAudioSourceNode, gain: GainNode} | null} */
    this._nodes = null;
  }

  /** The original's gain now (1 = 0 dB); null while it is not played. */
  get gain() {
    return this._nodes ? this._nodes.gain.gain.value : null;
  }

  /**
   * @param {AudioContext} ctx  the lane's output (its sink: my headphones)
   * @param {MediaStream} stream  the captured call
   * @param {boolean} ducked  a translation plays already
   */
  play(ctx, stream, ducked) {
    this.stop();
    const source = ctx.createMediaStreamSource(stream);
    const gain = ctx.createGain();
    gain.gain.value = ducked ? dbToGain(DUCK_DB) : 1;
    source.connect(gain).connect(ctx.destination);
    this._nodes = { source, gain };
    emit("original-playing", { speaker: this.speaker, gain: gain.gain.value });
  }

  stop() {
    if (!this._nodes) return;
    this._nodes.source.disconnect();
    this._nodes.gain.disconnect();
    this._nodes = null;
  }

  /** Lower the original while a translation plays, raise it after. @param {boolean} down */
  duck(down) {
    const nodes = this._nodes;
    if (!nodes) return;
    const ctx = /** @type {AudioContext} */ (nodes.gain.context);
    const db = down ? DUCK_DB : 0;
    nodes.gain.gain.setTargetAtTime(dbToGain(db), ctx.currentTime, DUCK_TIME_CONSTANT_S);
    emit("ducking", { speaker: this.speaker, db });
  }
}
