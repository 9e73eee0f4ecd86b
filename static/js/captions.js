// Live captions: the provisional text of an utterance still being spoken ("partial" messages),
// shown in the utterance's own source and translation lines and replaced in place by the final.
//
// Screen readers get finals only: an entry is hidden from them while it is provisional, and
// each final translation is read out through one polite live region (`announceFinal`).

const PROVISIONAL = "provisional";

/** Whether a partial may replace what an entry shows: never after its final (or error), and
 * never over a newer partial (replies can overtake each other). */
export function acceptsPartial(entry, partial) {
  const state = entry.el?.dataset.state ?? entry.state;
  if (state === "done" || state === "error") return false;
  return !(Number.isInteger(entry.partialPart) && partial.part <= entry.partialPart);
}

/** Show a partial in an entry's two lines, provisionally. Returns false when it was dropped. */
export function showPartial(entry, partial) {
  if (!acceptsPartial(entry, partial)) return false;
  entry.partialPart = partial.part;
  entry.el.dataset.state = "partial";
  entry.el.setAttribute("aria-hidden", "true");
  setLine(entry.sourceText, partial.source_text, partial.src);
  setLine(entry.targetText, partial.text, partial.tgt);
  entry.targetText.classList.remove("pending");
  return true;
}

/** The final arrived: the lines stop being provisional (the caller fills in the final text). */
export function settleEntry(entry) {
  for (const line of [entry.sourceText, entry.targetText]) line.classList.remove(PROVISIONAL);
  entry.el.removeAttribute("aria-hidden");
}

/** Read a final translation out once (the polite live region `#final-announcer`). */
export function announceFinal(result) {
  const region = document.getElementById("final-announcer");
  if (region && result.text) {
    region.textContent = "";
    region.textContent = result.text;
  }
}

function setLine(line, text, lang) {
  // An empty partial keeps what was shown before: text never flickers away mid-sentence.
  if (!text) return;
  line.textContent = text;
  if (lang) line.lang = lang;
  line.classList.remove("muted");
  line.classList.add(PROVISIONAL);
}
