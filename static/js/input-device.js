// @ts-check
// The input picker of a call lane: a microphone or other input device (a virtual cable's
// monitor, a mixer), or, for the "them" lane, tab / system audio shared through
// getDisplayMedia. Inputs are named once the page may use the microphone (after the first
// Start); the choice is kept per lane (by id and by name, as the output picker does).
import { loadStored, saveStored } from "./settings.js";

export const DISPLAY = "display";
const DEFAULT_ID = "";

/** @typedef {{source: "mic" | "display", deviceId: string, label: string, groupId: string}} InputChoice */

export class InputDevicePicker {
  /**
   * @param {{select: HTMLSelectElement, storageKey: string, allowDisplay: boolean, defaultDisplay?: boolean}} parts
   */
  constructor({ select, storageKey, allowDisplay, defaultDisplay = false }) {
    this.select = select;
    this.storageKey = storageKey;
    this.allowDisplay = allowDisplay && Boolean(navigator.mediaDevices?.getDisplayMedia);
    const saved = loadStored(localStorage, storageKey);
    this.saved = {
      value:
        typeof saved.value === "string"
          ? saved.value
          : defaultDisplay && this.allowDisplay
            ? DISPLAY
            : DEFAULT_ID,
      label: typeof saved.label === "string" ? saved.label : "",
    };
    /** @type {MediaDeviceInfo[]} */
    this.inputs = [];
    select.addEventListener("change", () => {
      this.saved = { value: select.value, label: select.selectedOptions[0]?.textContent || "" };
      saveStored(localStorage, storageKey, this.saved);
      select.dispatchEvent(new CustomEvent("input-changed"));
    });
    navigator.mediaDevices?.addEventListener?.("devicechange", () => this.refresh());
    this.refresh();
  }

  /** Re-read the inputs (after a permission grant or a device plugged in). */
  async refresh() {
    let devices = [];
    try {
      devices = (await navigator.mediaDevices?.enumerateDevices()) || [];
    } catch {
      // No list: the default input and (where possible) tab audio stay offered.
    }
    this.inputs = devices.filter((d) => d.kind === "audioinput" && d.deviceId && d.deviceId !== "default");
    const options = [];
    if (this.allowDisplay) options.push(new Option("Tab or system audio (share it)", DISPLAY));
    options.push(new Option("Default microphone", DEFAULT_ID));
    for (const device of this.inputs) {
      options.push(new Option(device.label || `Input ${options.length}`, device.deviceId));
    }
    this.select.replaceChildren(...options);
    this.select.value = this._match();
  }

  /** @returns {InputChoice} */
  get choice() {
    const value = this.select.value;
    if (value === DISPLAY)
      return { source: "display", deviceId: "", label: "Tab or system audio", groupId: "" };
    const device = this.inputs.find((d) => d.deviceId === value);
    return {
      source: "mic",
      deviceId: value,
      label: device?.label || "Default microphone",
      groupId: device?.groupId || "",
    };
  }

  _match() {
    const { value, label } = this.saved;
    if (value === DISPLAY) return this.allowDisplay ? DISPLAY : DEFAULT_ID;
    const found =
      this.inputs.find((d) => d.deviceId === value) || this.inputs.find((d) => label && d.label === label);
    return found ? found.deviceId : DEFAULT_ID;
  }
}
