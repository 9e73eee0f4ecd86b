"""Text → what a TTS voice can say.

Silero says nothing for digits, and its Russian voices know only Cyrillic (its English voices
only Latin). `normalize_for_speech` turns numbers, currency, percentages, ordinals and years into
words (num2words, with Russian case agreement after common prepositions), spells all-caps
abbreviations letter by letter, and transliterates the other script. `split_sentences` cuts the
result at sentence ends into chunks a TTS model accepts.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from num2words import num2words

from workers.engines.base import Lang

__all__ = ["normalize_for_speech", "split_sentences", "latin_to_cyrillic", "cyrillic_to_latin"]

# --- Numbers --------------------------------------------------------------------------------------


def _ru_plural(n: int, one: str, few: str, many: str) -> str:
    """The Russian noun form that agrees with the integer n (1 рубль, 2 рубля, 5 рублей)."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


# symbol → (en unit, en units, en subunit, en subunits), (ru unit forms, ru subunit forms, gender)
_CURRENCIES: dict[str, dict[str, tuple]] = {
    "$": {
        "en": ("dollar", "dollars", "cent", "cents"),
        "ru": (("доллар", "доллара", "долларов"), ("цент", "цента", "центов"), "m"),
    },
    "€": {
        "en": ("euro", "euros", "cent", "cents"),
        "ru": (("евро", "евро", "евро"), ("цент", "цента", "центов"), "m"),
    },
    "₽": {
        "en": ("rouble", "roubles", "kopek", "kopeks"),
        "ru": (("рубль", "рубля", "рублей"), ("копейка", "копейки", "копеек"), "f"),
    },
    "£": {
        "en": ("pound", "pounds", "penny", "pence"),
        "ru": (("фунт", "фунта", "фунтов"), ("пенс", "пенса", "пенсов"), "m"),
    },
}

# Russian prepositions that put a following cardinal into a case other than the nominative.
_RU_PREPOSITION_CASE = {
    "из": "genitive",
    "от": "genitive",
    "до": "genitive",
    "без": "genitive",
    "около": "genitive",
    "для": "genitive",
    "у": "genitive",
    "после": "genitive",
    "более": "genitive",
    "менее": "genitive",
    "свыше": "genitive",
    "кроме": "genitive",
    "среди": "genitive",
    "с": "genitive",
    "к": "dative",
    "согласно": "dative",
    "о": "prepositional",
    "об": "prepositional",
    "при": "prepositional",
    "между": "instrumental",
    "над": "instrumental",
    "перед": "instrumental",
}

# Russian ordinal suffixes ("15-й", "2-го") → (gender, case, plural) for num2words.
_RU_ORDINAL_SUFFIX = {
    "й": ("m", "nominative", False),
    "ый": ("m", "nominative", False),
    "ий": ("m", "nominative", False),
    "ой": ("m", "nominative", False),
    "я": ("f", "nominative", False),
    "ая": ("f", "nominative", False),
    "ю": ("f", "accusative", False),
    "ую": ("f", "accusative", False),
    "е": ("n", "nominative", False),
    "ое": ("n", "nominative", False),
    "го": ("m", "genitive", False),
    "ого": ("m", "genitive", False),
    "му": ("m", "dative", False),
    "ому": ("m", "dative", False),
    "м": ("m", "prepositional", False),
    "ом": ("m", "prepositional", False),
    "ым": ("m", "instrumental", False),
    "х": ("m", "genitive", True),
    "ых": ("m", "genitive", True),
}

# "2024 году" → the ordinal's case.
_RU_YEAR_CASE = {
    "год": "nominative",
    "года": "genitive",
    "году": "prepositional",
    "годом": "instrumental",
    "годах": "prepositional",
}

_NUMBER = r"\d+(?:[.,]\d+)?"


def _parse_number(raw: str) -> Decimal:
    return Decimal(raw.replace(",", "."))


def _cardinal(value: Decimal, lang: Lang, case: str = "nominative", gender: str = "m") -> str:
    if value == value.to_integral_value():
        number = int(value)
        if lang == "ru":
            return num2words(number, lang="ru", case=case, gender=gender)
        return num2words(number, lang="en").replace(",", "")
    if lang == "ru":
        return num2words(float(value), lang="ru")
    whole, _, fraction = format(value, "f").partition(".")
    digits = " ".join(num2words(int(d), lang="en") for d in fraction)
    return f"{num2words(int(whole), lang='en')} point {digits}"


def _money(symbol: str, amount: Decimal, lang: Lang) -> str:
    units = int(amount)
    cents = int(((amount - units) * 100).quantize(Decimal(1)))
    if lang == "en":
        unit, units_name, sub, subs = _CURRENCIES[symbol]["en"]
        words = f"{_cardinal(Decimal(units), 'en')} {unit if units == 1 else units_name}"
        if cents:
            words += f" {_cardinal(Decimal(cents), 'en')} {sub if cents == 1 else subs}"
        return words
    unit_forms, sub_forms, sub_gender = _CURRENCIES[symbol]["ru"]
    words = f"{num2words(units, lang='ru')} {_ru_plural(units, *unit_forms)}"
    if cents:
        words += (
            f" {num2words(cents, lang='ru', gender=sub_gender)} {_ru_plural(cents, *sub_forms)}"
        )
    return words


