// @ts-check
// One lane of a call: its input (a microphone or device, or tab / system audio), its own
// /ws/translate connection (control naming the call and the speaker), its playback on its own
// output, its meter and state, and its utterances in the call's one conversation view.
//
//   "me"   → my microphone, my language into theirs, played on the call's microphone (a cable)
//   "them" → the call's sound, their language into mine, played on my headphones; optionally
//            the original voice under it, ducked while a translation plays (DUCK_DB)
import { announceFinal, showPartial } from "./captions.js";
import { DUCK_DB, dbToGain } from "./call-echo.js";
import { Capture } from "./capture.js";
import { emit } from "./events.js";
import { InputDevicePicker } from "./input-device.js";
import { LevelMeter } from "./level.js";
import { OutputDevicePicker } from "./output-device.js";
import { PlaybackQueue, wavDurationS } from "./playback.js";
import { modeLanguages } from "./protocol.js";
import { SpeechFallback, whileAudible } from "./speech-fallback.js";
import { fillVoiceSelect } from "./voices.js";
import { LiveSocket } from "./ws-client.js";

/** @typedef {import("./protocol.js").Speaker} Speaker */
/** @typedef {import("./protocol.js").Mode} Mode */
/** @typedef {import("./conversation.js").Conversation} Conversation */

const RESUME_AFTER_PLAYBACK_MS = 300;
const DUCK_TIME_CONSTANT_S = 0.06;
const STATE_TEXT = {
  idle: "Not connected",
  connecting: "Connecting…",
  configuring: "Connecting…",
  live: "Connected",
  closed: "Stopped",
};

export class Lane extends EventTarget {
  /**
   * @param {object} parts
   * @param {Speaker} parts.speaker
   * @param {HTMLElement} parts.root  the lane's section; its parts are found by data-role
   * @param {Conversation} parts.conversation
   * @param {() => string} parts.callId
   * @param {() => boolean} parts.captions
   * @param {() => boolean} [parts.talkOpen]   push-to-talk: whether frames may go out now
   * @param {() => boolean} [parts.hearOriginal]  play the original under the translation
   * @param {HTMLInputElement} [parts.fallbackBox]  opt-in: the browser's voice when the server's speech fails
   */
  constructor({
    speaker,
    root,
    conversation,
    callId,
    captions,
    talkOpen = () => true,
    hearOriginal = () => false,
    fallbackBox,
  }) {
    super();
    this.speaker = speaker;
    this.root = root;
    this.conversation = conversation;
    this.callId = callId;
    this.captions = captions;
    this.talkOpen = talkOpen;
    this.hearOriginal = hearOriginal;
    const part = (/** @type {string} */ role) =>
      /** @type {any} */ (root.querySelector(`[data-role="${role}"]`));
    this.els = {
      state: part("state"),
      activity: part("activity"),
      mode: /** @type {HTMLSelectElement} */ (part("mode")),
      voice: /** @type {HTMLSelectElement} */ (part("voice")),
      voiceLabel: part("voice-label"),
      input: /** @type {HTMLSelectElement} */ (part("input")),
      output: /** @type {HTMLSelectElement} */ (part("output")),
      outputHint: part("output-hint"),
      warning: part("warning"),
    };
    this.capture = new Capture();
    this.player = new PlaybackQueue();
    this.fallback = new SpeechFallback({ box: fallbackBox, speaker });
    this.socket = new LiveSocket({ control: () => this.control() });
    this.meter = new LevelMeter(part("level"));
    this.outputPicker = new OutputDevicePicker({
      select: this.els.output,
      hint: this.els.outputHint,
      player: this.player,
      storageKey: `rutrans.call.${speaker}.output.v1`,
    });
    this.inputPicker = new InputDevicePicker({
      select: this.els.input,
      storageKey: `rutrans.call.${speaker}.input.v1`,
      allowDisplay: speaker === "them",
      defaultDisplay: speaker === "them",
    });
    this.running = false;
    this.guarded = false; // the echo guard holds the input while the other lane's translation plays
    this.framesSent = 0;
    this.voices = { ru: "", en: "" };
    /** @type {{source: MediaStreamAudioSourceNode, gain: GainNode} | null} */
    this._original = null;
    this._resumeTimer = 0;
    this._call = ""; // the call this lane's connection belongs to
    this._wireSocket();
    this._wirePlayer();
    this._wireCapture();
    this.els.mode.addEventListener("change", () => {
      this.fillVoice();
      this._changed();
    });
    this.els.voice.addEventListener("change", () => {
      this.voices[this.target] = this.els.voice.value;
      this._changed();
    });
  }

