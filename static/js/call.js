// @ts-check
// The call page: both directions of a call in one page. Two lanes (lane.js), one Start/Stop,
// one conversation (both lanes interleaved on the call's clock, labelled Me / Them), the
// call's transcript, push-to-talk on the "me" lane, and the echo guard between the lanes.
import { EchoDetector, echoWarnings } from "./call-echo.js";
import { Conversation } from "./conversation.js";
import { emit, expose } from "./events.js";
import { Lane } from "./lane.js";
import { newCallId } from "./protocol.js";
import { PushToTalk } from "./push-to-talk.js";
import { loadStored, saveStored } from "./settings.js";
import { TRANSCRIPT_FORMATS } from "./transcript.js";

const STORAGE_KEY = "rutrans.call.v1";
const MODES = ["en->ru", "ru->en"];

const $ = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));
const els = {
  start: $("call-start"),
  startLabel: $("call-start-label"),
  talk: $("talk"),
  pushToTalk: $("push-to-talk"),
  captions: $("captions"),
  hearOriginal: $("hear-original"),
  echoGuard: $("echo-guard"),
  speechFallback: $("speech-fallback"),
  callState: $("call-state"),
  conversation: $("conversation"),
  empty: $("empty"),
  clear: $("clear"),
  transcript: $("call-transcript"),
  callId: $("call-id"),
};

// --- settings, kept across visits -------------------------------------------------------------

const stored = loadStored(localStorage, STORAGE_KEY);
const flag = (/** @type {string} */ name, /** @type {boolean} */ fallback) =>
  typeof stored[name] === "boolean" ? stored[name] : fallback;
els.pushToTalk.checked = flag("pushToTalk", false);
els.captions.checked = flag("captions", true);
els.hearOriginal.checked = flag("hearOriginal", true);
els.echoGuard.checked = flag("echoGuard", true);
els.speechFallback.checked = flag("speechFallback", false); // opt-in

function saveSettings() {
  saveStored(localStorage, STORAGE_KEY, {
    pushToTalk: els.pushToTalk.checked,
    captions: els.captions.checked,
    hearOriginal: els.hearOriginal.checked,
    echoGuard: els.echoGuard.checked,
    speechFallback: els.speechFallback.checked,
    modes: { me: lanes.me.els.mode.value, them: lanes.them.els.mode.value },
    voices: { me: lanes.me.voices, them: lanes.them.voices },
  });
}

// --- the call ----------------------------------------------------------------------------------

let callId = newCallId(); // a new call on each Start after a Stop; reconnects keep it
let running = false;

const conversation = new Conversation({
  list: els.conversation,
  empty: els.empty,
  onReplay(entry) {
    const lane = lanes[/** @type {"me" | "them"} */ (entry.el.dataset.speaker)];
    lane.player.context();
    for (const piece of entry.pieces) lane.player.enqueue({ ...piece, replay: true, id: entry.key });
  },
});

const ptt = new PushToTalk({ button: els.talk, isActive: () => running && els.pushToTalk.checked });

/** @type {{me: Lane, them: Lane}} */
const lanes = {
  me: new Lane({
    speaker: "me",
    root: $("lane-me"),
    conversation,
    callId: () => callId,
    captions: () => els.captions.checked,
    talkOpen: () => ptt.open,
    fallbackBox: els.speechFallback,
  }),
  them: new Lane({
    speaker: "them",
    root: $("lane-them"),
    conversation,
    callId: () => callId,
    captions: () => els.captions.checked,
    hearOriginal: () => els.hearOriginal.checked,
    fallbackBox: els.speechFallback,
  }),
};

for (const speaker of /** @type {const} */ (["me", "them"])) {
  const lane = lanes[speaker];
  const mode = stored.modes?.[speaker];
  lane.els.mode.value = MODES.includes(mode) ? mode : speaker === "me" ? "en->ru" : "ru->en";
  const voices = stored.voices?.[speaker];
  if (voices && typeof voices === "object") {
    for (const lang of ["ru", "en"]) if (typeof voices[lang] === "string") lane.voices[lang] = voices[lang];
  }
  lane.fillVoice();
  lane.addEventListener("settings", saveSettings);
}

// The echo guard: a lane holds its input while the other lane's translation plays (my
// headphones leak into my microphone; a call app may send my translated voice back).
const echo = new EchoDetector();
let mePlaying = false;
lanes.me.addEventListener("playing", (/** @type {any} */ { detail }) => {
  mePlaying = detail.playing;
  echo.playback(detail.playing);
  if (els.echoGuard.checked) lanes.them.guard(detail.playing);
});
lanes.them.addEventListener("playing", (/** @type {any} */ { detail }) => {
  if (els.echoGuard.checked && !ptt.held) lanes.me.guard(detail.playing);
});
lanes.them.addEventListener("level", (/** @type {any} */ { detail }) => {
  if (mePlaying && echo.heard(detail.level)) {
    const message =
      "The call's sound carries your translated voice back (it was loud while your translation played). " +
      "Play the Me lane on the cable only the call app uses as its microphone, and capture the call's tab or output, not that cable.";
    lanes.them.warn(message);
    emit("echo-warning", { speaker: "them", kind: "signal", message });
  }
});

