// @ts-check
// The speaker picker: lists Chrome's audio outputs and plays the translations on the chosen
// one (PlaybackQueue.setSinkId → AudioContext.setSinkId), e.g. a virtual cable that a call
// app uses as its microphone (docs/AUDIO_ROUTING.md). Chrome names the outputs only once the
// page may use the microphone, so the list fills in after the first Start. The choice is kept
// in this browser (localStorage), by id and by name (ids can change when devices come and go).

import { emit } from "./events.js";

const STORAGE_KEY = "rutrans.output-device.v1";
const DEFAULT_ID = "";

export function canChooseOutput() {
  return typeof AudioContext !== "undefined" && typeof AudioContext.prototype.setSinkId === "function";
}

export class OutputDevicePicker {
  /**
   * @param {{select: HTMLSelectElement, hint: HTMLElement, player: {sinkId: string, setSinkId(id: string): Promise<void>}, storageKey?: string}} parts
   */
  constructor({ select, hint, player, storageKey = STORAGE_KEY }) {
    this.select = select;
    this.hint = hint;
    this.player = player;
    this.storageKey = storageKey; // the call page keeps one choice per lane
    this.saved = loadChoice(storageKey);
    if (!canChooseOutput() || !navigator.mediaDevices?.enumerateDevices) {
      select.disabled = true;
      this._hint("This browser cannot choose the speaker; translations play on the system output.");
      return;
    }
    select.addEventListener("change", () => this.choose(select.value, { save: true }));
    navigator.mediaDevices.addEventListener?.("devicechange", () => this.refresh());
    this.refresh();
  }

  /** Re-read the list of outputs (after a permission grant, or a device plugged in). */
  async refresh() {
    let devices;
    try {
      devices = await navigator.mediaDevices.enumerateDevices();
    } catch {
      return;
    }
    const outputs = devices.filter((d) => d.kind === "audiooutput" && d.deviceId && d.label);
    const options = [new Option("System default", DEFAULT_ID)];
    for (const device of outputs) {
      if (device.deviceId === "default") continue; // the same as "System default"
      options.push(new Option(device.label, device.deviceId));
    }
    const wanted = this._match(outputs);
    this.select.replaceChildren(...options);
    this.select.value = wanted;
    this._hint(outputs.length ? "" : "Press Start once (and allow the microphone) to list the speakers.");
    emit("output-devices", { labels: outputs.map((d) => d.label) });
    if (wanted !== (this.player.sinkId || DEFAULT_ID)) await this.choose(wanted, { save: false });
  }

  /** Play the translations on `deviceId` ("" = the system default). */
  async choose(deviceId, { save }) {
    const label = deviceId ? this.select.selectedOptions[0]?.textContent || "" : "";
    try {
      await this.player.setSinkId(deviceId);
    } catch (err) {
      this._hint(`Cannot play on "${label}": ${err?.message || err}. Using the system output.`);
      this.select.value = DEFAULT_ID;
      await this.player.setSinkId(DEFAULT_ID).catch(() => {});
      emit("output-device-failed", { deviceId, error: String(err?.message || err) });
      return;
    }
    this._hint("");
    if (save) {
      this.saved = { deviceId, label };
      saveChoice(this.storageKey, this.saved);
    }
    emit("output-device", { deviceId, label });
  }

  /** The saved choice in today's list: by id, else by name, else the default. */
  _match(outputs) {
    const { deviceId, label } = this.saved;
    if (!deviceId) return DEFAULT_ID;
    const found =
      outputs.find((d) => d.deviceId === deviceId) || outputs.find((d) => label && d.label === label);
    return found && found.deviceId !== "default" ? found.deviceId : DEFAULT_ID;
  }

  _hint(text) {
    this.hint.textContent = text;
    this.hint.hidden = !text;
  }
}

function loadChoice(key) {
  try {
    const saved = JSON.parse(localStorage.getItem(key));
    return saved && typeof saved.deviceId === "string" ? saved : { deviceId: DEFAULT_ID, label: "" };
  } catch {
    return { deviceId: DEFAULT_ID, label: "" };
  }
}

function saveChoice(key, choice) {
  try {
    localStorage.setItem(key, JSON.stringify(choice));
  } catch {
    // Private mode or storage full: the choice just will not persist.
  }
}
