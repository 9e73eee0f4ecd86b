// @ts-check
// The playback queue: translated WAV pieces play one after another, never overlapping, and
// keep up with the speaker. Live pieces are ordered by [connection, seq, piece]; a replay
// joins the end of the queue.
//
// Keeping up: when translated speech is longer than the source (Russian often is), audio
// piles up in a monologue. `behindS` is how much waits to be played (seconds at normal
// speed, including the rest of what plays now). The catch-up mode decides what to do:
//   "speed+skip" (default)  play faster (pitch preserved, up to maxRate), and if still more
//                           than maxLagS behind, skip the oldest waiting pieces
//   "speed"                 only play faster
//   "skip"                  only skip the oldest waiting pieces beyond maxLagS
//   "off"                   play everything at normal speed
//
// Events (`event.detail`):
//   "busy"    {}                        something started playing (the queue was idle)
//   "idle"    {}                        the queue drained
//   "start"   {item}                    an item started
//   "ended"   {item, peak, duration}    an item played to its end (peak: the analyser's max level)
//   "stopped" {item}                    an item was cut short (mute, clear)
//   "failed"  {item, error}             an item could not be decoded/played
//   "skipped" {items, seconds}          waiting items dropped to catch up
//   "lag"     {behindS, rate, mode}     how far behind playback is (on every change, ~4/s)

export const CATCH_UP_MODES = ["speed+skip", "speed", "skip", "off"];
export const DEFAULT_CATCH_UP = Object.freeze({
  mode: "speed+skip",
  targetS: 2, // behind by this much is fine: normal speed
  rampS: 6, // ... and maxRate is reached this much further behind
  maxRate: 1.5, // faster than this gets hard to follow
  maxLagS: 12, // beyond this, waiting pieces are skipped (skip modes) ...
  skipToS: 4, // ... until no more than this is left
});
const LAG_TICK_MS = 250;

/** Seconds of audio in a PCM WAV, from its header (0 when it is not one). */
export function wavDurationS(buffer) {
  const bytes = buffer instanceof ArrayBuffer ? buffer : buffer?.buffer;
  if (!bytes || bytes.byteLength < 12) return 0;
  const view = new DataView(bytes, buffer.byteOffset || 0, buffer.byteLength);
  const tag = (at) => String.fromCharCode(...new Uint8Array(view.buffer, view.byteOffset + at, 4));
  if (tag(0) !== "RIFF" || tag(8) !== "WAVE") return 0;
  let byteRate = 0;
  for (let at = 12; at + 8 <= view.byteLength; ) {
    const id = tag(at);
    const size = view.getUint32(at + 4, true);
    if (id === "fmt ") byteRate = view.getUint32(at + 16, true);
    if (id === "data") {
      const dataBytes = Math.min(size, view.byteLength - at - 8);
      return byteRate ? dataBytes / byteRate : 0;
    }
    at += 8 + size + (size % 2);
  }
  return 0;
}

/** The playback rate for being `behindS` behind: 1 up to targetS, rising to maxRate. */
export function catchUpRate(behindS, { mode, targetS, rampS, maxRate } = DEFAULT_CATCH_UP) {
  if (!mode.startsWith("speed") || behindS <= targetS) return 1;
  const rate = 1 + ((maxRate - 1) * (behindS - targetS)) / rampS;
  return Math.round(Math.min(maxRate, rate) * 100) / 100;
}

/**
 * Which waiting items to skip: none unless skipping is on and more than maxLagS waits; then
 * the oldest live ones until at most skipToS is left. Replays and the newest live piece (what
 * the speaker says now) are never skipped.
 * @param {{durationS: number, replay?: boolean}[]} waiting  in play order
 * @param {number} currentLeftS  what is left of the item playing now
 */
export function staleItems(waiting, currentLeftS, { mode, maxLagS, skipToS } = DEFAULT_CATCH_UP) {
  let behind = currentLeftS + waiting.reduce((sum, item) => sum + (item.durationS || 0), 0);
  if (!mode.endsWith("skip") || behind <= maxLagS) return [];
  const newest = waiting.findLast((item) => !item.replay);
  const stale = [];
  for (const item of waiting) {
    if (behind <= skipToS) break;
    if (item.replay || item === newest) continue;
    stale.push(item);
    behind -= item.durationS || 0;
  }
  return stale;
}

