import re

import pytest

pytest.importorskip("num2words")

from workers.engines.textnorm import normalize_for_speech

LATIN = re.compile(r"[A-Za-z]")
CYRILLIC = re.compile(r"[А-Яа-яЁё]")
DIGIT = re.compile(r"\d")


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        (
            "В 2024 году 15% из 300 человек купили iPhone 15.",
            "ru",
            "В две тысячи двадцать четвёртом году пятнадцать процентов из трёхсот человек "
            "купили айфон пятнадцать.",
        ),
        (
            "It costs $3.50, up 12% since 1999.",
            "en",
            "It costs three dollars fifty cents, up twelve percent since nineteen ninety-nine.",
        ),
        (
            "Билет стоит 1 500,50 ₽, а вчера стоил 3 $.",
            "ru",
            "Билет стоит одна тысяча пятьсот рублей пятьдесят копеек, а вчера стоил три доллара.",
        ),
        ("Это 1-й раз с 90-х годов!", "ru", "Это первый раз с девяностых годов!"),
        ("Встреча 21-го числа, до 5 лет.", "ru", "Встреча двадцать первого числа, до пяти лет."),
        ("Он родился в 1990 г.", "ru", "Он родился в тысяча девятьсот девяностом году"),
        (
            "On the 21st, 2,500 people paid £1 each and €2.05 later.",
            "en",
            "On the twenty-first, two thousand five hundred people paid one pound each and two "
            "euros five cents later.",
        ),
        (
            "It was -5 degrees, 3.25 metres.",
            "en",
            "It was minus five degrees, three point two five metres.",
        ),
        ("Google и Microsoft работают в IT.", "ru", "гугл и майкрософт работают в ай ти."),
        ("NASA и США", "ru", "эн эй эс эй и сэ шэ а"),
        ("Москва и Путин, NASA.", "en", "Moskva i Putin, en ay ess ay."),
        ("Санкт-Петербург, 3,5%", "en", "Sankt-Peterburg, three point five percent"),
    ],
)
def test_normalize_for_speech_says_numbers_and_foreign_words(text, lang, expected):
    assert normalize_for_speech(text, lang) == expected


@pytest.mark.parametrize(
    "text",
    [
        "В 2024 году 15% из 300 человек купили iPhone 15.",
        "Hello world, the Tesla Model 3 costs $39,990 (2nd edition) — 5G & Wi-Fi, COVID-19.",
        "Курс: 1 € = 98,7 ₽; 7-я глава, №5, e-mail: test@example.com, café.",
    ],
)
def test_russian_voice_gets_only_cyrillic_words(text):
    spoken = normalize_for_speech(text, "ru")
    assert not DIGIT.search(spoken), spoken
    assert not LATIN.search(spoken), spoken
    assert CYRILLIC.search(spoken)


@pytest.mark.parametrize(
    "text",
    [
        "It costs $3.50, up 12% since 1999.",
        "Мы были в Москве в 2019 году, 1st place, 100 € and ₽250.",
    ],
)
def test_english_voice_gets_only_latin_words(text):
    spoken = normalize_for_speech(text, "en")
    assert not DIGIT.search(spoken), spoken
    assert not CYRILLIC.search(spoken), spoken


def test_unknown_language_is_rejected():
    with pytest.raises(ValueError, match="unsupported language"):
        normalize_for_speech("hola", "es")
