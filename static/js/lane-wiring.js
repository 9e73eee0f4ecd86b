// @ts-check
// What a lane (lane.js) does with what its connection and its player report: the utterances in
// the conversation view (queued, live captions, the result, its audio pieces, errors and
// notices), its audio fed to the playback queue, the state badge, and the page events
// (lane-events.js). One place for both pages: the call page's two lanes, the live page's one.
import { announceFinal, showPartial } from "./captions.js";
import { wavDurationS } from "./playback.js";
import { whileAudible } from "./speech-fallback.js";

/** @typedef {import("./lane.js").Lane} Lane */

export const STATE_TEXT = {
  idle: "Not connected",
  connecting: "Connecting…",
  configuring: "Connecting…",
  live: "Connected",
  closed: "Stopped",
};

/** Its connection's messages → the conversation, the playback queue and the page events. @param {Lane} lane */
export function wireSocket(lane) {
  const socket = lane.socket;
  socket.addEventListener("state", (/** @type {any} */ { detail }) => {
    const { state } = detail;
    if (lane.els.state) showState(lane, detail); // the live page shows its connection line itself
    if (state === "retrying") lane.conversation.markLost(lane.tag);
    lane.report("socket", { state });
  });
  socket.addEventListener("status", (/** @type {any} */ { detail }) => {
    if (detail.state === "queued") {
      lane.entry(detail.session, detail.seq, { id: detail.id, startS: detail.start_s });
      lane.report("queued", { seq: detail.seq, start_s: detail.start_s, end_s: detail.end_s });
    } else if (detail.state === "configured") {
      lane.report("configured", { call: detail.call, mode: detail.mode, session: socket.session });
    }
  });
  // Live captions: provisional text while the utterance is still spoken (captions.js).
  socket.addEventListener("partial", (/** @type {any} */ { detail }) => {
    const shown = showPartial(lane.entry(detail.session, detail.seq), detail);
    const { seq, session, part, text, source_text, stable, timings } = detail;
    lane.report("partial", { seq, session, part, text, source_text, stable, shown, timings });
  });
  socket.addEventListener("result", (/** @type {any} */ { detail }) => {
    // The text comes first; its audio follows in pieces ("audio"), then "audio-end".
    const { result, session } = detail;
    const entry = lane.entry(session, result.seq, { id: result.id, startS: result.start_s });
    lane.conversation.fillResult(entry, result);
    announceFinal(result);
    lane.report("text", { seq: result.seq, session, text: result.text, start_s: result.start_s });
  });
  socket.addEventListener("audio", (/** @type {any} */ { detail }) => {
    const { seq, index, wav, session } = detail;
    const entry = lane.entry(session, seq);
    const piece = { wav: new Blob([wav], { type: "audio/wav" }), durationS: wavDurationS(wav) };
    entry.pieces.push(piece);
    entry.wavBytes += wav.byteLength;
    entry.replay.disabled = false;
    lane.player.enqueue({ ...piece, key: [session, seq, index], id: entry.key });
    lane.report("audio", { seq, session, index, bytes: wav.byteLength, durationS: piece.durationS });
  });
  socket.addEventListener("audio-end", (/** @type {any} */ { detail }) => {
    const { seq, session, pieces, error } = detail;
    const entry = lane.entry(session, seq);
    const result = entry.result;
    const timings = { ...(result?.timings || {}), ...(detail.timings || {}) };
    lane.conversation.showTimings(entry, timings);
    lane.fallback.afterAudio(lane.conversation, entry, error); // no audio: say why; opted in, the browser speaks
    lane.report("result", {
      seq,
      session,
      src: result?.src,
      tgt: result?.tgt,
      text: result?.text ?? "",
      source_text: result?.source_text ?? null,
      tts_failed: Boolean(result?.tts_failed) || !entry.pieces.length,
      wavBytes: entry.wavBytes,
      pieces: pieces ?? entry.pieces.length,
      audioError: error ?? null,
      timings,
      start_s: result?.start_s ?? null,
      end_s: result?.end_s ?? null,
      lid: result?.lid ?? null,
    });
  });
  socket.addEventListener("error", (/** @type {any} */ { detail }) => {
    lane.report("error", { error: detail.error, seq: detail.seq });
    if (detail.seq !== undefined)
      lane.conversation.setError(lane.entry(detail.session, detail.seq), detail.error);
    else lane.notice(detail.error, "error");
  });
  socket.addEventListener("notice", (/** @type {any} */ { detail }) => lane.notice(detail.message, "info"));
}

/** The lane's badge. @param {Lane} lane @param {{state: string, delayMs?: number, restarting?: boolean}} detail */
function showState(lane, { state, delayMs, restarting }) {
  if (!lane.running && state === "live") {
    lane.showStopped(); // still connected for the last translations, but not sending
    return;
  }
  lane.els.state.dataset.state = state;
  lane.els.state.textContent =
    state === "retrying"
      ? `${restarting ? "Server restarting. " : ""}Reconnecting in ${Math.max(1, Math.round(delayMs / 1000))} s…`
      : STATE_TEXT[state] || state;
}

/** Its playback (the server's audio or the browser's voice) → the conversation and the page events. @param {Lane} lane */
export function wirePlayer(lane) {
  const player = lane.player;
  // The server's audio or the browser's voice: either one is "playing" for the echo guard.
  whileAudible([player, lane.fallback], (playing) => {
    lane.original.duck(playing);
    lane.dispatchEvent(new CustomEvent("playing", { detail: { playing } }));
  });
  player.addEventListener("skipped", (/** @type {any} */ { detail }) => {
    const ids = [...new Set(detail.items.map((/** @type {any} */ item) => item.id))];
    for (const id of ids) {
      const entry = lane.conversation.get(id);
      if (entry) entry.el.dataset.skipped = "true";
    }
    lane.report("playback-skipped", { ids, seconds: detail.seconds });
  });
  player.addEventListener("start", (/** @type {any} */ { detail }) => {
    const entry = lane.conversation.get(detail.item.id);
    if (entry) entry.el.dataset.playing = "true";
    const { sinkId } = player;
    lane.report("playback-started", { id: detail.item.id, sinkId, originalGain: lane.originalGain });
  });
  for (const type of ["ended", "stopped", "failed"]) {
    player.addEventListener(type, (/** @type {any} */ { detail }) => {
      const entry = lane.conversation.get(detail.item.id);
      if (entry) delete entry.el.dataset.playing;
      lane.report(`playback-${type}`, {
        id: detail.item.id,
        peak: detail.peak ?? 0,
        duration: detail.duration ?? 0,
        error: detail.error,
      });
    });
  }
}
