// @ts-check
// The conversation view: one list item per utterance (what was heard, its translation, the
// latency, a replay button), filled in as its messages arrive, and notices between them. The
// live page has one lane; the call page puts both lanes' utterances in one list, labelled by
// speaker and kept in the order of the call's clock.
import { settleEntry } from "./captions.js";
import { renderDetection } from "./detection.js";
import { LANG_NAMES } from "./voices.js";

/** @typedef {import("./protocol.js").ResultMessage} ResultMessage */
/** @typedef {import("./protocol.js").Timings} Timings */
/** @typedef {import("./protocol.js").Speaker} Speaker */

/**
 * @typedef {object} Entry
 * @property {string} key
 * @property {HTMLLIElement} el
 * @property {HTMLElement} direction
 * @property {HTMLElement} latency
 * @property {HTMLButtonElement} replay
 * @property {HTMLElement} sourceText
 * @property {HTMLElement} targetText
 * @property {HTMLElement} sourceLabel
 * @property {HTMLElement} targetLabel
 * @property {ResultMessage | null} result
 * @property {{wav: Blob, durationS: number}[]} pieces  in order
 * @property {number} wavBytes
 * @property {number | null} startS  where it lies on the stream's (or the call's) clock
 * @property {number} [partialPart]
 */

export const SPEAKER_LABELS = Object.freeze({ me: "Me", them: "Them" });

/**
 * "EN → RU", or "Auto-detect" before language ID has spoken.
 * @param {string} mode
 */
export function directionText(mode) {
  if (mode === "auto") return "Auto-detect";
  const [src, tgt] = mode.split("->");
  return `${src.toUpperCase()} → ${tgt.toUpperCase()}`;
}

/**
 * What the listener waited for, from the end of speech: detection, queue, the models up to
 * the first spoken piece (or the text, until audio comes), delivery; and each stage.
 * @param {Timings} t
 * @returns {{label: string, detail: string, waitMs: number}}
 */
export function describeTimings(t) {
  /** @type {[string, number | undefined][]} */
  const stages = [
    ["end of speech", t.endpoint_ms],
    ["queue", t.queue_ms],
    ["language ID", t.lid_ms],
    ["translation", t.ast_ms],
    ["speech", t.tts_ms],
    ["first audio", t.first_audio_ms],
    ["delivery", t.push_ms],
  ];
  const parts = stages.filter(([, v]) => typeof v === "number");
  const models = t.first_audio_ms ?? (t.lid_ms || 0) + (t.ast_ms || 0);
  const wait = (t.endpoint_ms || 0) + (t.queue_ms || 0) + models + (t.push_ms || 0);
  const label = wait >= 1000 ? `${(wait / 1000).toFixed(1)} s` : `${Math.round(wait)} ms`;
  const detail = parts.map(([name, v]) => `${name} ${Math.round(v)} ms`).join(" · ");
  const audio = typeof t.audio_s === "number" ? ` · utterance ${t.audio_s.toFixed(1)} s` : "";
  return { label, detail: detail + audio, waitMs: wait };
}

/**
 * @param {Document} doc
 * @param {string} tag
 * @param {Record<string, string>} [props]  class, text, or attributes
 * @param {...Node} children
 */
