// The voices the server offers, by target language, its default voices and the languages'
// names: rendered into the page from translation/constants.py (`json_script` "voice-catalogue"),
// so there is one list, kept by the server.
const catalogue = JSON.parse(document.getElementById("voice-catalogue")?.textContent || "{}");

export const VOICES = catalogue.voices || { ru: [], en: [] };
export const DEFAULT_VOICES = catalogue.defaults || { ru: "", en: "" };
export const LANG_NAMES = catalogue.names || {};

/** Fill a <select> with the voices of `lang`, selecting `chosen` when it is one of them. */
export function fillVoiceSelect(select, lang, chosen) {
  select.replaceChildren(
    ...VOICES[lang].map((name) => {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      return option;
    }),
  );
  select.value = VOICES[lang].includes(chosen) ? chosen : DEFAULT_VOICES[lang];
}
