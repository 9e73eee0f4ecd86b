// @ts-check
// The live page: one lane (lane.js, a one-lane call: "me", solo) and the page's own controls:
// direction, source, voices, mute, pause while a translation plays, push-to-talk, catch-up,
// captions, recordings, the browser's voice, the connection and lag lines, the backlog banner
// and the transcript links. Rendering lives in conversation.js (through the lane), stored
// settings in settings.js.
import { CapacityBanner } from "./capacity.js";
import { CaptureError } from "./capture.js";
import { Conversation } from "./conversation.js";
import { emit, expose } from "./events.js";
import { Lane } from "./lane.js";
import { CATCH_UP_MODES } from "./playback.js";
import { newCallId } from "./protocol.js";
import { PushToTalk } from "./push-to-talk.js";
import { loadStored, readLiveSettings, saveStored } from "./settings.js";
import { TranscriptLinks } from "./transcript.js";
import { fillVoiceSelect } from "./voices.js";

const STORAGE_KEY = "rutrans.live.v1";
const PAUSED_TEXT = "Paused while the translation plays";

const $ = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));
const els = {
  start: $("start"),
  startLabel: $("start-label"),
  connection: $("connection"),
  activity: $("activity"),
  level: $("level-bar"),
  mode: $("mode"),
  voiceRu: $("voice-ru"),
  voiceEn: $("voice-en"),
  mute: $("mute"),
  pauseWhilePlaying: $("pause-while-playing"),
  catchUp: $("catch-up"),
  lag: $("playback-lag"),
  captions: $("captions"),
  keepRecordings: $("keep-recordings"),
  sources: /** @type {HTMLInputElement[]} */ ([...document.querySelectorAll('input[name="source"]')]),
  conversation: $("conversation"),
  empty: $("empty"),
  clear: $("clear"),
  outputDevice: $("output-device"),
  outputHint: $("output-hint"),
  pushToTalk: $("push-to-talk"),
  talk: $("talk"),
  transcript: $("transcript"),
  capacity: $("capacity"),
  speechFallback: $("speech-fallback"),
};

// --- settings, kept across visits -------------------------------------------------------------

function saveSettings() {
  saveStored(localStorage, STORAGE_KEY, {
    mode: els.mode.value,
    source: selectedSource(),
    voice: { ru: els.voiceRu.value, en: els.voiceEn.value },
    mute: els.mute.checked,
    pauseWhilePlaying: els.pauseWhilePlaying.checked,
    pushToTalk: els.pushToTalk.checked,
    catchUp: els.catchUp.value,
    captions: els.captions.checked,
    keepRecordings: els.keepRecordings.checked,
    speechFallback: els.speechFallback.checked,
  });
}

/** @returns {"mic" | "display"} */
function selectedSource() {
  return els.sources.find((input) => input.checked)?.value === "display" ? "display" : "mic";
}

const stored = loadStored(localStorage, STORAGE_KEY);
const saved = readLiveSettings(stored, {
  modes: [...els.mode.options].map((o) => o.value),
  catchUpModes: CATCH_UP_MODES,
});
els.mode.value = saved.mode;
fillVoiceSelect(els.voiceRu, "ru", saved.voice.ru);
fillVoiceSelect(els.voiceEn, "en", saved.voice.en);
els.mute.checked = saved.mute;
els.pauseWhilePlaying.checked = saved.pauseWhilePlaying;
els.pushToTalk.checked = saved.pushToTalk;
els.catchUp.value = saved.catchUp;
els.captions.checked = saved.captions;
els.speechFallback.checked = stored.speechFallback === true; // opt-in
for (const input of els.sources) input.checked = input.value === saved.source;
// The server may keep no recordings at all (STORE_AUDIO=0): then the box is off and disabled.
if (!els.keepRecordings.disabled) els.keepRecordings.checked = saved.keepRecordings;
if (!navigator.mediaDevices?.getDisplayMedia) {
  const display = els.sources.find((input) => input.value === "display");
  if (display) {
    display.disabled = true;
    display.dataset.unavailable = "true";
  }
}

// --- the lane ---------------------------------------------------------------------------------

let running = false;
// This page is a one-lane call ("me"): a reconnect continues the same stream, and the
// session's transcript covers every connection of the page.
const pageCall = newCallId();

