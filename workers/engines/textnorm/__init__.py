"""Text → what a TTS voice can say.

Silero says nothing for digits, and its Russian voices know only Cyrillic (its English voices
only Latin). `normalize_for_speech` turns numbers, currency, percentages, ordinals and years into
words (`numbers`: num2words, with Russian case agreement after common prepositions), symbols into
words (`symbols`), spells all-caps abbreviations letter by letter and transliterates the other
script (`scripts`). `split_sentences` (`sentences`) cuts the result at sentence ends into chunks a
TTS model accepts.
"""

from __future__ import annotations

from workers.engines.base import Lang
from workers.engines.textnorm.numbers import numbers_to_words
from workers.engines.textnorm.scripts import cyrillic_to_latin, latin_to_cyrillic, words_to_script
from workers.engines.textnorm.sentences import split_sentences
from workers.engines.textnorm.symbols import drop_unspeakable, symbols_to_words, unify_characters

__all__ = ["normalize_for_speech", "split_sentences", "latin_to_cyrillic", "cyrillic_to_latin"]


def normalize_for_speech(text: str, lang: Lang) -> str:
    """What a `lang` voice should read for `text`: words only, in the voice's script."""
    if lang not in ("en", "ru"):
        raise ValueError(f"unsupported language {lang!r}: expected 'en' or 'ru'")
    text = unify_characters(text)
    text = numbers_to_words(text, lang)
    text = symbols_to_words(text, lang)
    text = words_to_script(text, lang)
    return drop_unspeakable(text, lang)
