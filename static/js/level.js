// @ts-check
// The input level meter: RMS → a 0..1 bar on a -60..0 dBFS scale that rises at once and
// falls gently, drawn at most once per animation frame.

const FLOOR_DB = -60;
const FALL = 0.85; // share of the shown level kept per update while falling

/**
 * The bar's next length for an RMS `level` (0..1), from the length `shown` now.
 * @param {number} level
 * @param {number} shown
 */
export function nextLevel(level, shown) {
  const db = level > 0 ? 20 * Math.log10(level) : -100;
  const target = Math.min(1, Math.max(0, (db - FLOOR_DB) / -FLOOR_DB));
  return target > shown ? target : shown * FALL + target * (1 - FALL);
}

export class LevelMeter {
  /** @param {HTMLElement} bar  scaled along x (transform-origin: left) */
  constructor(bar) {
    this.bar = bar;
    this.shown = 0;
    this._frame = 0;
  }

  /** @param {number} level  RMS 0..1; 0 resets the bar */
  set(level) {
    this.shown = level > 0 ? nextLevel(level, this.shown) : 0;
    if (this._frame) return;
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      this.bar.style.transform = `scaleX(${this.shown.toFixed(3)})`;
    });
  }
}
