// The upload page: POST /api/translations, follow /ws/jobs/<id>, then play, download and read.
import { emit, expose } from "./events.js";
import { DEFAULT_VOICES, LANG_NAMES, fillVoiceSelect } from "./voices.js";
import { wsUrl } from "./ws-client.js";

const API_URL = "/api/translations";
const POLL_MS = 1000;
const TERMINAL = new Set(["done", "failed"]);

const $ = (id) => document.getElementById(id);
const els = {
  form: $("upload-form"),
  file: $("file"),
  dropZone: $("drop-zone"),
  fileInfo: $("file-info"),
  mode: $("mode"),
  voiceRu: $("voice-ru"),
  voiceEn: $("voice-en"),
  voiceRuField: $("voice-ru-field"),
  voiceEnField: $("voice-en-field"),
  voiceAuto: $("voice-auto"),
  submit: $("submit"),
  job: $("job"),
  again: $("again"),
  progress: $("progress"),
  status: $("job-status"),
  error: $("job-error"),
  result: $("job-result"),
  sourceLabel: $("source-label"),
  targetLabel: $("target-label"),
  sourceText: $("source-text"),
  targetText: $("target-text"),
  audio: $("result-audio"),
  download: $("download"),
  timings: $("job-timings"),
  steps: [...document.querySelectorAll(".steps li")],
};

let chosenFile = null;
let job = null; // {id, status_url, audio_url, ws_url, socket, pollTimer, last}

fillVoiceSelect(els.voiceRu, "ru", DEFAULT_VOICES.ru);
fillVoiceSelect(els.voiceEn, "en", DEFAULT_VOICES.en);
showVoiceFields();
els.mode.addEventListener("change", showVoiceFields);

function showVoiceFields() {
  // The API takes one voice, of the target language; with auto-detect the target is known
  // only later, so each language's default voice is used.
  const mode = els.mode.value;
  els.voiceRuField.hidden = mode !== "en->ru";
  els.voiceEnField.hidden = mode !== "ru->en";
  els.voiceAuto.hidden = mode !== "auto";
}

// --- choosing a file --------------------------------------------------------------------------

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function chooseFile(file) {
  chosenFile = file || null;
  els.submit.disabled = !chosenFile;
  els.dropZone.dataset.hasFile = String(Boolean(chosenFile));
  els.fileInfo.textContent = chosenFile
    ? `${chosenFile.name} · ${formatBytes(chosenFile.size)}`
    : "No file chosen";
  emit("file-chosen", { name: chosenFile?.name ?? null });
}

els.file.addEventListener("change", () => chooseFile(els.file.files[0]));

for (const type of ["dragenter", "dragover"]) {
  els.dropZone.addEventListener(type, (event) => {
    event.preventDefault();
    els.dropZone.dataset.dragging = "true";
  });
}
for (const type of ["dragleave", "dragend", "drop"]) {
  els.dropZone.addEventListener(type, () => delete els.dropZone.dataset.dragging);
}
els.dropZone.addEventListener("drop", (event) => {
  event.preventDefault();
  const file = event.dataTransfer?.files?.[0];
  if (file) chooseFile(file);
});
// A file dropped beside the zone must not navigate away from the page.
window.addEventListener("dragover", (event) => event.preventDefault());
window.addEventListener("drop", (event) => event.preventDefault());

// --- submitting -------------------------------------------------------------------------------

function voiceFor(mode) {
  if (mode === "en->ru") return els.voiceRu.value;
  if (mode === "ru->en") return els.voiceEn.value;
  return null; // auto: the target is known only after detection, so the server's default
}

function csrfToken() {
  return els.form.querySelector('input[name="csrfmiddlewaretoken"]')?.value || "";
}

function apiError(xhrOrResponse, body) {
  const message = body?.error?.message || body?.detail || null;
  const status = xhrOrResponse.status;
  if (message) return message;
  if (status === 0) return "The server could not be reached.";
  if (status === 413) return "The file is too large.";
  return `The server answered ${status}.`;
}

function postUpload(form) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", API_URL);
    xhr.responseType = "json";
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) setProgress((event.loaded / event.total) * 100);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status === 202 || xhr.status === 201 || xhr.status === 200) resolve(xhr.response);
      else reject(new Error(apiError(xhr, xhr.response)));
    });
    xhr.addEventListener("error", () =>
      reject(new Error("The upload failed: the server could not be reached.")),
    );
    xhr.send(form);
  });
}

els.form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!chosenFile) return;
  resetJob();
  const mode = els.mode.value;
  const form = new FormData();
  form.append("audio", chosenFile, chosenFile.name);
  form.append("mode", mode);
  const voice = voiceFor(mode);
  if (voice) form.append("voice", voice);

  els.job.hidden = false;
  els.submit.disabled = true;
  setStep("upload");
  setStatus(`Uploading ${chosenFile.name}…`);
  setProgress(0);
  emit("upload-started", { name: chosenFile.name, mode });
  let created;
  try {
    created = await postUpload(form);
  } catch (err) {
    fail(err.message);
    return;
  }
  emit("job-created", { id: created.id });
  job = { ...created, fileName: chosenFile.name, last: null };
  update({ ...created, status: created.status || "queued" });
  follow(job);
});

els.again.addEventListener("click", () => {
  resetJob();
  els.job.hidden = true;
  els.form.reset();
  chooseFile(null);
  showVoiceFields();
  els.file.focus();
});

// --- following the job ------------------------------------------------------------------------

