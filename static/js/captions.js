// Live captions: the provisional text of an utterance still being spoken ("partial" messages),
// shown in the utterance's own source and translation lines and replaced in place by the final.
//
// Each partial says how many of its leading characters are committed (`stable`, local
// agreement on the server): those never change before the final. A line shows them steady in
// a `.committed` span and the rest, which may still change, in a lighter `.tentative` span
// (colour only: same font, so nothing reflows when words commit). Updates touch only what
// changed: committed text is appended, never rewritten, so the reader's place (and a
// selection) holds. Screen readers get committed text only: the tentative span is
// aria-hidden, committed words arrive as additions to the conversation's polite live region,
// and each final translation is read out through `#final-announcer` (`announceFinal`).

const PROVISIONAL = "provisional";

/** Whether a partial may replace what an entry shows: never after its final (or error), and
 * never over a newer partial (replies can overtake each other). */
export function acceptsPartial(entry, partial) {
  const state = entry.el?.dataset.state ?? entry.state;
  if (state === "done" || state === "error") return false;
  return !(Number.isInteger(entry.partialPart) && partial.part <= entry.partialPart);
}

/** A line of a partial split at its committed length (clamped to the text). */
export function splitStable(text, stable) {
  const count = Number.isInteger(stable) ? Math.min(Math.max(stable, 0), text.length) : 0;
  return { committed: text.slice(0, count), tentative: text.slice(count) };
}

/** Show a partial in an entry's two lines, provisionally. Returns false when it was dropped. */
export function showPartial(entry, partial) {
  if (!acceptsPartial(entry, partial)) return false;
  entry.partialPart = partial.part;
  entry.el.dataset.state = "partial";
  entry.targetText.classList.remove("pending");
  renderLine(entry.sourceText, partial.source_text, partial.stable?.source_text, partial.src);
  renderLine(entry.targetText, partial.text, partial.stable?.text, partial.tgt);
  return true;
}

/** Render one line of a partial: committed and tentative spans, updated in place. */
export function renderLine(line, text, stable, lang) {
  // An empty partial keeps what was shown before: text never flickers away mid-sentence.
  if (!text) return;
  const { committed, tentative } = splitStable(text, stable);
  const spans = captionSpans(line);
  const shown = spans.committed.textContent;
  if (committed.startsWith(shown)) {
    // Only the newly committed characters are added: a live region reads just those.
    if (committed.length > shown.length) spans.committed.append(committed.slice(shown.length));
  } else {
    spans.committed.textContent = committed; // never within a seq (the server's guarantee)
  }
  if (spans.tentative.textContent !== tentative) spans.tentative.textContent = tentative;
  if (lang) line.lang = lang;
  line.classList.remove("muted");
  line.classList.add(PROVISIONAL);
}

/** The final arrived: the lines stop being provisional (the caller fills in the final text). */
export function settleEntry(entry) {
  for (const line of [entry.sourceText, entry.targetText]) {
    line.classList.remove(PROVISIONAL);
    delete line.captionSpans;
  }
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

function captionSpans(line) {
  if (!line.captionSpans) {
    const doc = line.ownerDocument;
    const committed = doc.createElement("span");
    committed.className = "committed";
    const tentative = doc.createElement("span");
    tentative.className = "tentative";
    tentative.setAttribute("aria-hidden", "true");
    line.replaceChildren(committed, tentative);
    line.captionSpans = { committed, tentative };
  }
  return line.captionSpans;
}
