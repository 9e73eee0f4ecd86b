"""Symbols and clean-up: unified characters, symbols as words, and only what a voice can say."""

from __future__ import annotations

import re
import unicodedata

from workers.engines.base import Lang

__all__ = ["drop_unspeakable", "symbols_to_words", "unify_characters"]

_SYMBOLS = {
    "en": {
        "&": " and ",
        "+": " plus ",
        "=": " equals ",
        "@": " at ",
        "№": " number ",
        "#": " number ",
    },
    "ru": {
        "&": " и ",
        "+": " плюс ",
        "=": " равно ",
        "@": " собака ",
        "№": " номер ",
        "#": " номер ",
    },
}


def _strip_accents(text: str) -> str:
    """Drop combining marks from Latin letters ("café" → "cafe"), keeping "й" and "ё"."""
    out = []
    for char in text:
        if char in "йЙёЁ":
            out.append(char)
            continue
        decomposed = unicodedata.normalize("NFD", char)
        out.append("".join(c for c in decomposed if not unicodedata.combining(c)))
    return "".join(out)


def unify_characters(text: str) -> str:
    """NFC text without accents on Latin letters, its minus and dashes as ASCII hyphens."""
    text = unicodedata.normalize("NFC", text)
    text = _strip_accents(text)
    return text.replace("\u2212", "-").replace("\u2013", " - ").replace("\u2014", " - ")


def symbols_to_words(text: str, lang: Lang) -> str:
    """The symbols a voice would skip ("&", "+", "=", "@", "№", "#") as `lang` words."""
    for symbol, words in _SYMBOLS[lang].items():
        text = text.replace(symbol, words)
    return text


def drop_unspeakable(text: str, lang: Lang) -> str:
    """Whatever the voice cannot say becomes a space: other scripts, stray symbols."""
    keep = "А-Яа-яЁё" if lang == "ru" else "A-Za-z"
    text = re.sub(rf"[^{keep}\s.,!?;:'\"()«»\-]", " ", text)
    text = re.sub(r"\s+([.,!?;:])", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()