async function checkDevices() {
  let devices = [];
  try {
    devices = await navigator.mediaDevices.enumerateDevices();
  } catch {
    return;
  }
  const output = (/** @type {Lane} */ lane) =>
    devices.find((d) => d.kind === "audiooutput" && d.deviceId === (lane.player.sinkId || "default")) || null;
  const input = (/** @type {Lane} */ lane) => {
    const choice = lane.inputPicker.choice;
    return choice.source === "display" ? null : { label: choice.label, groupId: choice.groupId };
  };
  const warnings = echoWarnings({
    meInput: input(lanes.me),
    meOutput: output(lanes.me),
    themInput: input(lanes.them),
    themOutput: output(lanes.them),
  });
  for (const speaker of /** @type {const} */ (["me", "them"])) {
    const mine = warnings.filter((w) => w.speaker === speaker).map((w) => w.message);
    lanes[speaker].warn(mine.join(" "));
  }
  if (warnings.length) emit("echo-warning", { kind: "devices", warnings });
}
for (const lane of Object.values(lanes)) {
  lane.els.input.addEventListener("input-changed", checkDevices);
  lane.els.output.addEventListener("change", () => setTimeout(checkDevices, 0));
}

// --- start / stop ------------------------------------------------------------------------------

async function start() {
  els.start.disabled = true;
  setCallState("Starting…");
  const started = [];
  // "them" first: sharing a tab needs the click's user activation, which a microphone prompt may use up.
  for (const lane of [lanes.them, lanes.me]) {
    try {
      await lane.start();
      started.push(lane);
    } catch (err) {
      conversation.addNotice(explainCaptureError(lane, err), "error");
      emit("capture-failed", { speaker: lane.speaker, error: String(err?.message || err) });
    }
  }
  els.start.disabled = false;
  if (!started.length) {
    setCallState("");
    return;
  }
  running = true;
  setRunning(true);
  showTranscript();
  checkDevices();
  emit("call-started", { call: callId, lanes: started.map((lane) => lane.speaker) });
}

function stop() {
  if (!running) return;
  running = false;
  ptt.release();
  for (const lane of Object.values(lanes)) lane.stop();
  setRunning(false);
  emit("call-stopped", { call: callId });
}

/** @param {Lane} lane @param {any} err */
function explainCaptureError(lane, err) {
  const name = lane.speaker === "me" ? "Me → them" : "Them → me";
  const what =
    lane.inputPicker.choice.source === "display" ? "tab or system audio sharing" : "the microphone";
  switch (err?.name) {
    case "NotAllowedError":
      return `${name}: permission for ${what} was refused. Allow it, then press Start again.`;
    case "NotFoundError":
    case "OverconstrainedError":
      return `${name}: the chosen input was not found. Choose another one.`;
    case "NotReadableError":
      return `${name}: the input is busy in another application.`;
    default:
      return `${name}: could not start capture: ${err?.message || err}`;
  }
}

/** @param {boolean} on */
function setRunning(on) {
  els.start.setAttribute("aria-pressed", String(on));
  els.start.dataset.running = String(on);
  els.startLabel.textContent = on ? "Stop call" : "Start call";
  document.body.dataset.running = String(on);
  showPushToTalk();
  setCallState(on ? "In a call" : "Call ended — press Start for a new one");
  if (!on) callId = newCallId();
}

/** @param {string} text */
function setCallState(text) {
  els.callState.textContent = text;
}

function showTranscript() {
  els.callId.textContent = callId.slice(0, 8);
  els.callId.title = callId;
  for (const link of els.transcript.querySelectorAll("a[data-format]")) {
    const format = link.dataset.format;
    if (!TRANSCRIPT_FORMATS.includes(format)) continue;
    link.href = `/api/calls/${callId}/transcript?format=${format}`;
    link.removeAttribute("aria-disabled");
  }
  els.transcript.dataset.ready = "true";
}

els.start.addEventListener("click", () => (running ? stop() : start()));

// --- push-to-talk (the "me" lane) --------------------------------------------------------------

function showPushToTalk() {
  ptt.show(els.pushToTalk.checked, running);
}
els.pushToTalk.addEventListener("change", () => {
  ptt.release();
  showPushToTalk();
  saveSettings();
});
ptt.addEventListener("press", () => {
  lanes.me.guard(false); // holding is explicit: it overrides the echo guard
  emit("talk-pressed", { framesSent: lanes.me.framesSent });
});
ptt.addEventListener("release", () => {
  lanes.me.flush();
  emit("talk-released", { framesSent: lanes.me.framesSent });
});
showPushToTalk();

for (const control of [els.captions, els.hearOriginal, els.echoGuard, els.speechFallback]) {
  control.addEventListener("change", () => {
    saveSettings();
    if (control === els.captions) for (const lane of Object.values(lanes)) lane.socket.sendControl();
    if (control === els.echoGuard && !els.echoGuard.checked)
      for (const lane of Object.values(lanes)) lane.guard(false);
  });
}

els.clear.addEventListener("click", () => {
  for (const lane of Object.values(lanes)) {
    lane.player.clear();
    lane.fallback.cancel();
  }
  conversation.clear();
});

expose("call", {
  get state() {
    return { call: callId, running, me: lanes.me.state, them: lanes.them.state };
  },
  /** Drop one lane's connection as a network failure would (it reconnects to the same call). */
  dropConnection(/** @type {"me" | "them"} */ speaker) {
    lanes[speaker].socket.drop();
  },
});
emit("page-ready", { page: "call" });
