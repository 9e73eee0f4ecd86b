// @ts-check
// Settings kept across visits (localStorage): read defensively (anything stored may be old,
// hand-edited or from another version) and written best-effort (private mode, a full disk).

/**
 * @param {Pick<Storage, "getItem">} storage
 * @param {string} key
 * @returns {Record<string, any>}
 */
export function loadStored(storage, key) {
  try {
    const value = JSON.parse(storage.getItem(key) ?? "null");
    return value && typeof value === "object" && !Array.isArray(value) ? value : {};
  } catch {
    return {};
  }
}

/**
 * @param {Pick<Storage, "setItem">} storage
 * @param {string} key
 * @param {object} value
 */
export function saveStored(storage, key, value) {
  try {
    storage.setItem(key, JSON.stringify(value));
  } catch {
    // Private mode or storage full: settings just will not persist.
  }
}

/**
 * The live page's settings.
 * @typedef {object} LiveSettings
 * @property {string} mode
 * @property {"mic" | "display"} source
 * @property {{ru: string, en: string}} voice  "" = the server's default
 * @property {boolean} mute
 * @property {boolean} pauseWhilePlaying
 * @property {boolean} pushToTalk
 * @property {string} catchUp
 * @property {boolean} captions
 * @property {boolean} keepRecordings  keep this session's recordings (the server may keep none)
 */

/** @type {LiveSettings} */
export const LIVE_DEFAULTS = Object.freeze({
  mode: "auto",
  source: "mic",
  voice: Object.freeze({ ru: "", en: "" }),
  mute: false,
  pauseWhilePlaying: true,
  pushToTalk: false,
  catchUp: "speed+skip",
  captions: true,
  keepRecordings: true,
});

/**
 * What was stored, each field checked against what the page offers; the rest from `defaults`.
 * @param {Record<string, any>} stored
 * @param {{modes: readonly string[], catchUpModes: readonly string[], defaults?: LiveSettings}} offered
 * @returns {LiveSettings}
 */
export function readLiveSettings(stored, { modes, catchUpModes, defaults = LIVE_DEFAULTS }) {
  const flag = (/** @type {string} */ name) =>
    typeof stored[name] === "boolean" ? stored[name] : defaults[name];
  const voice = stored.voice && typeof stored.voice === "object" ? stored.voice : {};
  return {
    mode: modes.includes(stored.mode) ? stored.mode : defaults.mode,
    source: stored.source === "display" || stored.source === "mic" ? stored.source : defaults.source,
    voice: {
      ru: typeof voice.ru === "string" ? voice.ru : defaults.voice.ru,
      en: typeof voice.en === "string" ? voice.en : defaults.voice.en,
    },
    mute: flag("mute"),
    pauseWhilePlaying: flag("pauseWhilePlaying"),
    pushToTalk: flag("pushToTalk"),
    catchUp: catchUpModes.includes(stored.catchUp) ? stored.catchUp : defaults.catchUp,
    captions: flag("captions"),
    keepRecordings: flag("keepRecordings"),
  };
}