const conversation = new Conversation({
  list: els.conversation,
  empty: els.empty,
  onCorrect: correctDirection,
  onReplay(entry) {
    lane.player.context();
    for (const piece of entry.pieces) lane.player.enqueue({ ...piece, replay: true, id: entry.key });
    emit("replay", { id: entry.key });
  },
});
const ptt = new PushToTalk({ button: els.talk, isActive: () => running && els.pushToTalk.checked });
const lane = new Lane({
  speaker: "me",
  solo: true,
  els: {
    activity: els.activity,
    mode: els.mode,
    level: els.level,
    output: els.outputDevice,
    outputHint: els.outputHint,
  },
  conversation,
  callId: () => pageCall,
  captions: () => els.captions.checked,
  talkOpen: () => ptt.open,
  fallbackBox: els.speechFallback,
  fallbackAllowed: () => !els.mute.checked,
  input: () => ({ source: selectedSource() }),
  control: () => ({
    voice: { ru: els.voiceRu.value, en: els.voiceEn.value },
    store_audio: els.keepRecordings.checked,
  }),
  listeningText,
});
const { player, socket } = lane;
const transcript = new TranscriptLinks(els.transcript);
player.setMuted(els.mute.checked);
player.setCatchUp(els.catchUp.value);

// --- start / stop -----------------------------------------------------------------------------

async function start() {
  els.start.disabled = true;
  setActivity("Starting…");
  try {
    await lane.start();
  } catch (err) {
    els.start.disabled = false;
    setActivity("");
    lane.notice(explainCaptureError(err), "error");
    emit("capture-failed", { error: String(err?.message || err) });
    return;
  }
  running = true;
  setRunning(true);
}

function stop() {
  if (!running) return;
  running = false;
  ptt.release();
  lane.stop(); // the last utterance is translated now, not after the silence timeout
  setRunning(false);
}

/** @param {boolean} on */
function setRunning(on) {
  els.start.disabled = false;
  els.start.setAttribute("aria-pressed", String(on));
  els.start.dataset.running = String(on);
  els.startLabel.textContent = on ? "Stop" : "Start";
  for (const input of els.sources) input.disabled = on || input.dataset.unavailable === "true";
  document.body.dataset.running = String(on);
  showPushToTalk();
  if (on) setActivity(lane.capture.paused ? PAUSED_TEXT : listeningText());
}

/** @param {any} err */
function explainCaptureError(err) {
  if (err instanceof CaptureError) return err.message;
  const source = selectedSource() === "display" ? "screen or tab sharing" : "the microphone";
  switch (err?.name) {
    case "NotAllowedError":
      return `Permission for ${source} was refused. Allow it in the address bar, then press Start again.`;
    case "NotFoundError":
      return "No microphone was found. Connect one, or choose tab / system audio.";
    case "NotReadableError":
      return "The microphone is busy in another application.";
    default:
      return `Could not start capture: ${err?.message || err}`;
  }
}

els.start.addEventListener("click", () => (running ? stop() : start()));
lane.addEventListener("ended", stop); // the shared tab or screen went away

let maxLevel = 0;
lane.addEventListener("level", (/** @type {any} */ { detail }) => {
  if (detail.sent && detail.level > maxLevel + 0.02) {
    maxLevel = detail.level;
    emit("level", { level: maxLevel });
  }
});

// --- the connection line, the backlog, the transcript -----------------------------------------

const STATE_TEXT = {
  idle: "Not connected",
  connecting: "Connecting…",
  configuring: "Connecting…",
  live: "Connected",
  closed: "Disconnected",
};

/** Why the socket is reconnecting, as the connection line says it. @param {any} detail */
function retryCause(detail) {
  if (detail.restarting) return "Server restarting";
  return detail.refused ? "Translator busy" : "Connection lost";
}

socket.addEventListener("state", (/** @type {any} */ { detail }) => {
  const { state, delayMs } = detail;
  els.connection.dataset.state = state;
  els.connection.textContent =
    state === "retrying"
      ? `${retryCause(detail)}, retrying in ${Math.max(1, Math.round(delayMs / 1000))} s…`
      : STATE_TEXT[state] || state;
});

// The workers' backlog (busy / clear / refused): one line, static/js/capacity.js.
const capacity = new CapacityBanner(els.capacity);

