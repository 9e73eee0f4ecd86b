"""Scripts: Latin ↔ Cyrillic transliteration and letter-by-letter spelling of abbreviations.

Silero's Russian voices read only Cyrillic, its English voices only Latin.
"""

from __future__ import annotations

import re

from workers.engines.base import Lang

__all__ = ["cyrillic_to_latin", "latin_to_cyrillic", "words_to_script"]

# Common words and brands read as Russians say them.
_RU_WORDS = {
    "iphone": "айфон",
    "ipad": "айпад",
    "macbook": "макбук",
    "apple": "эппл",
    "google": "гугл",
    "youtube": "ютуб",
    "microsoft": "майкрософт",
    "windows": "виндоус",
    "android": "андроид",
    "samsung": "самсунг",
    "amazon": "амазон",
    "facebook": "фейсбук",
    "instagram": "инстаграм",
    "twitter": "твиттер",
    "telegram": "телеграм",
    "whatsapp": "вотсап",
    "skype": "скайп",
    "zoom": "зум",
    "netflix": "нетфликс",
    "tesla": "тесла",
    "intel": "интел",
    "nvidia": "энвидиа",
    "linux": "линукс",
    "python": "пайтон",
    "github": "гитхаб",
    "bluetooth": "блютус",
    "wifi": "вайфай",
    "wi-fi": "вай-фай",
    "email": "имейл",
    "e-mail": "имейл",
    "online": "онлайн",
    "offline": "офлайн",
    "internet": "интернет",
    "ok": "окей",
    "okay": "окей",
    "hello": "хеллоу",
    "chatgpt": "чат джи пи ти",
    "openai": "опен эй ай",
    "uber": "убер",
    "xbox": "иксбокс",
    "playstation": "плейстейшн",
    "canary": "канари",
    "silero": "силеро",
}

_RU_LATIN_LETTER_NAMES = {
    "a": "эй", "b": "би", "c": "си", "d": "ди", "e": "и", "f": "эф", "g": "джи", "h": "эйч",
    "i": "ай", "j": "джей", "k": "кей", "l": "эл", "m": "эм", "n": "эн", "o": "оу", "p": "пи",
    "q": "кью", "r": "ар", "s": "эс", "t": "ти", "u": "ю", "v": "ви", "w": "дабл ю", "x": "экс",
    "y": "уай", "z": "зед",
}  # fmt: skip

_RU_CYRILLIC_LETTER_NAMES = {
    "а": "а", "б": "бэ", "в": "вэ", "г": "гэ", "д": "дэ", "е": "е", "ё": "ё", "ж": "жэ",
    "з": "зэ", "и": "и", "й": "и краткое", "к": "ка", "л": "эль", "м": "эм", "н": "эн", "о": "о",
    "п": "пэ", "р": "эр", "с": "эс", "т": "тэ", "у": "у", "ф": "эф", "х": "ха", "ц": "цэ",
    "ч": "чэ", "ш": "ша", "щ": "ща", "ъ": "твёрдый знак", "ы": "ы", "ь": "мягкий знак", "э": "э",
    "ю": "ю", "я": "я",
}  # fmt: skip

# Abbreviations whose customary reading differs from the letter names.
_RU_ABBREVIATIONS = {"США": "сэ шэ а", "РФ": "эр эф", "СССР": "эс эс эс эр", "ЕС": "е эс"}

_EN_LETTER_NAMES = {
    "a": "ay", "b": "bee", "c": "see", "d": "dee", "e": "ee", "f": "ef", "g": "gee", "h": "aitch",
    "i": "eye", "j": "jay", "k": "kay", "l": "el", "m": "em", "n": "en", "o": "oh", "p": "pee",
    "q": "cue", "r": "ar", "s": "ess", "t": "tee", "u": "you", "v": "vee", "w": "double you",
    "x": "ex", "y": "why", "z": "zed",
}  # fmt: skip

