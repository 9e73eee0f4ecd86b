// @ts-check
// The /ws/translate client: connects, (re)sends the control message, reconnects with
// exponential backoff, and follows each result's audio: the result JSON, then its WAV pieces
// (binary frames, each a complete WAV), then `audio_end`.
//
// Events (EventTarget, `event.detail`):
//   "state"     {state, attempt?, delayMs?, refused?, restarting?}  idle | connecting |
//                                            configuring | live | retrying | closed (refused: the
//                                            server turned the connection away, close code 1013:
//                                            busy or full; restarting: its process is going down,
//                                            1012: the reconnect goes to another)
//   "status"    the server's status message  (ready, configured, queued, flushed; busy, clear,
//                                            refused: static/js/capacity.js)
//   "result"    {result, session}            the text, as soon as it is translated
//   "audio"     {seq, index, wav: ArrayBuffer, session}   one spoken piece of that result
//   "audio-end" {seq, pieces, error?, timings?, session}  its audio is complete (error: why
//                                            not all of it came; also on a lost connection)
//   "error"     {error, seq?, session}
//   "notice"    {message}                    client-side trouble worth showing (frames dropped)
//   "partial"   a live caption {seq, part, text, source_text, ..., session} (no WAV follows)

const FLUSH = "__flush__";
const TRY_AGAIN_LATER = 1013; // the server is busy or full: retry after its retry_after_s
const SERVICE_RESTART = 1012; // the server process is going down: reconnect (to another) now
const MAX_OUTBOX_FRAMES = 150; // ~3 s of 20 ms frames kept while (re)connecting

