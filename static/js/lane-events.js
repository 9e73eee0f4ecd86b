// @ts-check
// The page events a lane reports (window.rutrans.events, events.js). A call's lanes report
// theirs as "lane-…" with their speaker; the live page's one lane reports under the live
// page's own names. null: that page has no such event.
import { emit } from "./events.js";

/** @type {Readonly<Record<string, readonly [string | null, string | null]>>} what → [a call's lane, the live page] */
export const LANE_EVENTS = Object.freeze({
  started: ["lane-started", "capture-started"],
  stopped: ["lane-stopped", "capture-stopped"],
  socket: ["lane-socket", "socket-state"],
  queued: ["lane-queued", null],
  configured: ["lane-configured", null],
  partial: [null, "partial"],
  text: ["lane-text", "text"],
  audio: [null, "audio-piece"],
  result: ["lane-result", "result"],
  error: ["lane-error", "server-error"],
  notice: [null, "notice"],
  "playback-started": ["lane-playback-started", "playback-started"],
  "playback-ended": ["lane-playback-ended", "playback-ended"],
  "playback-stopped": ["lane-playback-stopped", "playback-stopped"],
  "playback-failed": ["lane-playback-failed", "playback-failed"],
  "playback-skipped": [null, "playback-skipped"],
});

/**
 * The page event a lane reports for `what`, or null where its page has none.
 * @param {string} what  a key of LANE_EVENTS
 * @param {object} detail
 * @param {{speaker: string, solo: boolean}} lane  solo: the page's only lane (the live page)
 * @returns {[string, object] | null}
 */
export function laneEvent(what, detail, { speaker, solo }) {
  const names = LANE_EVENTS[what];
  if (!names) throw new Error(`no lane event ${what}`);
  const [inCall, onLive] = names;
  if (solo) return onLive ? [onLive, detail] : null;
  return inCall ? [inCall, { speaker, ...detail }] : null;
}

/**
 * Emit the page event a lane reports for `what` (if its page has one).
 * @param {string} what @param {object} detail @param {{speaker: string, solo: boolean}} lane
 */
export function reportLane(what, detail, lane) {
  const event = laneEvent(what, detail, lane);
  if (event) emit(event[0], event[1]);
}
