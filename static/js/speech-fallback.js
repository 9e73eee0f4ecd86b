// @ts-check
// When the server's speech fails (tts_failed: a result whose audio_end brought no pieces), the
// page may speak the translation with the browser's own voice (speechSynthesis) in the target
// language. Opt-in (a checkbox, off by default) and labelled "browser voice" on the utterance,
// since that voice is not the one chosen. It counts as playback for the pages' echo guard and
// "pause while a translation plays" ("busy" / "idle", as PlaybackQueue). speechSynthesis has no
// output device choice: it plays on the system's default output.
import { emit } from "./events.js";

/** @typedef {import("./conversation.js").Conversation} Conversation */
/** @typedef {import("./conversation.js").Entry} Entry */
/** @typedef {Pick<SpeechSynthesis, "speak" | "cancel" | "getVoices">} Synth */

/** The target languages as BCP-47 tags for SpeechSynthesisUtterance.lang. */
export const BCP47 = Object.freeze({ ru: "ru-RU", en: "en-US" });
export const FALLBACK_LABEL = "browser voice";
const GUARD_S = 10; // an utterance that never ends (Chrome may drop its events) ends after
const GUARD_S_PER_CHAR = 0.2; // ... this long, so the echo guard never stays on

/**
 * The voice for `tag` ("ru-RU"): that exact tag, else the same language ("ru", "ru-UA"); an
 * on-device voice before a network one. null when the browser has none (it then picks one
 * itself from the utterance's lang).
 * @param {readonly SpeechSynthesisVoice[]} voices
 * @param {string} tag
 * @returns {SpeechSynthesisVoice | null}
 */
export function pickVoice(voices, tag) {
  const lang = tag.split("-")[0].toLowerCase();
  const norm = (/** @type {string} */ value) => (value || "").replace("_", "-").toLowerCase();
  const exact = voices.filter((v) => norm(v.lang) === tag.toLowerCase());
  const same = exact.length ? exact : voices.filter((v) => norm(v.lang).split("-")[0] === lang);
  return same.find((v) => v.localService) || same[0] || null;
}

/**
 * Call `onChange(true)` when the first of `sources` starts playing, `onChange(false)` once all
 * of them are idle: server audio (PlaybackQueue) and the browser's voice are one "playing".
 * @param {EventTarget[]} sources  each dispatches "busy" and "idle"
 * @param {(playing: boolean) => void} onChange
 */
export function whileAudible(sources, onChange) {
  const busy = new Set();
  for (const source of sources) {
    source.addEventListener("busy", () => {
      busy.add(source);
      if (busy.size === 1) onChange(true);
    });
    source.addEventListener("idle", () => {
      if (busy.delete(source) && busy.size === 0) onChange(false);
    });
  }
}

export class SpeechFallback extends EventTarget {
  /**
   * @param {object} [options]
   * @param {HTMLInputElement | {checked: boolean, disabled: boolean, title: string}} [options.box]
   *   the opt-in checkbox (disabled where the browser cannot speak)
   * @param {() => boolean} [options.allowed]  e.g. not while the page is muted
   * @param {string} [options.speaker]  a call's lane, named in the page events
   * @param {Synth | null} [options.synth]
   * @param {typeof SpeechSynthesisUtterance | null} [options.Utterance]
   */
  constructor({
    box = { checked: false, disabled: false, title: "" },
    allowed = () => true,
    speaker,
    synth = globalThis.speechSynthesis ?? null,
    Utterance = globalThis.SpeechSynthesisUtterance ?? null,
  } = {}) {
    super();
    this.box = box;
    this.allowed = allowed;
    this.speaker = speaker;
    this.synth = synth;
    this.Utterance = Utterance;
    this._speaking = 0;
    /** @type {Set<SpeechSynthesisUtterance>} held until they end (Chrome drops the events of a collected one) */
    this._live = new Set();
    if (!this.supported) {
      box.checked = false;
      box.disabled = true;
      box.title = "This browser has no speech synthesis.";
    }
  }

  get supported() {
    return Boolean(this.synth && this.Utterance);
  }