  /** @returns {"en" | "ru"} the language this lane speaks its translations in */
  get target() {
    const [, tgt] = modeLanguages(/** @type {Mode} */ (this.els.mode.value));
    return tgt || "ru";
  }

  /** Offer the voices of the lane's target language, keeping the one chosen for it. */
  fillVoice() {
    const lang = this.target;
    fillVoiceSelect(this.els.voice, lang, this.voices[lang]);
    this.voices[lang] = this.els.voice.value;
  }

  /** @returns {import("./protocol.js").ControlMessage} */
  control() {
    const mode = /** @type {Mode} */ (this.els.mode.value);
    const [src, tgt] = modeLanguages(mode);
    return {
      mode,
      src,
      tgt,
      sample_rate: this.capture.sampleRate,
      channels: this.capture.channels,
      voice: { [this.target]: this.els.voice.value },
      captions: this.captions(),
      call: this.callId(),
      speaker: this.speaker,
    };
  }

  async start() {
    const choice = this.inputPicker.choice;
    const ctx = this.player.context(); // unlock audio output inside the click
    const duck = this.speaker === "them" && this.hearOriginal();
    await this.capture.start(choice.source, {
      deviceId: choice.deviceId,
      suppressLocalAudioPlayback: duck && choice.source === "display",
      voiceProcessing: this.speaker === "me",
    });
    this.running = true;
    this.capture.paused = this.guarded;
    // A connection is a lane of one call: a new call (Start after Stop) gets a new connection.
    const call = this.callId();
    if (this._call !== call && this.socket.state !== "idle") this.socket.close();
    this._call = call;
    if (duck && this.capture.stream) this._playOriginal(ctx, this.capture.stream);
    if (this.socket.connected) this.socket.sendControl();
    else this.socket.open();
    this._setActivity(this._listeningText());
    this.els.input.disabled = true;
    this.outputPicker.refresh();
    this.inputPicker.refresh();
    emit("lane-started", {
      speaker: this.speaker,
      source: choice.source,
      sampleRate: this.capture.sampleRate,
    });
  }

  stop() {
    if (!this.running) return;
    this.running = false;
    clearTimeout(this._resumeTimer);
    this._stopOriginal();
    this.capture.stop();
    this.socket.flush(); // the last utterance is translated now
    this.meter.set(0);
    this.els.input.disabled = false;
    this._setActivity("Stopped");
    this._showStopped();
    emit("lane-stopped", { speaker: this.speaker });
  }

  /** The lane's badge after Stop: not "Connected" (its socket stays open only to receive the
   * translations of what was already said). */
  _showStopped() {
    this.els.state.dataset.state = "stopped";
    this.els.state.textContent = STATE_TEXT.closed;
  }

  /** End the current utterance now (push-to-talk let go). */
  flush() {
    this.socket.flush();
  }

  /** The echo guard: hold (or free) the input while the other lane's translation plays. @param {boolean} on */
  guard(on) {
    this.guarded = on;
    clearTimeout(this._resumeTimer);
    if (on) {
      if (this.running) this.capture.paused = true;
      this._setActivity(this.running ? "Paused while the other side's translation plays" : "");
      return;
    }
    this._resumeTimer = window.setTimeout(() => {
      this.capture.paused = false;
      if (this.running) this._setActivity(this._listeningText());
    }, RESUME_AFTER_PLAYBACK_MS);
  }

  /** Show or clear this lane's echo warning. @param {string} message */
  warn(message) {
    this.els.warning.textContent = message;
    this.els.warning.hidden = !message;
  }

