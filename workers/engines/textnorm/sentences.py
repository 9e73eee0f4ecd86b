"""Sentences: text cut into chunks a TTS model accepts, at sentence ends where possible."""

from __future__ import annotations

import re

__all__ = ["split_sentences"]

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"»)]*\s+")


def _split_long(sentence: str, max_chars: int) -> list[str]:
    """A sentence longer than max_chars, cut at clause marks, then spaces, then anywhere."""
    pieces: list[str] = []
    for separator in (r"(?<=[,;:])\s+", r"\s+"):
        parts = re.split(separator, sentence)
        if all(len(part) <= max_chars for part in parts):
            return _pack(parts, max_chars)
    for part in re.split(r"\s+", sentence):
        pieces.extend(part[i : i + max_chars] for i in range(0, len(part), max_chars))
    return _pack(pieces, max_chars)


def _pack(parts: list[str], max_chars: int) -> list[str]:
    chunks: list[str] = []
    current = ""
    for part in parts:
        if not part:
            continue
        candidate = f"{current} {part}" if current else part
        if len(candidate) <= max_chars:
            current = candidate
        else:
            if current:
                chunks.append(current)
            current = part
    if current:
        chunks.append(current)
    return chunks


def split_sentences(text: str, max_chars: int = 500) -> list[str]:
    """Chunks of at most max_chars, cut at sentence ends where possible, in reading order."""
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    parts: list[str] = []
    for sentence in _SENTENCE_END.split(text.strip()):
        sentence = sentence.strip()
        if not sentence:
            continue
        if len(sentence) <= max_chars:
            parts.append(sentence)
        else:
            parts.extend(_split_long(sentence, max_chars))
    return _pack(parts, max_chars)
