// The voices the server offers, by target language, each voice's engine, readable name and
// licence, its default voices and the languages' names: rendered into the page from
// translation/constants.py (`json_script` "voice-catalogue"), so there is one list, kept by the
// server.
const catalogue = JSON.parse(globalThis.document?.getElementById("voice-catalogue")?.textContent || "{}");

export const VOICES = catalogue.voices || { ru: [], en: [] };
export const DEFAULT_VOICES = catalogue.defaults || { ru: "", en: "" };
export const LANG_NAMES = catalogue.names || {};
/** id -> {name, engine, licence}; an id the server did not describe falls back to itself. */
export const VOICE_DETAILS = catalogue.details || {};

const ENGINE_NAMES = { silero: "Silero", piper: "Piper" };

/** What a picker shows for a voice: its name, then its engine's licence in short. */
export function voiceLabel(id, details = VOICE_DETAILS) {
  const voice = details[id];
  if (!voice) return id;
  return `${voice.name} — ${voice.licence}`;
}

/**
 * The voices of `lang` grouped by engine, in the server's order:
 * [{engine, label, voices: [{id, label}]}]. Pure, so it is tested without a page.
 */
export function voiceGroups(lang, voices = VOICES, details = VOICE_DETAILS) {
  const groups = [];
  for (const id of voices[lang] || []) {
    const engine = details[id]?.engine || "other";
    let group = groups.find((g) => g.engine === engine);
    if (!group) {
      group = { engine, label: ENGINE_NAMES[engine] || engine, voices: [] };
      groups.push(group);
    }
    group.voices.push({ id, label: voiceLabel(id, details) });
  }
  return groups;
}

/** Fill a <select> with the voices of `lang` (one <optgroup> per engine), selecting `chosen`
 * when it is one of them, else the server's default. */
export function fillVoiceSelect(select, lang, chosen) {
  select.replaceChildren(
    ...voiceGroups(lang).map((group) => {
      const optgroup = document.createElement("optgroup");
      optgroup.label = group.label;
      optgroup.append(
        ...group.voices.map(({ id, label }) => {
          const option = document.createElement("option");
          option.value = id;
          option.textContent = label;
          option.title = id;
          return option;
        }),
      );
      return optgroup;
    }),
  );
  select.value = VOICES[lang].includes(chosen) ? chosen : DEFAULT_VOICES[lang];
}
