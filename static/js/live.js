// The live page: capture → /ws/translate → conversation view + playback queue.
import { CapacityBanner } from "./capacity.js";
// Rendering lives in conversation.js, stored settings in settings.js, the meter in level.js.
import { announceFinal, showPartial } from "./captions.js";
import { Capture, CaptureError } from "./capture.js";
import { Conversation } from "./conversation.js";
import { emit, expose } from "./events.js";
import { LevelMeter } from "./level.js";
import { OutputDevicePicker } from "./output-device.js";
import { CATCH_UP_MODES, PlaybackQueue, wavDurationS } from "./playback.js";
import { modeLanguages, newCallId } from "./protocol.js";
import { PushToTalk } from "./push-to-talk.js";
import { loadStored, readLiveSettings, saveStored } from "./settings.js";
import { SpeechFallback, whileAudible } from "./speech-fallback.js";
import { TranscriptLinks } from "./transcript.js";
import { fillVoiceSelect } from "./voices.js";
import { LiveSocket } from "./ws-client.js";

const STORAGE_KEY = "rutrans.live.v1";
const RESUME_AFTER_PLAYBACK_MS = 300;

const $ = (id) => document.getElementById(id);
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
  sources: [...document.querySelectorAll('input[name="source"]')],
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

function selectedSource() {
  return els.sources.find((input) => input.checked)?.value || "mic";
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

// --- the three parts --------------------------------------------------------------------------

const capture = new Capture();
const player = new PlaybackQueue();
const socket = new LiveSocket({ control: currentControl });
player.setMuted(els.mute.checked);
const fallback = new SpeechFallback({ box: els.speechFallback, allowed: () => !els.mute.checked });
const outputPicker = new OutputDevicePicker({ select: els.outputDevice, hint: els.outputHint, player });
const ptt = new PushToTalk({ button: els.talk, isActive: () => running && els.pushToTalk.checked });
const transcript = new TranscriptLinks(els.transcript);
const meter = new LevelMeter(els.level);
const conversation = new Conversation({
  list: els.conversation,
  empty: els.empty,
  onCorrect: correctDirection,
  onReplay(entry) {
    player.context();
    for (const piece of entry.pieces) player.enqueue({ ...piece, replay: true, id: entry.key });
    emit("replay", { id: entry.key });
  },
});
let framesSent = 0;
player.setCatchUp(els.catchUp.value);

let running = false;
let resumeTimer = null;
// This page is a one-lane call ("me"): a reconnect continues the same stream, and the
// session's transcript covers every connection of the page.
const pageCall = newCallId();

function currentControl() {
  const mode = els.mode.value;
  const [src, tgt] = modeLanguages(mode);
  return {
    mode,
    src,
    tgt,
    sample_rate: capture.sampleRate,
    channels: capture.channels,
    voice: { ru: els.voiceRu.value, en: els.voiceEn.value },
    captions: els.captions.checked,
    call: pageCall,
    speaker: "me",
    store_audio: els.keepRecordings.checked,
  };
}

// --- start / stop -----------------------------------------------------------------------------

async function start() {
  els.start.disabled = true;
  setActivity("Starting…");
  player.context(); // unlock audio output inside the click
  try {
    await capture.start(selectedSource());
  } catch (err) {
    els.start.disabled = false;
    setActivity("");
    addNotice(explainCaptureError(err), "error");
    emit("capture-failed", { error: String(err?.message || err) });
    return;
  }
  running = true;
  capture.paused = false;
  if (socket.connected) socket.sendControl();
  else socket.open();
  setRunning(true);
  emit("capture-started", { sampleRate: capture.sampleRate, channels: capture.channels });
  outputPicker.refresh(); // the microphone permission lets Chrome name the outputs
}

function stop() {
  if (!running) return;
  running = false;
  ptt.release();
  clearTimeout(resumeTimer);
  capture.stop();
  socket.flush(); // the last utterance is translated now, not after the silence timeout
  setRunning(false);
  setActivity("Stopped");
  emit("capture-stopped", {});
}

function setRunning(on) {
  els.start.disabled = false;
  els.start.setAttribute("aria-pressed", String(on));
  els.start.dataset.running = String(on);
  els.startLabel.textContent = on ? "Stop" : "Start";
  for (const input of els.sources) input.disabled = on || input.dataset.unavailable === "true";
  document.body.dataset.running = String(on);
  showPushToTalk();
  if (on) setActivity(capture.paused ? "Paused while the translation plays" : listeningText());
  else meter.set(0);
}

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
capture.addEventListener("ended", () => {
  addNotice("Sharing stopped.", "info");
  stop();
});

// --- capture → socket -------------------------------------------------------------------------

let maxLevel = 0;
capture.addEventListener("frame", ({ detail }) => {
  if (ptt.open) {
    socket.sendFrame(detail.buffer);
    framesSent++;
  }
  meter.set(detail.level);
  if (detail.level > maxLevel + 0.02) {
    maxLevel = detail.level;
    emit("level", { level: maxLevel });
  }
});
capture.addEventListener("level", ({ detail }) => meter.set(detail.level));

// --- socket → conversation --------------------------------------------------------------------

const STATE_TEXT = {
  idle: "Not connected",
  connecting: "Connecting…",
  configuring: "Connecting…",
  live: "Connected",
  closed: "Disconnected",
};

/** Why the socket is reconnecting, as the connection line says it. */
function retryCause(detail) {
  if (detail.restarting) return "Server restarting";
  return detail.refused ? "Translator busy" : "Connection lost";
}

socket.addEventListener("state", ({ detail }) => {
  const { state, delayMs } = detail;
  els.connection.dataset.state = state;
  els.connection.textContent =
    state === "retrying"
      ? `${retryCause(detail)}, retrying in ${Math.max(1, Math.round(delayMs / 1000))} s…`
      : STATE_TEXT[state] || state;
  if (state === "retrying") conversation.markLost();
  emit("socket-state", { state });
});

// The workers' backlog (busy / clear / refused): one line, static/js/capacity.js.
const capacity = new CapacityBanner(els.capacity);

socket.addEventListener("status", ({ detail }) => {
  if (detail.state === "ready") capacity.hide();
  capacity.update(detail);
  emit("status", {
    state: detail.state,
    seq: detail.seq,
    mode: detail.mode,
    voice: detail.voice,
    start_s: detail.start_s,
    end_s: detail.end_s,
    captions: detail.captions,
    lag_s: detail.lag_s,
    store_audio: detail.store_audio,
  });
  if (detail.state === "queued") {
    entryFor(detail.session, detail.seq, detail.id);
    if (socket.session) transcript.setSession(socket.session);
  } else if (detail.state === "flushed" && !running) {
    setActivity("Stopped — nothing left to translate");
  }
});

// Live captions: provisional text while the utterance is still spoken (static/js/captions.js).
socket.addEventListener("partial", ({ detail }) => {
  const shown = showPartial(entryFor(detail.session, detail.seq), detail);
  emit("partial", {
    seq: detail.seq,
    session: detail.session,
    part: detail.part,
    text: detail.text,
    source_text: detail.source_text,
    stable: detail.stable,
    shown,
    timings: detail.timings,
  });
});

socket.addEventListener("result", ({ detail }) => {
  // The text comes first; its audio follows in pieces ("audio"), then "audio-end".
  const { result, session } = detail;
  const entry = entryFor(session, result.seq, result.id);
  conversation.fillResult(entry, result);
  announceFinal(result);
  emit("text", { seq: result.seq, session, text: result.text });
});

socket.addEventListener("audio", ({ detail }) => {
  const { seq, index, wav, session } = detail;
  const entry = entryFor(session, seq);
  const piece = { wav: new Blob([wav], { type: "audio/wav" }), durationS: wavDurationS(wav) };
  entry.pieces.push(piece);
  entry.wavBytes += wav.byteLength;
  entry.replay.disabled = false;
  player.enqueue({ ...piece, key: [session, seq, index], id: entry.key });
  emit("audio-piece", { seq, session, index, bytes: wav.byteLength, durationS: piece.durationS });
});

socket.addEventListener("audio-end", ({ detail }) => {
  const { seq, session, pieces, error } = detail;
  const entry = entryFor(session, seq);
  const result = entry.result || { seq, timings: {} };
  const timings = { ...result.timings, ...(detail.timings || {}) };
  conversation.showTimings(entry, timings);
  fallback.afterAudio(conversation, entry, error); // no audio: say why; opted in, the browser speaks
  emit("result", {
    seq,
    session,
    src: result.src,
    tgt: result.tgt,
    text: result.text,
    source_text: result.source_text ?? null,
    tts_failed: Boolean(result.tts_failed) || !entry.pieces.length,
    wavBytes: entry.wavBytes,
    pieces,
    audioError: error ?? null,
    timings,
    start_s: result.start_s ?? null,
    end_s: result.end_s ?? null,
    lid: result.lid ?? null,
  });
});

socket.addEventListener("error", ({ detail }) => {
  emit("server-error", { error: detail.error, seq: detail.seq });
  if (detail.seq !== undefined) {
    const entry = entryFor(detail.session, detail.seq);
    conversation.setError(entry, detail.error);
  } else {
    addNotice(detail.error, "error");
  }
});

socket.addEventListener("notice", ({ detail }) => addNotice(detail.message, "info"));

// --- playback ---------------------------------------------------------------------------------

// The server's audio or the browser's voice (speech-fallback.js): either one is "playing".
whileAudible([player, fallback], (playing) => {
  clearTimeout(resumeTimer);
  if (playing && running && els.pauseWhilePlaying.checked && !ptt.held) {
    capture.paused = true;
    setActivity("Paused while the translation plays");
  } else if (!playing) {
    resumeTimer = setTimeout(() => {
      capture.paused = false;
      if (running) setActivity(listeningText());
    }, RESUME_AFTER_PLAYBACK_MS);
  }
});
player.addEventListener("lag", ({ detail }) => showLag(detail));
player.addEventListener("skipped", ({ detail }) => {
  const ids = [...new Set(detail.items.map((item) => item.id))];
  for (const id of ids) {
    const entry = conversation.get(id);
    if (entry) entry.el.dataset.skipped = "true";
  }
  emit("playback-skipped", { ids, seconds: detail.seconds });
});
player.addEventListener("start", ({ detail }) => {
  const entry = conversation.get(detail.item.id);
  if (entry) entry.el.dataset.playing = "true";
  emit("playback-started", { id: detail.item.id });
});
for (const type of ["ended", "stopped", "failed"]) {
  player.addEventListener(type, ({ detail }) => {
    const entry = conversation.get(detail.item.id);
    if (entry) delete entry.el.dataset.playing;
    emit(`playback-${type}`, {
      id: detail.item.id,
      peak: detail.peak ?? 0,
      duration: detail.duration ?? 0,
      error: detail.error,
    });
  });
}

els.mute.addEventListener("change", () => {
  player.setMuted(els.mute.checked);
  if (els.mute.checked) fallback.cancel();
  saveSettings();
});
els.pauseWhilePlaying.addEventListener("change", () => {
  if (!els.pauseWhilePlaying.checked && capture.paused) {
    capture.paused = false;
    if (running) setActivity("Listening");
  }
  saveSettings();
});
for (const control of [els.mode, els.voiceRu, els.voiceEn, els.captions, els.keepRecordings]) {
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
  // Holding is explicit: it also overrides the pause while a translation plays.
  clearTimeout(resumeTimer);
  capture.paused = false;
  setActivity(listeningText());
  emit("talk-pressed", { framesSent });
});
ptt.addEventListener("release", ({ detail }) => {
  socket.flush(); // the utterance ends now, not after the silence timeout
  setActivity(listeningText());
  emit("talk-released", { framesSent, heldMs: detail.heldMs });
});
showPushToTalk();

els.clear.addEventListener("click", () => {
  player.clear();
  fallback.cancel();
  conversation.clear();
});

// --- the conversation view (conversation.js) --------------------------------------------------

function entryFor(session, seq, id) {
  return conversation.entryFor(session, seq, { id, mode: els.mode.value });
}

/** The user says language ID got it wrong: the next utterances use this direction. */
function correctDirection(mode) {
  els.mode.value = mode;
  saveSettings();
  if (socket.connected) socket.sendControl();
  emit("direction-corrected", { mode });
}

function addNotice(message, kind) {
  conversation.addNotice(message, kind);
  emit("notice", { kind, message });
}

function setActivity(text) {
  els.activity.textContent = text;
}

expose("live", {
  get state() {
    return {
      socket: socket.state,
      session: socket.session,
      running,
      paused: capture.paused,
      queued: player.length,
      framesSent,
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
