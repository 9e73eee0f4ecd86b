// @ts-check
// One lane of a call: its input (a microphone or device, or tab / system audio), its own
// /ws/translate connection (control naming the call and the speaker), its playback on its own
// output, its meter and state, and its utterances in the page's conversation view. The call page
// runs two (call.js); the live page is a one-lane call (live.js: `solo`, one "me" lane).
//
//   "me"   → my microphone, my language into theirs, played on the call's microphone (a cable)
//   "them" → the call's sound, their language into mine, played on my headphones; optionally
//            the original voice under it, ducked while a translation plays (original-voice.js)
import { Capture } from "./capture.js";
import { InputDevicePicker } from "./input-device.js";
import { STATE_TEXT, wirePlayer, wireSocket } from "./lane-wiring.js";
import { reportLane } from "./lane-events.js";
import { LevelMeter } from "./level.js";
import { OriginalVoice } from "./original-voice.js";
import { OutputDevicePicker } from "./output-device.js";
import { PlaybackQueue } from "./playback.js";
import { modeLanguages } from "./protocol.js";
import { SpeechFallback } from "./speech-fallback.js";
import { fillVoiceSelect } from "./voices.js";
import { LiveSocket } from "./ws-client.js";

/** @typedef {import("./protocol.js").Speaker} Speaker */
/** @typedef {import("./protocol.js").Mode} Mode */
/** @typedef {import("./conversation.js").Conversation} Conversation */
/** @typedef {{source: "mic" | "display", deviceId?: string}} InputChoice */

const RESUME_AFTER_PLAYBACK_MS = 300;
const GUARDED_TEXT = "Paused while the other side's translation plays";

