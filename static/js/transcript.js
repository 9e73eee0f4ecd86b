// @ts-check
// The live page's transcript download: links to the server's transcript of the current session
// (GET /api/sessions/<id>/transcript?format=…, times from the audio stream), usable during the
// session and after Stop, once the session has an utterance.

export const TRANSCRIPT_FORMATS = ["srt", "vtt", "txt", "json"];

export function transcriptUrl(sessionId, format) {
  return `/api/sessions/${encodeURIComponent(sessionId)}/transcript?format=${format}`;
}

export class TranscriptLinks {
  /** @param {HTMLElement} container  holds one `a[data-format]` per format */
  constructor(container) {
    this.container = container;
    this.links = [
      .../** @type {NodeListOf<HTMLAnchorElement>} */ (container.querySelectorAll("a[data-format]")),
    ];
    this.sessionId = null;
    this.setSession(null);
  }

  /** Point the links at a session's transcript (null: nothing to download yet). */
  setSession(sessionId) {
    this.sessionId = sessionId;
    for (const link of this.links) {
      if (sessionId) {
        link.href = transcriptUrl(sessionId, link.dataset.format);
        link.removeAttribute("aria-disabled");
      } else {
        link.removeAttribute("href");
        link.setAttribute("aria-disabled", "true");
      }
    }
    this.container.dataset.ready = String(Boolean(sessionId));
  }
}
