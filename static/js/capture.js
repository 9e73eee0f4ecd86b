// @ts-check
// Audio capture: a microphone, or a tab / the system through getDisplayMedia, into a 16 kHz
// mono AudioContext (the browser resamples and downmixes: the models' own rate, a sixth of the
// bytes of 48 kHz stereo) whose AudioWorklet (pcm-worklet.js) hands back int16 frames of 64 ms
// (two of the server's VAD windows; 16 frames a second instead of 50 cut the web tier's
// per-stream CPU by a quarter: docs/PERFORMANCE.md, *Web ingest*). A browser that cannot
// capture into a 16 kHz context gets 48 kHz, which the server accepts as well.

const WORKLET_URL = new URL("./pcm-worklet.js", import.meta.url);
const CAPTURE_RATE = 16000;
const FALLBACK_RATE = 48000;
const CAPTURE_FRAME_MS = 64;

/** An AudioContext at `rate` with `stream` as its source, or null when the browser refuses
 * that rate for this stream (Firefox: a source must match its context's rate). */
function contextFor(stream, rate) {
  const context = new AudioContext({ sampleRate: rate, latencyHint: "interactive" });
  try {
    return { context, input: context.createMediaStreamSource(stream) };
  } catch {
    context.close();
    return null;
  }
}

export class CaptureError extends Error {}

/**
 * @typedef {object} CaptureOptions
 * @property {string} [deviceId]  a microphone or other input ("" = the default)
 * @property {boolean} [suppressLocalAudioPlayback]  the shared tab goes quiet and the page
 *   plays its sound itself (the call page's ducking)
 * @property {boolean} [voiceProcessing]  echo cancellation and noise suppression (a person at
 *   a microphone); off for a device carrying a call's sound
 */

/**
 * @param {"mic" | "display"} source
 * @param {CaptureOptions} options
 */
async function openStream(
  source,
  { deviceId = "", suppressLocalAudioPlayback = false, voiceProcessing = true } = {},
) {
  if (source === "display") {
    if (!navigator.mediaDevices?.getDisplayMedia) {
      throw new CaptureError("This browser cannot share tab or system audio.");
    }
    const stream = await navigator.mediaDevices.getDisplayMedia({
      video: true, // Chrome shares audio only alongside a video track
      audio: {
        echoCancellation: false,
        noiseSuppression: false,
        autoGainControl: false,
        ...(suppressLocalAudioPlayback ? { suppressLocalAudioPlayback: true } : {}),
      },
      systemAudio: "include",
      selfBrowserSurface: "exclude",
    });
    if (stream.getAudioTracks().length === 0) {
      stream.getTracks().forEach((track) => track.stop());
      throw new CaptureError(
        'No audio was shared. Share again and tick "Share tab audio" (or "Share system audio").',
      );
    }
    // Only the sound is needed; the audio track keeps running without the video.
    stream.getVideoTracks().forEach((track) => track.stop());
    return stream;
  }
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new CaptureError("Microphone capture needs a secure page (https:// or localhost).");
  }
  return navigator.mediaDevices.getUserMedia({
    audio: {
      channelCount: { ideal: 1 },
      echoCancellation: voiceProcessing,
      noiseSuppression: voiceProcessing,
      ...(deviceId ? { deviceId: { exact: deviceId } } : {}),
    },
  });
}

export class Capture extends EventTarget {
  /** Events: "frame" {buffer, level}, "ended" {} (the user stopped sharing). */
  constructor() {
    super();
    this.paused = false;
    this.context = null;
    this.channels = 1;
    this._stream = null;
    this._node = null;
  }

  get sampleRate() {
    return this.context ? this.context.sampleRate : CAPTURE_RATE;
  }

  /** The captured stream while running (the call page plays a tab's sound from it). */
  get stream() {
    return this._stream;
  }

  /**
   * @param {"mic" | "display"} source
   * @param {CaptureOptions} [options]
   */
  async start(source, options = {}) {
    this.stop();
    const stream = await openStream(source, options);
    try {
      const opened = contextFor(stream, CAPTURE_RATE) || contextFor(stream, FALLBACK_RATE);
      if (!opened) throw new CaptureError("this browser cannot capture audio from that source");
      const { context, input } = opened;
      await context.audioWorklet.addModule(WORKLET_URL);
      const track = stream.getAudioTracks()[0];
      this.channels = 1; // the graph downmixes a stereo source ("speakers" interpretation)
      const node = new AudioWorkletNode(context, "pcm-capture", {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        outputChannelCount: [1],
        channelCount: this.channels,
        channelCountMode: "explicit",
        channelInterpretation: "speakers",
        processorOptions: { channels: this.channels, frameMs: CAPTURE_FRAME_MS },
      });
      node.port.onmessage = ({ data }) => {
        if (!this.paused) this._emit("frame", { buffer: data.frame, level: data.level });
        else this._emit("level", { level: data.level });
      };
      // A silent path to the destination keeps the graph pulling the worklet.
      const mute = context.createGain();
      mute.gain.value = 0;
      input.connect(node).connect(mute).connect(context.destination);
      track.addEventListener("ended", () => this._emit("ended", {}));
      if (context.state === "suspended") await context.resume();
      this.context = context;
      this._stream = stream;
      this._node = node;
    } catch (err) {
      stream.getTracks().forEach((track) => track.stop());
      throw err;
    }
  }

  stop() {
    if (this._node) {
      this._node.port.postMessage({ type: "stop" });
      this._node.port.onmessage = null;
      this._node.disconnect();
    }
    this._stream?.getTracks().forEach((track) => track.stop());
    this.context?.close();
    this._node = this._stream = this.context = null;
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