  /** The original's gain now (1 = 0 dB), for the page's state and the tests. */
  get originalGain() {
    return this._original ? this._original.gain.gain.value : null;
  }

  get state() {
    return {
      socket: this.socket.state,
      session: this.socket.session,
      running: this.running,
      paused: this.capture.paused,
      guarded: this.guarded,
      framesSent: this.framesSent,
      queued: this.player.length,
      fallbackSpeaking: this.fallback.speaking,
      sinkId: this.player.sinkId,
      originalGain: this.originalGain,
      mode: this.els.mode.value,
    };
  }

  // --- the original voice under the translation ------------------------------------------------

  /** @param {AudioContext} ctx  the lane's output (its sink: my headphones) @param {MediaStream} stream */
  _playOriginal(ctx, stream) {
    this._stopOriginal();
    const source = ctx.createMediaStreamSource(stream);
    const gain = ctx.createGain();
    gain.gain.value = this.player.playing || this.fallback.speaking ? dbToGain(DUCK_DB) : 1;
    source.connect(gain).connect(ctx.destination);
    this._original = { source, gain };
    emit("original-playing", { speaker: this.speaker, gain: gain.gain.value });
  }

  _stopOriginal() {
    if (!this._original) return;
    this._original.source.disconnect();
    this._original.gain.disconnect();
    this._original = null;
  }

  /** @param {boolean} down */
  _duck(down) {
    const original = this._original;
    if (!original) return;
    const ctx = /** @type {AudioContext} */ (original.gain.context);
    const db = down ? DUCK_DB : 0;
    original.gain.gain.setTargetAtTime(dbToGain(db), ctx.currentTime, DUCK_TIME_CONSTANT_S);
    emit("ducking", { speaker: this.speaker, db });
  }

  // --- wiring ------------------------------------------------------------------------------------

  _wireCapture() {
    this.capture.addEventListener("frame", (/** @type {any} */ { detail }) => {
      if (this.talkOpen()) {
        this.socket.sendFrame(detail.buffer);
        this.framesSent++;
      }
      this.meter.set(detail.level);
      this.dispatchEvent(new CustomEvent("level", { detail: { level: detail.level, sent: true } }));
    });
    this.capture.addEventListener("level", (/** @type {any} */ { detail }) => {
      this.meter.set(detail.level);
      this.dispatchEvent(new CustomEvent("level", { detail: { level: detail.level, sent: false } }));
    });
    this.capture.addEventListener("ended", () => {
      this.conversation.addNotice(`${this._name()}: sharing stopped.`, "info");
      this.stop();
      this.dispatchEvent(new CustomEvent("ended"));
    });
  }