function el(doc, tag, props = {}, ...children) {
  const node = doc.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

export class Conversation {
  /**
   * @param {object} parts
   * @param {HTMLElement} parts.list     the <ol> of utterances and notices
   * @param {HTMLElement} parts.empty    shown while the list is empty
   * @param {(entry: Entry) => void} [parts.onReplay]
   * @param {(mode: string) => void} [parts.onCorrect]  language ID was wrong: use this mode
   * @param {Document} [parts.document]
   */
  constructor({ list, empty, onReplay = () => {}, onCorrect = () => {}, document = globalThis.document }) {
    this.list = list;
    this.empty = empty;
    this.onReplay = onReplay;
    this.onCorrect = onCorrect;
    this.doc = document;
    /** @type {Map<string, Entry>} */
    this.entries = new Map();
  }

  /** @param {string} key */
  get(key) {
    return this.entries.get(key);
  }

  /**
   * The entry of utterance `seq` of connection `session`, made (and placed) on first use.
   * @param {string | number} session
   * @param {number} seq
   * @param {{id?: string, mode?: string, speaker?: Speaker, startS?: number | null}} [about]
   * @returns {Entry}
   */
  entryFor(session, seq, { id, mode = "auto", speaker, startS = null } = {}) {
    const key = speaker ? `${speaker}:${session}:${seq}` : `${session}:${seq}`;
    let entry = this.entries.get(key);
    if (!entry) {
      entry = this._render(key, seq, mode, speaker);
      this.entries.set(key, entry);
      this.list.append(entry.el);
      this._updateEmpty();
      entry.el.scrollIntoView?.({ block: "nearest", behavior: "smooth" });
    }
    if (id) entry.el.dataset.id = id;
    if (typeof startS === "number" && entry.startS === null) this._place(entry, startS);
    return entry;
  }

  /**
   * @param {Entry} entry
   * @param {ResultMessage} result
   */
  fillResult(entry, result) {
    const { src, tgt } = result;
    settleEntry(entry);
    entry.result = result;
    entry.direction.textContent = `${src.toUpperCase()} → ${tgt.toUpperCase()}`;
    entry.direction.setAttribute("aria-label", `${LANG_NAMES[src]} to ${LANG_NAMES[tgt]}`);
    entry.sourceLabel.textContent = LANG_NAMES[src] || src;
    entry.targetLabel.textContent = LANG_NAMES[tgt] || tgt;
    entry.sourceText.lang = src;
    entry.targetText.lang = tgt;
    const heard = result.source_text;
    entry.sourceText.textContent = heard || "(no transcript)";
    entry.sourceText.classList.toggle("muted", !heard);
    entry.targetText.textContent = result.text || "(nothing was recognised)";
    entry.targetText.classList.toggle("muted", !result.text);
    entry.targetText.classList.remove("pending");
    this.showTimings(entry, result.timings || {});
    entry.el.dataset.state = "done";
    entry.replay.setAttribute("aria-label", `Replay translation: ${result.text}`);
    if (typeof result.start_s === "number" && entry.startS === null) this._place(entry, result.start_s);
    if (result.lid && !entry.el.querySelector(".detection")) {
      entry.el.querySelector(".utterance-head").after(renderDetection(result.lid, this.onCorrect));
    }
  }

  /**
   * @param {Entry} entry
   * @param {Timings} timings
   */
  showTimings(entry, timings) {
    const { label, detail } = describeTimings(timings);
    entry.latency.textContent = label;
    entry.latency.title = detail;
    entry.latency.setAttribute("aria-label", `Latency ${label}. ${detail}`);
  }

  /**
   * @param {Entry} entry
   * @param {string} message
   */
  setError(entry, message) {
    settleEntry(entry);
    entry.el.dataset.state = "error";
    entry.targetText.textContent = "Not translated";
    entry.targetText.classList.remove("pending");
    entry.targetText.classList.add("muted");
    entry.sourceText.textContent = "";
    entry.replay.hidden = true;
    this.showProblem(entry, message, "error");
  }

  /**
   * @param {Entry} entry
   * @param {string} message
   * @param {"error" | "warn"} kind
   */
  showProblem(entry, message, kind) {
    const box = /** @type {HTMLElement} */ (entry.el.querySelector(".utterance-error"));
    box.textContent = message;
    box.dataset.kind = kind;
    box.hidden = false;
  }

  /** The connection was lost: what was still on its way will not come. @param {Speaker} [speaker] */
  markLost(speaker) {
    for (const entry of this.entries.values()) {
      if (speaker && entry.el.dataset.speaker !== speaker) continue;
      if (entry.el.dataset.state === "pending" || entry.el.dataset.state === "partial") {
        this.setError(entry, "The connection was lost before this translation arrived.");
      }
    }
  }

  /**
   * @param {string} message
   * @param {"error" | "info" | "warn"} kind
   */
  addNotice(message, kind) {
    const item = el(this.doc, "li", {
      class: `notice notice-${kind}`,
      role: kind === "error" ? "alert" : "status",
    });
    item.textContent = message;
    this.list.append(item);
    this._updateEmpty();
    item.scrollIntoView?.({ block: "nearest", behavior: "smooth" });
    return item;
  }

  clear() {
    this.entries.clear();
    this.list.replaceChildren();
    this._updateEmpty();
  }

  // --- internals ------------------------------------------------------------------------------

  /** Keep utterances in clock order: a later lane's reply may arrive before an earlier one. */
  _place(entry, startS) {
    entry.startS = startS;
    entry.el.dataset.startS = String(startS);
    for (const other of this.list.children) {
      const at = /** @type {HTMLElement} */ (other).dataset.startS;
      if (other !== entry.el && at !== undefined && Number(at) > startS) {
        this.list.insertBefore(entry.el, other);
        return;
      }
    }
  }

  _updateEmpty() {
    this.empty.hidden = this.list.children.length > 0;
  }

  /**
   * @param {string} key
   * @param {number} seq
   * @param {string} mode
   * @param {Speaker} [speaker]
   * @returns {Entry}
   */
  _render(key, seq, mode, speaker) {
    const doc = this.doc;
    const head = [];
    if (speaker) {
      head.push(
        el(doc, "span", { class: "speaker", "data-speaker": speaker, text: SPEAKER_LABELS[speaker] }),
      );
    }
    const direction = el(doc, "span", { class: "direction", text: directionText(mode) });
    const latency = el(doc, "span", { class: "latency" });
    const replay = /** @type {HTMLButtonElement} */ (
      el(doc, "button", { class: "btn btn-small replay", type: "button", disabled: "" })
    );
    replay.append(
      el(doc, "span", { class: "icon", "aria-hidden": "true", text: "▶" }),
      el(doc, "span", { class: "btn-text", text: "Replay" }),
    );
    const sourceText = el(doc, "p", { class: "text", text: "…" });
    const targetText = el(doc, "p", { class: "text pending", text: "Translating…" });
    const sourceLabel = el(doc, "span", { class: "lang-label", text: "Heard" });
    const targetLabel = el(doc, "span", { class: "lang-label", text: "Translation" });
    const attrs = { class: "utterance", "data-state": "pending", "data-seq": String(seq) };
    if (speaker) attrs["data-speaker"] = speaker;
    const item = /** @type {HTMLLIElement} */ (
      el(
        doc,
        "li",
        attrs,
        el(doc, "div", { class: "utterance-head" }, ...head, direction, latency, replay),
        el(
          doc,
          "div",
          { class: "utterance-body" },
          el(doc, "div", { class: "side source" }, sourceLabel, sourceText),
          el(doc, "div", { class: "side target" }, targetLabel, targetText),
        ),
        el(doc, "p", { class: "utterance-error", role: "alert", hidden: "" }),
      )
    );
    /** @type {Entry} */
    const entry = {
      key,
      el: item,
      direction,
      latency,
      replay,
      sourceText,
      targetText,
      sourceLabel,
      targetLabel,
      result: null,
      pieces: [],
      wavBytes: 0,
      startS: null,
    };
    replay.addEventListener("click", () => {
      if (entry.pieces.length) this.onReplay(entry);
    });
    return entry;
  }
}