export function wsUrl(path) {
  if (/^wss?:\/\//.test(path)) return path;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path.startsWith("/") ? "" : "/"}${path}`;
}

/** Delay before reconnect attempt `attempt` (0-based): doubling, capped, ±20 % jitter. */
export function backoffDelay(attempt, { initialMs = 500, maxMs = 15000, random = Math.random } = {}) {
  const base = Math.min(maxMs, initialMs * 2 ** attempt);
  return Math.round(base * (0.8 + 0.4 * random()));
}

export class LiveSocket extends EventTarget {
  /**
   * @param {{url?: string, control: () => import("./protocol.js").ControlMessage}} options
   *   control: returns the current control message; called on every (re)connect.
   */
  constructor({ url = wsUrl("/ws/translate"), control }) {
    super();
    this.url = url;
    this.control = control;
    this.state = "idle";
    this.session = null; // the server's id for the current connection
    this.sessionIndex = 0; // increments per connection: seq restarts at 0 on each
    this._ws = null;
    this._attempt = 0;
    this._timer = null;
    this._wanted = false;
    this._open = null; // {seq, pieces}: the result whose audio is arriving
    this._outbox = []; // frames (ArrayBuffer) and flush markers sent once configured
    this._retryAfterMs = 0; // from a `refused` status: wait at least this before reconnecting
  }

  get connected() {
    return this.state === "live" || this.state === "configuring";
  }

  /** Connect (if not already) and keep reconnecting until close(). */
  open() {
    this._wanted = true;
    if (this._ws || this._timer) return;
    this._connect();
  }

  close() {
    this._wanted = false;
    clearTimeout(this._timer);
    this._timer = null;
    this._outbox = [];
    if (this._ws) this._ws.close(1000, "bye");
    this._ws = null;
    this._setState("closed");
  }

  /** Lose the connection without giving up: it reconnects as after a network failure. */
  drop() {
    if (this._ws) this._ws.close(4000, "dropped by the client");
  }

  /** Send the current control (after a settings change); queued until the socket is ready. */
  sendControl() {
    if (this._ws && this._ws.readyState === WebSocket.OPEN && this.session) {
      this._ws.send(JSON.stringify(this.control()));
      this._setState("configuring");
    }
  }

  /** Send one int16 PCM frame; kept for a short while when not connected.
   * @param {ArrayBuffer} buffer */
  sendFrame(buffer) {
    if (this._canSendNow()) {
      this._ws.send(buffer);
      return true;
    }
    this._outbox.push(buffer);
    let dropped = 0;
    while (this._outbox.length > MAX_OUTBOX_FRAMES) {
      const i = this._outbox.findIndex((item) => item !== FLUSH);
      if (i < 0) break;
      this._outbox.splice(i, 1);
      dropped++;
    }
    if (dropped && !this._warnedDrop) {
      this._warnedDrop = true;
      this._notice("Not connected: the oldest audio is being dropped until the connection is back.");
    }
    return false;
  }

  /** End the current utterance now (sent after any frames still queued). */
  flush() {
    if (this._canSendNow()) {
      this._ws.send(FLUSH);
    } else if (this._wanted) {
      this._outbox.push(FLUSH);
    }
  }

  // --- internals ------------------------------------------------------------------------------

  /** Live, nothing queued before it, and the socket really open: after close() it is
   * CLOSING until onclose fires, and a send then only logs a browser error. */
  _canSendNow() {
    return (
      this.state === "live" &&
      this._outbox.length === 0 &&
      this._ws !== null &&
      this._ws.readyState === WebSocket.OPEN
    );
  }

  _connect() {
    this._timer = null;
    this._setState("connecting", { attempt: this._attempt });
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      this._notice(`Cannot open the connection: ${err.message}`);
      this._scheduleReconnect();
      return;
    }
    ws.binaryType = "arraybuffer";
    this._ws = ws;
    this.session = null;
    this._open = null;
    ws.onmessage = (event) => this._onMessage(event.data);
    ws.onclose = (event) => {
      if (this._ws !== ws) return;
      this._ws = null;
      this._endOpenAudio("the connection was lost before all of this translation's audio came");
      const refused = event && event.code === TRY_AGAIN_LATER;
      const restarting = event && event.code === SERVICE_RESTART;
      if (restarting) this._attempt = 0; // not a failure: come back at once
      // A refusal (1013: busy; 4429: a per-client limit) said when to come back.
      const minDelayMs = this._retryAfterMs;
      this._retryAfterMs = 0;
      if (this._wanted) this._scheduleReconnect({ minDelayMs, refused, restarting });
      else this._setState("closed");
    };
    // onerror is always followed by onclose; nothing to do here.
    ws.onerror = () => {};
  }

  _scheduleReconnect({ minDelayMs = 0, refused = false, restarting = false } = {}) {
    const delayMs = Math.max(minDelayMs, backoffDelay(this._attempt));
    this._attempt += 1;
    this._setState("retrying", {
      attempt: this._attempt,
      delayMs,
      ...(refused ? { refused } : {}),
      ...(restarting ? { restarting } : {}),
    });
    this._timer = setTimeout(() => this._connect(), delayMs);
  }

  _onMessage(data) {
    if (typeof data !== "string") {
      const open = this._open;
      if (!open) {
        this._notice("The server sent audio without a translation before it; it was ignored.");
        return;
      }
      this._emit("audio", { seq: open.seq, index: open.pieces++, wav: data, session: this.sessionIndex });
      return;
    }
    /** @type {import("./protocol.js").ServerMessage} */
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      this._notice("The server sent a message this page does not understand.");
      return;
    }
    if (message.type === "result") {
      this._endOpenAudio("the audio of this translation was cut short");
      this._open = { seq: message.seq, pieces: 0 };
      this._emit("result", { result: message, session: this.sessionIndex });
      return;
    }
    if (message.type === "audio_end") {
      if (this._open && this._open.seq === message.seq) this._open = null;
      const { seq, pieces, error, timings } = message;
      this._emit("audio-end", { seq, pieces, error, timings, session: this.sessionIndex });
      return;
    }
    if (message.type === "partial") {
      this._emit("partial", { ...message, session: this.sessionIndex });
      return;
    }
    if (message.type === "error") {
      if (message.seq === undefined && Number.isFinite(message.retry_after_s)) {
        this._retryAfterMs = message.retry_after_s * 1000; // the close that follows waits this long
      }
      this._emit("error", { ...message, session: this.sessionIndex });
      if (this.state === "configuring" && message.seq === undefined) {
        this._setState("live");
        this._drainOutbox();
      }
      return;
    }
    if (message.type === "status") {
      if (message.state === "ready") {
        // The server accepts messages only from here on: (re)send the control.
        this.session = message.session;
        this.sessionIndex += 1;
        this._attempt = 0;
        this._warnedDrop = false;
        this._ws.send(JSON.stringify(this.control()));
        this._setState("configuring");
      } else if (message.state === "configured") {
        this._setState("live");
        this._drainOutbox();
      } else if (message.state === "refused") {
        this._retryAfterMs = 1000 * (message.retry_after_s || 0);
      }
      this._emit("status", { ...message, session: this.sessionIndex });
    }
  }

  _endOpenAudio(error) {
    // A result whose audio_end never came (connection lost in between): end it here.
    const open = this._open;
    if (open) {
      this._open = null;
      this._emit("audio-end", { seq: open.seq, pieces: open.pieces, error, session: this.sessionIndex });
    }
  }

  _drainOutbox() {
    const ws = this._ws;
    while (this._outbox.length && ws && ws.readyState === WebSocket.OPEN) {
      ws.send(this._outbox.shift());
    }
  }

  _setState(state, extra = {}) {
    this.state = state;
    this._emit("state", { state, ...extra });
  }

  _notice(message) {
    this._emit("notice", { message });
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