def _percent(value: Decimal, lang: Lang, case: str) -> str:
    if lang == "en":
        return f"{_cardinal(value, 'en')} percent"
    if value != value.to_integral_value():
        noun = "процента"
    elif case == "nominative":
        noun = _ru_plural(int(value), "процент", "процента", "процентов")
    else:
        noun = {"genitive": "процентов", "dative": "процентам", "prepositional": "процентах"}.get(
            case, "процентами"
        )
    return f"{_cardinal(value, 'ru', case)} {noun}"


def _case_before(text: str, start: int, lang: Lang) -> str:
    if lang != "ru":
        return "nominative"
    previous = re.search(r"(\w+)\s*$", text[:start])
    if previous is None:
        return "nominative"
    return _RU_PREPOSITION_CASE.get(previous.group(1).lower(), "nominative")


def _numbers_to_words(text: str, lang: Lang) -> str:
    # Thousands separators: "1,000,000" (en), "1 000 000" with (narrow) no-break spaces (ru).
    if lang == "en":
        text = re.sub(r"\b\d{1,3}(?:,\d{3})+\b", lambda m: m.group(0).replace(",", ""), text)
    else:
        text = re.sub(
            r"\b\d{1,3}(?:[ \u00a0\u202f]\d{3})+\b", lambda m: re.sub(r"\D", "", m.group(0)), text
        )
    if lang == "en":  # "21st" before letters and digits are pulled apart
        text = re.sub(
            r"\b(\d+)(?:st|nd|rd|th)\b",
            lambda m: num2words(int(m.group(1)), lang="en", to="ordinal"),
            text,
        )
    # Letters glued to digits ("iPhone15", "5G", "COVID-19") read as separate words.
    text = re.sub(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])", " ", text)

    symbols = re.escape("".join(_CURRENCIES))

    def money_before(m: re.Match) -> str:  # "$3.50"
        return _money(m.group(1), _parse_number(m.group(2)), lang)

    def money_after(m: re.Match) -> str:  # "3,50 ₽"
        return _money(m.group(2), _parse_number(m.group(1)), lang)

    text = re.sub(rf"([{symbols}])\s?({_NUMBER})", money_before, text)
    text = re.sub(rf"({_NUMBER})\s?([{symbols}])", money_after, text)

    def percent(m: re.Match) -> str:
        return _percent(_parse_number(m.group(1)), lang, _case_before(text, m.start(), lang))

    text = re.sub(rf"({_NUMBER})\s?%", percent, text)

    if lang == "ru":

        def ru_year(m: re.Match) -> str:
            case = _RU_YEAR_CASE[m.group(2).lower()]
            year = num2words(int(m.group(1)), lang="ru", to="ordinal", case=case, animate=False)
            return f"{year} {m.group(2)}"

        text = re.sub(r"\b(\d{1,4})\s+(год|года|году|годом|годах)\b", ru_year, text)

        def ru_ordinal(m: re.Match) -> str:
            gender, case, plural = _RU_ORDINAL_SUFFIX[m.group(2)]
            return num2words(
                int(m.group(1)), lang="ru", to="ordinal", case=case, gender=gender, plural=plural
            )

        suffixes = "|".join(sorted(_RU_ORDINAL_SUFFIX, key=len, reverse=True))
        text = re.sub(rf"\b(\d+)-({suffixes})\b", ru_ordinal, text)

    def number(m: re.Match) -> str:
        raw = m.group(2)
        sign = m.group(1)
        value = _parse_number(raw)
        if lang == "en" and sign == "" and re.fullmatch(r"1[1-9]\d\d|20\d\d", raw):
            words = num2words(int(raw), lang="en", to="year")
        else:
            words = _cardinal(value, lang, _case_before(text, m.start(), lang))
        if sign:
            words = ("minus " if lang == "en" else "минус ") + words
        return words

    # A minus only where it cannot be a hyphen or a range ("-5" at a word start).
    text = re.sub(rf"(?:(?<=\s)|^)(-?)({_NUMBER})(?![.,]?\d)", number, text)
    text = re.sub(rf"()({_NUMBER})", number, text)
    return text


# --- Scripts --------------------------------------------------------------------------------------

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


def _words_to_script(text: str, lang: Lang) -> str:
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


# --- Symbols and clean-up -------------------------------------------------------------------------

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


def normalize_for_speech(text: str, lang: Lang) -> str:
    """What a `lang` voice should read for `text`: words only, in the voice's script."""
    if lang not in ("en", "ru"):
        raise ValueError(f"unsupported language {lang!r}: expected 'en' or 'ru'")
    text = unicodedata.normalize("NFC", text)
    text = _strip_accents(text)
    text = text.replace("\u2212", "-").replace("\u2013", " - ").replace("\u2014", " - ")
    if lang == "ru":
        # "в 2024 г." → "в 2024 году"; "г." alone after a year reads as "год".
        text = re.sub(r"\b(в|во)\s+(\d{1,4})\s*г\.", r"\1 \2 году", text, flags=re.IGNORECASE)
        text = re.sub(r"\b(\d{1,4})\s*г\.", r"\1 год", text)
    text = _numbers_to_words(text, lang)
    for symbol, words in _SYMBOLS[lang].items():
        text = text.replace(symbol, words)
    text = _words_to_script(text, lang)
    # Whatever the voice cannot say becomes a space: other scripts, stray symbols.
    keep = "А-Яа-яЁё" if lang == "ru" else "A-Za-z"
    text = re.sub(rf"[^{keep}\s.,!?;:'\"()«»\-]", " ", text)
    text = re.sub(r"\s+([.,!?;:])", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


# --- Sentences ------------------------------------------------------------------------------------

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