function follow(current) {
  let socket;
  try {
    socket = new WebSocket(wsUrl(current.ws_url || `/ws/jobs/${current.id}`));
  } catch {
    poll(current);
    return;
  }
  current.socket = socket;
  socket.onopen = () => refresh(current); // in case it finished before the socket opened
  socket.onmessage = (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return; // not JSON: ignore
    }
    if (message.type === "error") fail(message.error || "The job could not be followed.");
    else if (message.type === "job") update(message);
  };
  socket.onclose = () => {
    current.socket = null;
    if (job === current && !TERMINAL.has(current.last)) poll(current);
  };
  socket.onerror = () => {};
}

async function refresh(current) {
  try {
    const response = await fetch(current.status_url || `${API_URL}/${current.id}`, {
      headers: { Accept: "application/json" },
    });
    const body = await response.json().catch(() => null);
    if (job !== current) return;
    if (response.ok && body) update(body);
  } catch {
    // the socket (or the next poll) will tell
  }
}

function poll(current) {
  if (job !== current || TERMINAL.has(current.last)) return;
  clearTimeout(current.pollTimer);
  current.pollTimer = setTimeout(async () => {
    await refresh(current);
    poll(current);
  }, POLL_MS);
}

function update(state) {
  if (!job || (state.id && state.id !== job.id)) return;
  if (job.last === state.status && state.status !== "done") return;
  if (TERMINAL.has(job.last)) return;
  job.last = state.status;
  emit("job-status", { id: job.id, status: state.status });
  switch (state.status) {
    case "queued":
      setStep("queued");
      setStatus("Uploaded. Waiting for a translation worker…");
      setProgress(null);
      break;
    case "running":
      setStep("running");
      setStatus("Translating and synthesising speech…");
      setProgress(null);
      break;
    case "done":
      setStep("done");
      setProgress(100);
      showResult(state);
      finish();
      break;
    case "failed":
      fail(state.error || "The translation failed.");
      break;
    default:
      setStatus(`Status: ${state.status}`);
  }
}

function showResult(state) {
  const src = state.src || "";
  const tgt = state.tgt || "";
  els.sourceLabel.textContent = LANG_NAMES[src] ? `${LANG_NAMES[src]} (original)` : "Original";
  els.targetLabel.textContent = LANG_NAMES[tgt] ? `${LANG_NAMES[tgt]} (translation)` : "Translation";
  els.sourceText.lang = src;
  els.targetText.lang = tgt;
  els.sourceText.textContent = state.source_text || "(no transcript)";
  els.targetText.textContent = state.text || "(nothing was recognised)";
  const parts = [];
  if (typeof state.duration_s === "number") parts.push(`${state.duration_s.toFixed(1)} s of audio`);
  const total = state.timings?.total_ms;
  if (typeof total === "number") parts.push(`translated in ${(total / 1000).toFixed(1)} s`);
  if (src && tgt) parts.push(`${src.toUpperCase()} → ${tgt.toUpperCase()}`);
  els.timings.textContent = parts.join(" · ");

  const audioUrl = job.audio_url || `${API_URL}/${job.id}/audio`;
  const hasAudio = state.has_audio ?? !state.tts_failed;
  els.audio.hidden = !hasAudio;
  els.download.hidden = !hasAudio;
  if (hasAudio) {
    els.audio.src = audioUrl;
    els.download.href = audioUrl;
    const base = (job.fileName || "translation").replace(/\.[^.]+$/, "");
    els.download.download = `${base}.${tgt || "translated"}.wav`;
    setStatus("Done. Play the translation below, or download it.");
  } else {
    setStatus("Done, but the voice could not be synthesised: the translated text is below.");
  }
  els.result.hidden = false;
  emit("job-done", {
    id: job.id,
    src,
    tgt,
    text: state.text,
    source_text: state.source_text,
    tts_failed: Boolean(state.tts_failed),
  });
}

function fail(message) {
  setStep(job?.last === "failed" ? "failed" : "error");
  els.error.textContent = message;
  els.error.hidden = false;
  setStatus("The translation did not complete.");
  setProgress(0);
  emit("job-failed", { error: message });
  finish();
}

function finish() {
  els.submit.disabled = !chosenFile;
  els.again.hidden = false;
  if (job) {
    clearTimeout(job.pollTimer);
    job.socket?.close();
  }
}

function resetJob() {
  if (job) {
    clearTimeout(job.pollTimer);
    const socket = job.socket;
    job = null;
    socket?.close();
  }
  els.error.hidden = true;
  els.result.hidden = true;
  els.again.hidden = true;
  els.audio.removeAttribute("src");
  els.audio.load();
  setStep(null);
}

// --- small view helpers -----------------------------------------------------------------------

const STEP_ORDER = ["upload", "queued", "running", "done"];

function setStep(step) {
  const at = STEP_ORDER.indexOf(step);
  els.job.dataset.step = step || "";
  els.steps.forEach((li, i) => {
    li.dataset.state = at < 0 ? "" : i < at ? "done" : i === at ? "current" : "";
    if (i === at) li.setAttribute("aria-current", "step");
    else li.removeAttribute("aria-current");
  });
  if (step === "done") els.steps.at(-1).dataset.state = "done";
}

function setProgress(percent) {
  if (percent === null) els.progress.removeAttribute("value");
  else els.progress.value = Math.round(percent);
}

function setStatus(text) {
  els.status.textContent = text;
}

for (const type of ["playing", "ended", "error"]) {
  els.audio.addEventListener(type, () => {
    if (type === "error" && !els.audio.getAttribute("src")) return;
    emit(`audio-${type}`, { currentTime: els.audio.currentTime, duration: els.audio.duration });
  });
}

expose("upload", {
  get job() {
    return job ? { id: job.id, status: job.last } : null;
  },
});
emit("page-ready", { page: "upload" });