  get enabled() {
    return this.supported && this.box.checked && this.allowed();
  }

  /** Whether the browser's voice is speaking now. */
  get speaking() {
    return this._speaking > 0;
  }

  /**
   * Speak `text` in `lang` ("ru" / "en") when opted in; resolves once done: true when spoken,
   * false when not (off, unsupported, muted, cancelled, failed).
   * @param {{text: string, lang: string, seq?: number}} what
   * @param {{onStart?: () => void}} [hooks]
   * @returns {Promise<boolean>}
   */
  speak({ text, lang, seq }, { onStart } = {}) {
    if (!text || !this.enabled) return Promise.resolve(false);
    const tag = BCP47[lang] || lang;
    const utterance = new this.Utterance(text);
    utterance.lang = tag;
    const voice = pickVoice(this.synth.getVoices(), tag);
    if (voice) utterance.voice = voice;
    const about = { seq, lang: tag, text, speaker: this.speaker, voice: voice?.name ?? null };
    return new Promise((resolve) => {
      let started = false;
      let guard = 0;
      const arm = () => {
        clearTimeout(guard);
        guard = setTimeout(
          () => finish(false, "no end event"),
          (GUARD_S + text.length * GUARD_S_PER_CHAR) * 1000,
        );
      };
      const finish = (/** @type {boolean} */ spoken, /** @type {string} */ error = "") => {
        if (!this._live.delete(utterance)) return;
        clearTimeout(guard);
        if (started && --this._speaking === 0) this.dispatchEvent(new Event("idle"));
        emit("speech-fallback-ended", { ...about, spoken, error: error || null });
        resolve(spoken);
      };
      utterance.onstart = () => {
        if (started || !this._live.has(utterance)) return;
        started = true;
        arm();
        if (++this._speaking === 1) this.dispatchEvent(new Event("busy"));
        onStart?.();
      };
      utterance.onend = () => finish(started);
      utterance.onerror = (event) => finish(false, event?.error || "error");
      this._live.add(utterance);
      arm();
      emit("speech-fallback", about);
      try {
        this.synth.speak(utterance);
      } catch (error) {
        finish(false, String(error?.message || error));
      }
    });
  }

  /** Stop speaking and forget what waits (mute, Clear). */
  cancel() {
    if (!this._live.size) return;
    this.synth.cancel();
    for (const utterance of [...this._live]) utterance.onerror?.(/** @type {any} */ ({ error: "canceled" }));
  }

  /**
   * A result's audio has ended: when none came, say so (the server's reason) and, opted in,
   * speak the text with the browser's voice, labelled on the utterance.
   * @param {Conversation} conversation
   * @param {Entry} entry
   * @param {string} [error]  audio_end's error
   * @returns {Promise<boolean>} whether the browser's voice spoke it
   */
  async afterAudio(conversation, entry, error = "") {
    const result = entry.result;
    if (!entry.pieces.length) entry.replay.hidden = true; // nothing to replay
    if (entry.pieces.length || !result?.text) {
      if (error && entry.pieces.length)
        conversation.showProblem(entry, `Part of the audio is missing: ${error}`, "warn");
      return false; // spoken by the server, or nothing was heard: nothing went wrong
    }
    const why = `The voice could not be synthesised; the text is shown. ${error}`.trim();
    conversation.showProblem(entry, why, "warn");
    const onStart = () => {
      labelEntry(entry);
      entry.el.dataset.playing = "true";
    };
    const spoken = await this.speak({ text: result.text, lang: result.tgt, seq: result.seq }, { onStart });
    delete entry.el.dataset.playing;
    return spoken;
  }
}

/** Mark an utterance as spoken by the browser's voice (once). @param {Entry} entry */
export function labelEntry(entry) {
  entry.el.dataset.fallback = "browser";
  if (entry.el.querySelector(".fallback-voice")) return;
  const label = entry.el.ownerDocument.createElement("span");
  label.className = "fallback-voice";
  label.textContent = FALLBACK_LABEL;
  label.title = "The server's speech failed: this browser's own voice read the translation.";
  entry.latency.after(label);
}