export class Lane extends EventTarget {
  /**
   * @param {object} parts
   * @param {Speaker} parts.speaker
   * @param {HTMLElement} [parts.root]  the lane's section; its parts are found by data-role
   * @param {Record<string, any>} [parts.els]  or its parts given (the live page: no state badge,
   *   no input or voice select: the page shows and sends those itself)
   * @param {Conversation} parts.conversation
   * @param {() => string} parts.callId
   * @param {() => boolean} parts.captions
   * @param {boolean} [parts.solo]  the page's only lane: the live page's event names, no speaker
   *   label on its utterances, no lane name on its notices
   * @param {() => boolean} [parts.talkOpen]   push-to-talk: whether frames may go out now
   * @param {() => boolean} [parts.hearOriginal]  play the original under the translation
   * @param {HTMLInputElement} [parts.fallbackBox]  opt-in: the browser's voice when the server's speech fails
   * @param {() => boolean} [parts.fallbackAllowed]  e.g. not while the page is muted
   * @param {() => InputChoice} [parts.input]  what to capture, where the page chooses it
   * @param {() => object} [parts.control]  the page's own control fields (over the lane's)
   * @param {() => string} [parts.listeningText]  the activity line while listening
   */
  constructor({
    speaker,
    root,
    els,
    conversation,
    callId,
    captions,
    solo = false,
    talkOpen = () => true,
    hearOriginal = () => false,
    fallbackBox,
    fallbackAllowed,
    input,
    control = () => ({}),
    listeningText,
  }) {
    super();
    this.speaker = speaker;
    this.solo = solo;
    this.tag = solo ? undefined : speaker; // the conversation labels a call's utterances
    this.root = root;
    this.conversation = conversation;
    this.callId = callId;
    this.captions = captions;
    this.talkOpen = talkOpen;
    this.hearOriginal = hearOriginal;
    this.pageControl = control;
    this.pageListening = listeningText;
    const part = (/** @type {string} */ role) =>
      /** @type {any} */ (root?.querySelector(`[data-role="${role}"]`) ?? null);
    this.els = els ?? {
      state: part("state"),
      activity: part("activity"),
      mode: /** @type {HTMLSelectElement} */ (part("mode")),
      voice: /** @type {HTMLSelectElement} */ (part("voice")),
      input: /** @type {HTMLSelectElement} */ (part("input")),
      output: /** @type {HTMLSelectElement} */ (part("output")),
      outputHint: part("output-hint"),
      level: part("level"),
      warning: part("warning"),
    };
    this.capture = new Capture();
    this.player = new PlaybackQueue();
    this.fallback = new SpeechFallback({ box: fallbackBox, allowed: fallbackAllowed, speaker: this.tag });
    this.socket = new LiveSocket({ control: () => this.control() });
    this.meter = new LevelMeter(this.els.level);
    this.original = new OriginalVoice(speaker);
    this.outputPicker = new OutputDevicePicker({
      select: this.els.output,
      hint: this.els.outputHint,
      player: this.player,
      storageKey: solo ? undefined : `rutrans.call.${speaker}.output.v1`, // a call: one per lane
    });
    this.inputPicker = input
      ? null
      : new InputDevicePicker({
          select: this.els.input,
          storageKey: `rutrans.call.${speaker}.input.v1`,
          allowDisplay: speaker === "them",
          defaultDisplay: speaker === "them",
        });
    this.inputChoice = input ?? (() => this.inputPicker.choice);
    this.running = false;
    this.guarded = false; // its input held while a translation plays (the echo guard, or the live page's pause)
    this.guardedText = GUARDED_TEXT;
    this.framesSent = 0;
    this.voices = { ru: "", en: "" };
    this._resumeTimer = 0;
    this._call = ""; // the call this lane's connection belongs to
    wireSocket(this);
    wirePlayer(this);
    this._wireCapture();
    this.els.mode.addEventListener("change", () => {
      this.fillVoice();
      this._changed();
    });
    this.els.voice?.addEventListener("change", () => {
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
    if (!this.els.voice) return;
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
      voice: this.els.voice ? { [this.target]: this.els.voice.value } : {},
      captions: this.captions(),
      call: this.callId(),
      speaker: this.speaker,
      ...this.pageControl(),
    };
  }

  async start() {
    const choice = this.inputChoice();
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
    if (duck && this.capture.stream) this.original.play(ctx, this.capture.stream, this._audible);
    if (this.socket.connected) this.socket.sendControl();
    else this.socket.open();
    this._setActivity(this._listeningText());
    if (this.els.input) this.els.input.disabled = true;
    this.outputPicker.refresh();
    this.inputPicker?.refresh();
    this.report("started", {
      source: choice.source,
      sampleRate: this.capture.sampleRate,
      channels: this.capture.channels,
    });
  }

  stop() {
    if (!this.running) return;
    this.running = false;
    clearTimeout(this._resumeTimer);
    this.original.stop();
    this.capture.stop();
    this.socket.flush(); // the last utterance is translated now
    this.meter.set(0);
    if (this.els.input) this.els.input.disabled = false;
    this._setActivity("Stopped");
    this.showStopped();
    this.report("stopped", {});
  }

  /** The lane's badge after Stop: not "Connected" (its socket stays open only to receive the
   * translations of what was already said). */
  showStopped() {
    if (!this.els.state) return;
    this.els.state.dataset.state = "stopped";
    this.els.state.textContent = STATE_TEXT.closed;
  }

  /** End the current utterance now (push-to-talk let go). */
  flush() {
    this.socket.flush();
  }

  /**
   * Hold (or free, a moment later) the input while a translation plays: the other lane's (the
   * echo guard), or the live page's own ("pause listening while a translation plays").
   * @param {boolean} on  @param {string} [text]  the activity line meanwhile
   */
  guard(on, text = GUARDED_TEXT) {
    this.guarded = on;
    clearTimeout(this._resumeTimer);
    if (on) {
      this.guardedText = text;
      if (this.running) this.capture.paused = true;
      this._setActivity(this.running ? text : "");
      return;
    }
    this._resumeTimer = window.setTimeout(() => {
      this.capture.paused = false;
      if (this.running) this._setActivity(this._listeningText());
    }, RESUME_AFTER_PLAYBACK_MS);
  }

  /** Free the input now (push-to-talk pressed: holding is explicit). */
  resume() {
    clearTimeout(this._resumeTimer);
    this.guarded = false;
    this.capture.paused = false;
    this._setActivity(this._listeningText());
  }

  /** Show or clear this lane's echo warning. @param {string} message */
  warn(message) {
    this.els.warning.textContent = message;
    this.els.warning.hidden = !message;
  }

  /** The original's gain now (1 = 0 dB), for the page's state and the tests. */
  get originalGain() {
    return this.original.gain;
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

  get _audible() {
    return this.player.playing || this.fallback.speaking;
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
      this.notice(this.solo ? "Sharing stopped." : "sharing stopped.", "info");
      this.stop();
      this.dispatchEvent(new CustomEvent("ended"));
    });
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
  entry(session, seq, { id, startS } = {}) {
    return this.conversation.entryFor(session, seq, {
      id,
      startS,
      speaker: this.tag,
      mode: this.els.mode.value,
    });
  }

  /** A line in the conversation (a call's lane names itself). @param {string} message @param {"info" | "error"} kind */
  notice(message, kind) {
    const text = this.solo ? message : `${this._name()}: ${message}`;
    this.conversation.addNotice(text, kind);
    this.report("notice", { kind, message: text });
  }

  /** @param {string} what @param {object} detail */
  report(what, detail) {
    reportLane(what, detail, this);
  }

  _listeningText() {
    if (this.guarded) return this.guardedText;
    if (this.pageListening) return this.pageListening();
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
