"""Transcripts of a live session or an upload job as SRT, WebVTT, plain text or JSON.

Pure formatting: the rows come from translation.history.selectors. Times are stream times (seconds
since the session's first audio frame, `Translation.stream_start_s`/`stream_end_s`), so the
cues line up with a recording of what was heard, not with when results happened to arrive."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from translation.models import Translation

# format → (media type, file extension)
FORMATS: dict[str, tuple[str, str]] = {
    "srt": ("application/x-subrip", "srt"),
    "vtt": ("text/vtt", "vtt"),
    "txt": ("text/plain", "txt"),
    "json": ("application/json", "json"),
}
# A cue needs a positive length: a zero-length utterance (a flush with no audio) gets this.
MIN_CUE_S = 0.001
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Cue:
    """One translated utterance, placed in its session's stream."""

    seq: int
    start_s: float
    end_s: float
    src: str
    tgt: str
    source_text: str
    text: str

    @property
    def direction(self) -> str:
        return f"{self.src}->{self.tgt}"


def cues_from_rows(rows: Iterable[Translation]) -> list[Cue]:
    """The finished utterances with some text, in stream order. An upload (no stream times)
    is one cue over its whole duration."""
    cues = []
    for row in rows:
        if row.status != Translation.Status.DONE:
            continue
        source_text, text = _one_line(row.source_text), _one_line(row.text)
        if not (source_text or text):
            continue
        start = row.stream_start_s if row.stream_start_s is not None else 0.0
        end = row.stream_end_s if row.stream_end_s is not None else start + (row.duration_s or 0)
        cues.append(
            Cue(
                seq=row.seq or 0,
                start_s=round(start, 3),
                end_s=round(max(end, start + MIN_CUE_S), 3),
                src=row.src_lang or row.requested_src,
                tgt=row.tgt_lang or row.requested_tgt,
                source_text=source_text,
                text=text,
            )
        )
    return sorted(cues, key=lambda cue: (cue.start_s, cue.seq))


def render(cues: list[Cue], fmt: str, *, title: str) -> str:
    """The transcript in `fmt` (a key of FORMATS); `title` names it in txt and json."""
    if fmt == "srt":
        return to_srt(cues)
    if fmt == "vtt":
        return to_vtt(cues)
    if fmt == "txt":
        return to_text(cues, title=title)
    if fmt == "json":
        return to_json(cues, title=title)
    raise ValueError(f"unknown transcript format {fmt!r} (use one of {', '.join(FORMATS)})")


def to_srt(cues: list[Cue]) -> str:
    blocks = [
        f"{n}\n{_clock(c.start_s, ',')} --> {_clock(c.end_s, ',')}\n{_cue_text(c)}\n"
        for n, c in enumerate(cues, start=1)
    ]
    return "\n".join(blocks)


def to_vtt(cues: list[Cue]) -> str:
    blocks = [
        f"{c.seq}\n{_clock(c.start_s, '.')} --> {_clock(c.end_s, '.')}\n{_cue_text(c)}\n"
        for c in cues
    ]
    return "\n".join(["WEBVTT\n", *blocks])


def to_text(cues: list[Cue], *, title: str) -> str:
    lines = [title, ""]
    for c in cues:
        span = f"{_clock(c.start_s, '.')} - {_clock(c.end_s, '.')}"
        lines += [
            f"[{span}] {c.src.upper()} -> {c.tgt.upper()}",
            f"{c.src}: {c.source_text}" if c.source_text else f"{c.src}: (no transcript)",
            f"{c.tgt}: {c.text}",
            "",
        ]
    return "\n".join(lines)


def to_json(cues: list[Cue], *, title: str) -> str:
    body = {
        "title": title,
        "utterances": [{**asdict(c), "direction": c.direction} for c in cues],
    }
    return json.dumps(body, ensure_ascii=False, indent=2) + "\n"


def _cue_text(cue: Cue) -> str:
    """The translation, then what was said (subtitles show both languages)."""
    lines = [cue.text or "…"]
    if cue.source_text:
        lines.append(f"({cue.src}) {cue.source_text}")
    return "\n".join(lines)


def _one_line(text: str) -> str:
    # A blank line ends a cue and "-->" starts one: neither may appear in a cue's text.
    return _WHITESPACE.sub(" ", (text or "").replace("-->", "->")).strip()


def _clock(seconds: float, decimal: str) -> str:
    millis = round(max(seconds, 0.0) * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"
