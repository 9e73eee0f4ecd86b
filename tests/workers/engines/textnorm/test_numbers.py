import pytest

pytest.importorskip("num2words")

from workers.engines.textnorm.numbers import numbers_to_words


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("из 300", "ru", "из трёхсот"),
        ("5 ₽", "ru", "пять рублей"),
        ("2,05 ₽", "ru", "два рубля пять копеек"),
        ("в 1990 г.", "ru", "в тысяча девятьсот девяностом году"),
        ("$1", "en", "one dollar"),
        ("1,000,000", "en", "one million"),
        ("the 3rd in 1999", "en", "the third in nineteen ninety-nine"),
        ("-5 and 3-4", "en", "minus five and three-four"),
    ],
)
def test_numbers_to_words(text, lang, expected):
    assert numbers_to_words(text, lang) == expected
