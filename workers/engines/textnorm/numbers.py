"""Numbers → words: cardinals, money, percentages, ordinals and years (num2words).

Russian numbers agree in case with a preceding preposition ("из трёхсот") and in gender with
their unit ("одна тысяча", "пятьдесят копеек").
"""

from __future__ import annotations

import re
from decimal import Decimal

from num2words import num2words

from workers.engines.base import Lang

__all__ = ["numbers_to_words"]


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


def numbers_to_words(text: str, lang: Lang) -> str:
    """Numbers, money, percentages, ordinals and years in `text` as `lang` words."""
    if lang == "ru":
        # "в 2024 г." → "в 2024 году"; "г." alone after a year reads as "год".
        text = re.sub(r"\b(в|во)\s+(\d{1,4})\s*г\.", r"\1 \2 году", text, flags=re.IGNORECASE)
        text = re.sub(r"\b(\d{1,4})\s*г\.", r"\1 год", text)
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
