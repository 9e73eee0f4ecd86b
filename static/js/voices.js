// Silero voices by target language; mirrors VOICES in translation/protocol.py
// (tests/browser/test_voices_sync.py keeps the two equal).
export const VOICES = {
  ru: ["aidar", "baya", "kseniya", "xenia", "eugene"],
  en: Array.from({ length: 118 }, (_, i) => `en_${i}`),
};

export const DEFAULT_VOICES = { ru: "baya", en: "en_0" };

export const LANG_NAMES = { en: "English", ru: "Russian", auto: "Auto" };

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
