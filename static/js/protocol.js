// @ts-check
// The /ws/translate messages as types (JSDoc, checked by `tsc` in `make lint`), generated from
// the server's pydantic models (translation/protocol/ → protocol.schema.json →
// protocol-types.d.ts: `make protocol`); only the names the pages use are given here.

/** @typedef {import("./protocol-types").ControlMessage} ControlMessage  the first text frame, resent on a change */
/** @typedef {NonNullable<ControlMessage["tgt"]>} Lang */
/** @typedef {ControlMessage["src"]} SourceLang */
/** @typedef {NonNullable<ControlMessage["mode"]>} Mode */
/** @typedef {NonNullable<ControlMessage["speaker"]>} Speaker  the two lanes of a call */

/**
 * The session's own states.
 * @typedef {import("./protocol-types").ReadyStatus | import("./protocol-types").ConfiguredStatus
 *   | import("./protocol-types").QueuedStatus | import("./protocol-types").FlushedStatus
 *   | import("./protocol-types").CaptionsStatus} StatusMessage
 */
/** @typedef {import("./protocol-types").CapacityStatus} CapacityStatusMessage  busy / clear / refused */
/** @typedef {import("./protocol-types").HistoryStatus} HistoryStatusMessage  history or recording paused */
/** @typedef {import("./protocol-types").ResultMessage} ResultMessage */
/** @typedef {import("./protocol-types").AudioEndMessage} AudioEndMessage */
/** @typedef {import("./protocol-types").PartialMessage} PartialMessage */
/** @typedef {import("./protocol-types").ErrorMessage} ErrorMessage */
/** @typedef {import("./protocol-types").JobMessage} JobMessage  an upload's progress (/ws/jobs) */
/** @typedef {ResultMessage["timings"]} Timings  milliseconds per stage, as the server measured them */

/** @typedef {StatusMessage | CapacityStatusMessage | HistoryStatusMessage | ResultMessage | AudioEndMessage | PartialMessage | ErrorMessage} ServerMessage */

export const SPEAKERS = /** @type {const} */ (["me", "them"]);
export const CALL_ID_PATTERN = /^[0-9a-f]{32}$/;

/** A new call id: 128 random bits as 32 hex characters (the server checks the shape). */
export function newCallId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A mode's source and target ("auto": the target follows the detected language).
 * @param {Mode} mode
 * @returns {[SourceLang, Lang | null]}
 */
export function modeLanguages(mode) {
  if (mode === "auto") return ["auto", null];
  const [src, tgt] = /** @type {[Lang, Lang]} */ (mode.split("->"));
  return [src, tgt];
}