export class PlaybackQueue extends EventTarget {
  /** @param {{output?: object}} options  output: how items are played (tests pass a fake) */
  constructor({ output } = {}) {
    super();
    this.muted = false;
    this.catchUp = { ...DEFAULT_CATCH_UP };
    this.output = output || new MediaElementOutput();
    this._items = [];
    this._current = null;
    this._serial = 0;
    this._busy = false;
    this._ticker = null;
    this._lastLag = null;
  }

  /** The AudioContext used for output; create it from a user gesture (autoplay rules). */
  context() {
    return this.output.context();
  }

  get playing() {
    return this._current !== null;
  }

  get length() {
    return this._items.length + (this._current ? 1 : 0);
  }

  /** Seconds of translated speech waiting to be played, at normal speed. */
  get behindS() {
    return this._currentLeftS() + this._items.reduce((sum, item) => sum + item.durationS, 0);
  }

  get rate() {
    return catchUpRate(this.behindS, this.catchUp);
  }

  /**
   * Queue a translation piece. `key` is [connection, seq, piece] for live pieces (ordered
   * among themselves), omitted for a replay (played after everything queued so far).
   * @param {{wav: Blob, durationS?: number, key?: number[], label?: string, replay?: boolean, id?: string}} item
   */
  enqueue(item) {
    if (this.muted && !item.replay) return false;
    const entry = { ...item, durationS: item.durationS || 0, serial: this._serial++ };
    const at = item.key ? this._items.findIndex((other) => other.key && before(item.key, other.key)) : -1;
    if (at < 0) this._items.push(entry);
    else this._items.splice(at, 0, entry);
    this._skipStale();
    this._next();
    this._reportLag();
    return true;
  }

  /** Choose how to keep up (one of CATCH_UP_MODES); applies at once to what plays. */
  setCatchUp(mode) {
    if (!CATCH_UP_MODES.includes(mode)) throw new RangeError(`unknown catch-up mode ${mode}`);
    this.catchUp = { ...this.catchUp, mode };
    this._skipStale();
    this._reportLag();
  }

  /** Route all translated audio to the output device `deviceId` ("" = the default). Rejects
   * as AudioContext.setSinkId does (an unknown device, or no permission). */
  async setSinkId(deviceId) {
    await this.output.setSinkId(deviceId);
  }

  /** The output device chosen ("" = the system default). */
  get sinkId() {
    return this.output.sinkId ?? "";
  }

  setMuted(muted) {
    this.muted = muted;
    if (muted) {
      this._items = this._items.filter((item) => item.replay);
      if (this._current && !this._current.item.replay) this._stopCurrent();
    }
    this._reportLag();
  }

  /** Stop what plays and forget what waits. */
  clear() {
    this._items = [];
    if (this._current) this._stopCurrent();
    this._reportLag();
  }

  _currentLeftS() {
    const slot = this._current;
    if (!slot) return 0;
    const played = slot.handle ? slot.handle.position() : 0;
    return Math.max(0, slot.item.durationS - played);
  }

  _stopCurrent() {
    const slot = this._current;
    slot.stopped = true;
    if (slot.handle) slot.handle.stop();
  }

  _skipStale() {
    const stale = staleItems(this._items, this._currentLeftS(), this.catchUp);
    if (!stale.length) return;
    this._items = this._items.filter((item) => !stale.includes(item));
    const seconds = stale.reduce((sum, item) => sum + item.durationS, 0);
    this._emit("skipped", { items: stale, seconds: Math.round(seconds * 10) / 10 });
  }