  _wireSocket() {
    const socket = this.socket;
    const speaker = this.speaker;
    socket.addEventListener("state", (/** @type {any} */ { detail }) => {
      const { state, delayMs } = detail;
      if (!this.running && state === "live") {
        this._showStopped(); // still connected for the last translations, but not sending
      } else {
        this.els.state.dataset.state = state;
        this.els.state.textContent =
          state === "retrying"
            ? `${detail.restarting ? "Server restarting. " : ""}Reconnecting in ${Math.max(1, Math.round(delayMs / 1000))} s…`
            : STATE_TEXT[state] || state;
      }
      if (state === "retrying") this.conversation.markLost(speaker);
      emit("lane-socket", { speaker, state });
    });
    socket.addEventListener("status", (/** @type {any} */ { detail }) => {
      if (detail.state === "queued") {
        this._entry(detail.session, detail.seq, { id: detail.id, startS: detail.start_s });
        emit("lane-queued", { speaker, seq: detail.seq, start_s: detail.start_s, end_s: detail.end_s });
      } else if (detail.state === "configured") {
        emit("lane-configured", { speaker, call: detail.call, mode: detail.mode, session: socket.session });
      }
    });
    socket.addEventListener("partial", (/** @type {any} */ { detail }) => {
      showPartial(this._entry(detail.session, detail.seq), detail);
    });
    socket.addEventListener("result", (/** @type {any} */ { detail }) => {
      const { result, session } = detail;
      const entry = this._entry(session, result.seq, { id: result.id, startS: result.start_s });
      this.conversation.fillResult(entry, result);
      announceFinal(result);
      emit("lane-text", { speaker, seq: result.seq, text: result.text, start_s: result.start_s });
    });
    socket.addEventListener("audio", (/** @type {any} */ { detail }) => {
      const { seq, index, wav, session } = detail;
      const entry = this._entry(session, seq);
      const piece = { wav: new Blob([wav], { type: "audio/wav" }), durationS: wavDurationS(wav) };
      entry.pieces.push(piece);
      entry.wavBytes += wav.byteLength;
      entry.replay.disabled = false;
      this.player.enqueue({ ...piece, key: [session, seq, index], id: entry.key });
    });
    socket.addEventListener("audio-end", (/** @type {any} */ { detail }) => {
      const { seq, session, error } = detail;
      const entry = this._entry(session, seq);
      const result = entry.result;
      const timings = { ...(result?.timings || {}), ...(detail.timings || {}) };
      this.conversation.showTimings(entry, timings);
      this.fallback.afterAudio(this.conversation, entry, error);
      emit("lane-result", {
        speaker,
        seq,
        src: result?.src,
        tgt: result?.tgt,
        text: result?.text ?? "",
        source_text: result?.source_text ?? null,
        start_s: result?.start_s ?? null,
        end_s: result?.end_s ?? null,
        pieces: entry.pieces.length,
        timings,
      });
    });
    socket.addEventListener("error", (/** @type {any} */ { detail }) => {
      emit("lane-error", { speaker, error: detail.error, seq: detail.seq });
      if (detail.seq !== undefined)
        this.conversation.setError(this._entry(detail.session, detail.seq), detail.error);
      else this.conversation.addNotice(`${this._name()}: ${detail.error}`, "error");
    });
    socket.addEventListener("notice", (/** @type {any} */ { detail }) =>
      this.conversation.addNotice(`${this._name()}: ${detail.message}`, "info"),
    );
  }

  _wirePlayer() {
    const speaker = this.speaker;
    // The server's audio or the browser's voice: either one is "playing" for the echo guard.
    whileAudible([this.player, this.fallback], (playing) => {
      this._duck(playing);
      this.dispatchEvent(new CustomEvent("playing", { detail: { playing } }));
    });
    this.player.addEventListener("start", (/** @type {any} */ { detail }) => {
      const entry = this.conversation.get(detail.item.id);
      if (entry) entry.el.dataset.playing = "true";
      emit("lane-playback-started", {
        speaker,
        id: detail.item.id,
        sinkId: this.player.sinkId,
        originalGain: this.originalGain,
      });
    });
    for (const type of ["ended", "stopped", "failed"]) {
      this.player.addEventListener(type, (/** @type {any} */ { detail }) => {
        const entry = this.conversation.get(detail.item.id);
        if (entry) delete entry.el.dataset.playing;
        emit(`lane-playback-${type}`, {
          speaker,
          id: detail.item.id,
          peak: detail.peak ?? 0,
          error: detail.error,
        });
      });
    }
  }

  _changed() {
    this.dispatchEvent(new CustomEvent("settings"));
    if (this.socket.connected) this.socket.sendControl(); // applies from the next utterance
  }

  /**
   * @param {string | number} session
   * @param {number} seq
   * @param {{id?: string, startS?: number}} [about]
   */
  _entry(session, seq, { id, startS } = {}) {
    return this.conversation.entryFor(session, seq, {
      id,
      startS,
      speaker: this.speaker,
      mode: this.els.mode.value,
    });
  }

  _listeningText() {
    if (this.guarded) return "Paused while the other side's translation plays";
    return this.speaker === "me" ? "Listening to you" : "Listening to the call";
  }

  /** @param {string} text */
  _setActivity(text) {
    this.els.activity.textContent = text;
  }

  _name() {
    return this.speaker === "me" ? "Me → them" : "Them → me";
  }
}