socket.addEventListener("status", (/** @type {any} */ { detail }) => {
  if (detail.state === "ready") capacity.hide();
  capacity.update(detail);
  const { state, seq, mode, voice, start_s, end_s, captions, lag_s, store_audio } = detail;
  emit("status", { state, seq, mode, voice, start_s, end_s, captions, lag_s, store_audio });
  if (state === "queued") {
    if (socket.session) transcript.setSession(socket.session);
  } else if (state === "flushed" && !running) {
    setActivity("Stopped — nothing left to translate");
  }
});

// --- playback ---------------------------------------------------------------------------------

// The server's audio or the browser's voice (the lane's "playing"): pause listening meanwhile.
lane.addEventListener("playing", (/** @type {any} */ { detail }) => {
  if (!detail.playing) lane.guard(false);
  else if (running && els.pauseWhilePlaying.checked && !ptt.held) lane.guard(true, PAUSED_TEXT);
});
player.addEventListener("lag", (/** @type {any} */ { detail }) => showLag(detail));

els.mute.addEventListener("change", () => {
  player.setMuted(els.mute.checked);
  if (els.mute.checked) lane.fallback.cancel();
  saveSettings();
});
els.pauseWhilePlaying.addEventListener("change", () => {
  if (!els.pauseWhilePlaying.checked && lane.capture.paused) {
    lane.guarded = false;
    lane.capture.paused = false;
    if (running) setActivity("Listening");
  }
  saveSettings();
});
lane.addEventListener("settings", saveSettings); // the direction (the lane sends it)
for (const control of [els.voiceRu, els.voiceEn, els.captions, els.keepRecordings]) {
  control.addEventListener("change", () => {
    saveSettings();
    if (socket.connected) socket.sendControl(); // applies from the next utterance
  });
}
for (const input of [...els.sources, els.speechFallback]) input.addEventListener("change", saveSettings);
els.catchUp.addEventListener("change", () => {
  player.setCatchUp(els.catchUp.value);
  saveSettings();
});

/** @param {{behindS: number, rate: number}} lag */
function showLag({ behindS, rate }) {
  const { maxLagS, targetS } = player.catchUp;
  els.lag.dataset.state = behindS > maxLagS / 2 ? "far" : behindS > targetS ? "behind" : "ok";
  const speed = rate > 1 ? ` · playing at ${rate.toFixed(2).replace(/0$/, "")}×` : "";
  els.lag.textContent =
    behindS < 0.05 ? "Playback up to date" : `Playback ${behindS.toFixed(1)} s behind${speed}`;
}

// --- push-to-talk -----------------------------------------------------------------------------

function listeningText() {
  if (!(running && els.pushToTalk.checked)) return "Listening";
  return ptt.held ? "Listening — let go to translate" : "Hold Space or the button to talk";
}

function showPushToTalk() {
  ptt.show(els.pushToTalk.checked, running);
}

els.pushToTalk.addEventListener("change", () => {
  ptt.release();
  showPushToTalk();
  if (running) setActivity(listeningText());
  saveSettings();
  emit("push-to-talk", { on: els.pushToTalk.checked });
});
ptt.addEventListener("press", () => {
  lane.resume(); // holding is explicit: it also overrides the pause while a translation plays
  emit("talk-pressed", { framesSent: lane.framesSent });
});
ptt.addEventListener("release", (/** @type {any} */ { detail }) => {
  lane.flush(); // the utterance ends now, not after the silence timeout
  setActivity(listeningText());
  emit("talk-released", { framesSent: lane.framesSent, heldMs: detail.heldMs });
});
showPushToTalk();

els.clear.addEventListener("click", () => {
  player.clear();
  lane.fallback.cancel();
  conversation.clear();
});

/** The user says language ID got it wrong: the next utterances use this direction. @param {string} mode */
function correctDirection(mode) {
  els.mode.value = mode;
  saveSettings();
  if (socket.connected) socket.sendControl();
  emit("direction-corrected", { mode });
}

/** @param {string} text */
function setActivity(text) {
  els.activity.textContent = text;
}

expose("live", {
  get state() {
    return {
      socket: socket.state,
      session: socket.session,
      running,
      paused: lane.capture.paused,
      queued: player.length,
      framesSent: lane.framesSent,
      pushToTalk: els.pushToTalk.checked,
      talking: ptt.held,
      sinkId: player.sinkId,
      behindS: player.behindS,
      rate: player.rate,
      catchUp: player.catchUp.mode,
    };
  },
  /** Close the connection as a network failure would (to try the reconnect by hand). */
  dropConnection() {
    socket.drop();
  },
});
emit("page-ready", { page: "live" });