  async _next() {
    if (this._current || this._items.length === 0) return;
    const item = this._items.shift();
    const wasIdle = !this._busy;
    this._busy = true;
    const slot = { item, handle: null, stopped: false };
    this._current = slot; // reserve before awaiting, so nothing overlaps
    if (wasIdle) this._emit("busy", {});
    this._startTicker();
    try {
      const played = this.output.play(item.wav, { rate: this.rate });
      slot.handle = played;
      if (slot.stopped) played.stop();
      await played.started;
      this._emit("start", { item });
      this._reportLag();
      const { peak, duration } = await played.ended;
      if (!item.durationS && duration) item.durationS = duration;
      if (slot.stopped) this._emit("stopped", { item });
      else this._emit("ended", { item, peak, duration });
    } catch (error) {
      if (slot.stopped) this._emit("stopped", { item });
      else this._emit("failed", { item, error: String(error?.message || error) });
    } finally {
      this._current = null;
    }
    if (this._items.length) {
      this._next();
    } else {
      this._busy = false;
      this._stopTicker();
      this._reportLag();
      this._emit("idle", {});
    }
  }

  _startTicker() {
    if (this._ticker) return;
    this._ticker = setInterval(() => {
      this._skipStale();
      const rate = this.rate;
      if (this._current?.handle) this._current.handle.setRate(rate);
      this._reportLag();
    }, LAG_TICK_MS);
  }

  _stopTicker() {
    clearInterval(this._ticker);
    this._ticker = null;
  }

  _reportLag() {
    const behindS = Math.round(this.behindS * 10) / 10;
    const rate = this._current ? this.rate : 1;
    const last = this._lastLag;
    if (last && last.behindS === behindS && last.rate === rate && last.mode === this.catchUp.mode) return;
    this._lastLag = { behindS, rate, mode: this.catchUp.mode };
    this._emit("lag", { ...this._lastLag });
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

/**
 * Plays WAV blobs through an <audio> element (whose time-stretching keeps the pitch when it
 * plays faster) routed into one AudioContext: an analyser measures the level, and the
 * context's sink is the output device.
 */
export class MediaElementOutput {
  constructor() {
    this._context = null;
    this.sinkId = ""; // the output device ("" = the system default)
  }

  context() {
    if (!this._context || this._context.state === "closed") {
      this._context = new AudioContext({ latencyHint: "playback" });
      if (this.sinkId) this.setSinkId(this.sinkId).catch(() => {});
    }
    if (this._context.state === "suspended") this._context.resume();
    return this._context;
  }

  async setSinkId(deviceId) {
    this.sinkId = deviceId || "";
    const ctx = this._context;
    if (ctx && ctx.state !== "closed" && ctx.setSinkId && ctx.sinkId !== this.sinkId) {
      await ctx.setSinkId(this.sinkId);
    }
  }

  /** Start playing `blob`; returns {started, ended (→ {peak, duration}), stop, setRate, position}. */
  play(blob, { rate = 1 } = {}) {
    const ctx = this.context();
    const url = URL.createObjectURL(blob);
    const audio = new Audio();
    audio.preservesPitch = true;
    audio.src = url;
    audio.defaultPlaybackRate = rate;
    audio.playbackRate = rate;
    const source = ctx.createMediaElementSource(audio);
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 2048;
    source.connect(analyser).connect(ctx.destination);
    const samples = new Float32Array(analyser.fftSize);
    let peak = 0;
    let meter = null;
    let finish;
    let done = false;
    const ended = new Promise((resolve, reject) => {
      finish = (error) => {
        if (done) return;
        done = true;
        clearInterval(meter);
        audio.onended = audio.onerror = audio.onpause = null;
        source.disconnect();
        analyser.disconnect();
        URL.revokeObjectURL(url);
        if (error) reject(error);
        else resolve({ peak, duration: Number.isFinite(audio.duration) ? audio.duration : 0 });
      };
    });
    ended.catch(() => {}); // handled by whoever awaits it; never an unhandled rejection
    audio.onended = () => finish();
    audio.onerror = () => finish(new Error(audio.error?.message || "the audio could not be decoded"));
    const started = audio.play().then(() => {
      if (done) return;
      meter = setInterval(() => {
        analyser.getFloatTimeDomainData(samples);
        for (let i = 0; i < samples.length; i++) peak = Math.max(peak, Math.abs(samples[i]));
      }, 40);
    });
    started.catch((error) => finish(error));
    return {
      started,
      ended,
      stop() {
        audio.pause();
        finish();
      },
      setRate(next) {
        if (audio.playbackRate !== next) audio.playbackRate = next;
      },
      position() {
        return audio.currentTime || 0;
      },
    };
  }
}

function before(a, b) {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  }
  return false;
}
