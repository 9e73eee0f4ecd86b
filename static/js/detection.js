// What language ID heard (src=auto): "Heard English · 87 %", and a one-click correction that
// fixes the direction for the next utterance (the Direction setting changes with it).
import { LANG_NAMES } from "./voices.js";

/**
 * @param {{lang: string, confidence: number}} lid  from the result JSON
 * @param {(mode: string) => void} onCorrect        called with the corrected mode, e.g. "ru->en"
 * @returns {HTMLElement}
 */
export function renderDetection(lid, onCorrect) {
  const other = lid.lang === "en" ? "ru" : "en";
  const percent = Math.round(lid.confidence * 100);
  const box = document.createElement("p");
  box.className = "detection";
  box.dataset.lang = lid.lang;
  box.dataset.confidence = String(lid.confidence);
  const label = document.createElement("span");
  label.className = "detection-label";
  label.textContent = `Detected ${LANG_NAMES[lid.lang] || lid.lang} · ${percent} %`;
  const fix = document.createElement("button");
  fix.type = "button";
  fix.className = "btn btn-small btn-quiet detection-fix";
  const mode = `${other}->${lid.lang}`;
  fix.textContent = `It was ${LANG_NAMES[other] || other}`;
  fix.title = `Translate the next utterance ${other.toUpperCase()} → ${lid.lang.toUpperCase()}`;
  fix.setAttribute(
    "aria-label",
    `Wrong language: it was ${LANG_NAMES[other] || other}; translate ${other.toUpperCase()} to ${lid.lang.toUpperCase()} from the next utterance`,
  );
  fix.addEventListener("click", () => {
    onCorrect(mode);
    fix.disabled = true;
    fix.textContent = `Next: ${other.toUpperCase()} → ${lid.lang.toUpperCase()}`;
  });
  box.append(label, fix);
  return box;
}