# English spelling → Russian sounds, longest patterns first (a readable approximation).
_LATIN_TO_CYRILLIC_RULES = [
    ("tion", "шн"), ("sion", "жн"), ("igh", "ай"), ("sch", "ск"), ("tch", "ч"),
    ("sh", "ш"), ("ch", "ч"), ("th", "т"), ("ph", "ф"), ("ck", "к"), ("qu", "кв"), ("wh", "у"),
    ("oo", "у"), ("ee", "и"), ("ea", "и"), ("ai", "эй"), ("ay", "эй"), ("ey", "ей"), ("oy", "ой"),
    ("ou", "ау"), ("ow", "оу"), ("kn", "н"), ("ng", "нг"), ("ce", "се"), ("ci", "си"),
    ("cy", "си"), ("ge", "дже"), ("gi", "джи"), ("ya", "я"), ("yo", "ё"), ("yu", "ю"),
    ("ye", "е"), ("zh", "ж"), ("kh", "х"), ("ts", "ц"),
    ("a", "а"), ("b", "б"), ("c", "к"), ("d", "д"), ("e", "е"), ("f", "ф"), ("g", "г"),
    ("h", "х"), ("i", "и"), ("j", "дж"), ("k", "к"), ("l", "л"), ("m", "м"), ("n", "н"),
    ("o", "о"), ("p", "п"), ("q", "к"), ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"),
    ("v", "в"), ("w", "в"), ("x", "кс"), ("y", "и"), ("z", "з"),
]  # fmt: skip

_CYRILLIC_TO_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "zh", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
}  # fmt: skip


def latin_to_cyrillic(word: str) -> str:
    """One Latin word as Russian letters: known words from a dictionary, others by rules."""
    lower = word.lower()
    if lower in _RU_WORDS:
        return _RU_WORDS[lower]
    out = []
    i = 0
    while i < len(lower):
        if lower[i] == "e" and i == len(lower) - 1 and len(lower) > 3:
            break  # a final silent "e": "phone" → "фон"
        if lower[i] == "e" and i == 0:
            out.append("э")
            i += 1
            continue
        if lower[i] == "y" and i == 0 and len(lower) > 1 and lower[1] not in "aeiouy":
            out.append("и")
            i += 1
            continue
        for pattern, sound in _LATIN_TO_CYRILLIC_RULES:
            if lower.startswith(pattern, i):
                out.append(sound)
                i += len(pattern)
                break
        else:
            out.append(lower[i])
            i += 1
    return "".join(out)


def cyrillic_to_latin(word: str) -> str:
    """One Cyrillic word in Latin letters (a simple, readable transliteration)."""
    out = []
    for char in word:
        latin = _CYRILLIC_TO_LATIN.get(char.lower())
        if latin is None:
            out.append(char)
        elif char.isupper() and latin:
            out.append(latin[0].upper() + latin[1:])
        else:
            out.append(latin)
    return "".join(out)


def _is_abbreviation(word: str) -> bool:
    letters = word.replace(".", "")
    return 2 <= len(letters) <= 5 and letters.isalpha() and letters.isupper()


def _spell(word: str, lang: Lang) -> str:
    if lang == "ru" and word in _RU_ABBREVIATIONS:
        return _RU_ABBREVIATIONS[word]
    names = []
    for char in word.lower():
        if lang == "ru":
            names.append(
                _RU_LATIN_LETTER_NAMES.get(char) or _RU_CYRILLIC_LETTER_NAMES.get(char, char)
            )
        else:
            names.append(_EN_LETTER_NAMES.get(char) or cyrillic_to_latin(char))
    return " ".join(names)


_LATIN_WORD = re.compile(r"[A-Za-z]+(?:[-'’][A-Za-z]+)*")
_CYRILLIC_WORD = re.compile(r"[А-Яа-яЁё]+(?:-[А-Яа-яЁё]+)*")


def words_to_script(text: str, lang: Lang) -> str:
    """Every word in the `lang` voice's script; all-caps abbreviations spelled letter by letter."""

    def latin(m: re.Match) -> str:
        word = m.group(0)
        if lang == "ru" and word.lower() in _RU_WORDS:
            return _RU_WORDS[word.lower()]
        if _is_abbreviation(word):
            return _spell(word, lang)
        if lang == "en":
            return word
        return "-".join(latin_to_cyrillic(part) for part in re.split(r"[-'’]", word) if part)

    def cyrillic(m: re.Match) -> str:
        word = m.group(0)
        if _is_abbreviation(word):
            return _spell(word, lang)
        return word if lang == "ru" else cyrillic_to_latin(word)

    if lang == "en":
        text = _LATIN_WORD.sub(latin, text)
        return _CYRILLIC_WORD.sub(cyrillic, text)
    text = _CYRILLIC_WORD.sub(cyrillic, text)
    return _LATIN_WORD.sub(latin, text)
