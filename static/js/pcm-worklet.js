// AudioWorklet: the captured audio as int16 PCM frames of ~20 ms for /ws/translate.
// Loaded with audioContext.audioWorklet.addModule(); the framing itself is in framing.js.
import { PcmFramer, frameLevel, frameSamplesFor } from "./framing.js";

const QUANTUM = 128;

class PcmCaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = options.processorOptions || {};
    this.framer = new PcmFramer({
      channels: opts.channels === 2 ? 2 : 1,
      frameSamples: frameSamplesFor(sampleRate, opts.frameMs),
    });
    this.silence = new Float32Array(QUANTUM);
    this.running = true;
    this.port.onmessage = (event) => {
      const { type } = event.data || {};
      if (type === "reset") this.framer.reset();
      if (type === "stop") this.running = false;
    };
  }

  process(inputs) {
    if (!this.running) return false;
    const input = inputs[0];
    // No input connected yet: keep time flowing with silence.
    const blocks = input && input.length > 0 ? input : [this.silence];
    for (const frame of this.framer.push(blocks)) {
      this.port.postMessage({ frame: frame.buffer, level: frameLevel(frame) }, [frame.buffer]);
    }
    return true;
  }
}

registerProcessor("pcm-capture", PcmCaptureProcessor);
