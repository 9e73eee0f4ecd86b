// The playback queue: translated WAVs play one after another, never overlapping. Live results
// are ordered by (connection, seq); a replay joins the end of the queue.
//
// Events (`event.detail`):
//   "busy"   {}                        something started playing (the queue was idle)
//   "idle"   {}                        the queue drained
//   "start"  {item}                    an item started
//   "ended"  {item, peak}              an item played to its end (peak: the analyser's max level)
//   "stopped" {item}                   an item was cut short (mute, clear)
//   "failed" {item, error}             an item could not be decoded/played

export class PlaybackQueue extends EventTarget {
  constructor() {
    super();
    this.muted = false;
    this._items = [];
    this._current = null;
    this._context = null;
    this._serial = 0;
    this.sinkId = ""; // the output device ("" = the system default)
  }

  /** The AudioContext used for output; create it from a user gesture (autoplay rules). */
  context() {
    if (!this._context || this._context.state === "closed") {
      this._context = new AudioContext({ latencyHint: "playback" });
      if (this.sinkId) this.setSinkId(this.sinkId).catch(() => {});
    }
    if (this._context.state === "suspended") this._context.resume();
    return this._context;
  }

  /** Route all translated audio to an output device ("" = the system default). Rejects as
   * AudioContext.setSinkId does (an unknown device, or no permission). */
  async setSinkId(deviceId) {
    this.sinkId = deviceId || "";
    const ctx = this._context;
    if (ctx && ctx.state !== "closed" && ctx.setSinkId && ctx.sinkId !== this.sinkId) {
      await ctx.setSinkId(this.sinkId);
    }
  }

  get playing() {
    return this._current !== null;
  }

  get length() {
    return this._items.length + (this._current ? 1 : 0);
  }

  /**
   * Queue a translation. `key` is [connection, seq] for live results (ordered among
   * themselves), omitted for a replay (played after everything queued so far).
   * @param {{wav: Blob, key?: number[], label?: string, replay?: boolean, id?: string}} item
   */
  enqueue(item) {
    if (this.muted && !item.replay) return false;
    const entry = { ...item, serial: this._serial++ };
    const at = item.key ? this._items.findIndex((other) => other.key && before(item.key, other.key)) : -1;
    if (at < 0) this._items.push(entry);
    else this._items.splice(at, 0, entry);
    this._next();
    return true;
  }

  setMuted(muted) {
    this.muted = muted;
    if (muted) {
      this._items = this._items.filter((item) => item.replay);
      if (this._current && !this._current.item.replay) this._stopCurrent();
    }
  }

  /** Stop what plays and forget what waits. */
  clear() {
    this._items = [];
    if (this._current) this._stopCurrent();
  }

  _stopCurrent() {
    const slot = this._current;
    slot.stopped = true;
    if (slot.source) slot.source.stop();
  }

  async _next() {
    if (this._current || this._items.length === 0) return;
    const item = this._items.shift();
    const wasIdle = !this._busy;
    this._busy = true;
    const ctx = this.context();
    const slot = { item, source: null, peak: 0, stopped: false };
    this._current = slot; // reserve before awaiting, so nothing overlaps
    if (wasIdle) this._emit("busy", {});
    try {
      const buffer = await ctx.decodeAudioData(await item.wav.arrayBuffer());
      if (slot.stopped) throw new Error("stopped");
      const source = ctx.createBufferSource();
      source.buffer = buffer;
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 2048;
      source.connect(analyser).connect(ctx.destination);
      slot.source = source;
      const samples = new Float32Array(analyser.fftSize);
      const meter = setInterval(() => {
        analyser.getFloatTimeDomainData(samples);
        for (let i = 0; i < samples.length; i++) slot.peak = Math.max(slot.peak, Math.abs(samples[i]));
      }, 40);
      await new Promise((resolve) => {
        source.onended = resolve;
        source.start();
        this._emit("start", { item });
      });
      clearInterval(meter);
      source.disconnect();
      analyser.disconnect();
      if (slot.stopped) this._emit("stopped", { item });
      else this._emit("ended", { item, peak: slot.peak, duration: buffer.duration });
    } catch (error) {
      if (!slot.stopped) this._emit("failed", { item, error: String(error?.message || error) });
    } finally {
      this._current = null;
    }
    if (this._items.length) {
      this._next();
    } else {
      this._busy = false;
      this._emit("idle", {});
    }
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

function before(a, b) {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  }
  return false;
}
