// @ts-check
// Audio capture: a microphone, or a tab / the system through getDisplayMedia, into a 48 kHz
// AudioContext whose AudioWorklet (pcm-worklet.js) hands back int16 frames of ~20 ms.

const WORKLET_URL = new URL("./pcm-worklet.js", import.meta.url);

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
    return this.context ? this.context.sampleRate : 48000;
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
      const context = new AudioContext({ sampleRate: 48000, latencyHint: "interactive" });
      await context.audioWorklet.addModule(WORKLET_URL);
      const track = stream.getAudioTracks()[0];
      const reported = track.getSettings().channelCount;
      this.channels = reported >= 2 ? 2 : 1;
      const input = context.createMediaStreamSource(stream);
      const node = new AudioWorkletNode(context, "pcm-capture", {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        outputChannelCount: [1],
        channelCount: this.channels,
        channelCountMode: "explicit",
        channelInterpretation: "speakers",
        processorOptions: { channels: this.channels, frameMs: 20 },
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
