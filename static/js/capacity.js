// The workers' backlog as the live page shows it. The server sends `{"type": "status", state:
// "busy" | "clear" | "refused", lag_s, queued, captions_paused, retry_after_s?, message}`
// (translation/jobs/capacity.py; docs/ARCHITECTURE.md, protocol): busy = translations are late but
// every utterance is still answered; refused = this connection was not admitted (close code
// 1013), the client tries again after `retry_after_s`. HistoryStatus: `history_paused` (the
// database is away; the history is written when it is back) and `recording_paused` (the disk is
// full; no audio is kept): translation goes on.

export const CAPACITY_STATES = new Set(["busy", "clear", "refused", "history_paused", "recording_paused"]);

/** The line to show for a capacity status, or null (nothing to show: caught up). */
export function capacityText(status) {
  if (status.state === "busy") {
    const lag = Math.max(1, Math.round(status.lag_s));
    const captions = status.captions_paused ? "; live captions paused" : "";
    return `Translator busy: translations ${lag} s behind${captions}`;
  }
  if (status.state === "history_paused") {
    return "History paused: the database is not reachable; translation goes on";
  }
  if (status.state === "recording_paused") {
    return "Recordings paused: the server's disk is full; translation goes on";
  }
  if (status.state === "history_lost") {
    return `Sentence ${status.seq + 1} is not kept in the history: the database was away too long`;
  }
  if (status.state === "refused") {
    const wait = Math.max(1, Math.round(status.retry_after_s || 0));
    return `Translator busy: not connected (${status.message}). Trying again in ${wait} s`;
  }
  return null;
}

/** One element that shows the latest capacity status; hidden while there is nothing to say. */
export class CapacityBanner {
  constructor(el) {
    this.el = el;
  }

  /** Show `status` if it is a capacity status; returns whether it was one. */
  update(status) {
    if (!CAPACITY_STATES.has(status.state)) return false;
    const text = capacityText(status);
    this.el.textContent = text || "";
    this.el.dataset.state = status.state;
    this.el.hidden = text === null;
    return true;
  }

  hide() {
    this.el.hidden = true;
    this.el.textContent = "";
    delete this.el.dataset.state;
  }
}
