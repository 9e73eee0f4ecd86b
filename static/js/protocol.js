// @ts-check
// The /ws/translate messages as types (JSDoc, checked by `tsc` in `make lint`). The server's
// schema is translation/streaming/protocol.py (ControlMessage and the message builders); change both together.

/** @typedef {"en" | "ru"} Lang */
/** @typedef {"auto" | Lang} SourceLang */
/** @typedef {"auto" | "en->ru" | "ru->en"} Mode */
/** @typedef {"me" | "them"} Speaker  the two lanes of a call */

/**
 * The control message: the first text frame of a connection, resent after a settings change.
 * @typedef {object} ControlMessage
 * @property {Mode} mode
 * @property {SourceLang} src
 * @property {Lang | null} tgt
 * @property {number} sample_rate
 * @property {number} channels
 * @property {{ru?: string, en?: string}} voice
 * @property {boolean} [captions]
 * @property {string} [call]      a call's id: 32 hex characters, made by the page
 * @property {Speaker} [speaker]  which lane of the call this connection is
 */

/**
 * Milliseconds per stage (all optional; the server adds what it measured).
 * @typedef {{[stage: string]: number | undefined, endpoint_ms?: number, queue_ms?: number,
 *   lid_ms?: number, ast_ms?: number, tts_ms?: number, first_audio_ms?: number,
 *   push_ms?: number, submit_ms?: number, audio_s?: number}} Timings
 */

/**
 * @typedef {object} StatusMessage
 * @property {"status"} type
 * @property {"ready" | "configured" | "queued" | "flushed" | "captions"} state
 * @property {string} [session]  ready: the server's id of this connection
 * @property {string} [id]       queued: the utterance's history id
 * @property {number} [seq]
 * @property {number} [start_s]  queued: where the utterance lies in the stream (on a call: the call's clock)
 * @property {number} [end_s]
 * @property {Mode | string} [mode]
 * @property {{ru?: string, en?: string}} [voice]
 * @property {boolean} [captions]
 * @property {string} [call]
 * @property {Speaker} [speaker]
 */

/**
 * The workers' backlog (translation/streaming/protocol.py `CapacityStatus`): `busy` while
 * translations run more than MAX_QUEUE_LAG_S behind, `clear` once caught up, `refused` for a
 * new session that is not admitted (the socket then closes with 1013 and `message`).
 * @typedef {object} CapacityStatusMessage
 * @property {"status"} type
 * @property {"busy" | "clear" | "refused"} state
 * @property {number} lag_s
 * @property {number} queued
 * @property {boolean} captions_paused
 * @property {number} [retry_after_s]
 * @property {string} message
 */

/**
 * @typedef {object} ResultMessage
 * @property {"result"} type
 * @property {number} seq
 * @property {string} id
 * @property {Lang} src
 * @property {Lang} tgt
 * @property {string} text
 * @property {string} [source_text]
 * @property {boolean} tts_failed
 * @property {Timings} timings
 * @property {string} [error]
 * @property {number} [start_s]
 * @property {number} [end_s]
 * @property {{lang: Lang, confidence: number}} [lid]
 * @property {boolean} [truncated]
 */

/**
 * @typedef {object} AudioEndMessage
 * @property {"audio_end"} type
 * @property {number} seq
 * @property {number} pieces
 * @property {string} [error]
 * @property {Timings} [timings]
 */

/**
 * @typedef {object} PartialMessage
 * @property {"partial"} type
 * @property {number} seq
 * @property {number} part
 * @property {string} text
 * @property {string} [source_text]
 * @property {Lang} [src]
 * @property {Lang} [tgt]
 * @property {Timings} [timings]
 */

/**
 * @typedef {object} ErrorMessage
 * @property {"error"} type
 * @property {string} error
 * @property {number} [seq]
 * @property {string} [code]           over a per-client limit: which one (translation/limits)
 * @property {number} [retry_after_s]  over a per-client limit: seconds until it would pass
 */

/** @typedef {StatusMessage | CapacityStatusMessage | ResultMessage | AudioEndMessage | PartialMessage | ErrorMessage} ServerMessage */

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
