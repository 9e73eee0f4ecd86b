import pytest

from workers.engines.textnorm.scripts import cyrillic_to_latin, latin_to_cyrillic, words_to_script


def test_transliteration_of_single_words():
    assert latin_to_cyrillic("iPhone") == "айфон"
    assert latin_to_cyrillic("phone") == "фон"
    assert latin_to_cyrillic("shop") == "шоп"
    assert cyrillic_to_latin("Щука") == "Shchuka"
    assert cyrillic_to_latin("объявление") == "obyavlenie"


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("Google и NASA", "ru", "гугл и эн эй эс эй"),
        ("Москва и СССР", "ru", "Москва и эс эс эс эр"),
        ("Москва и Wi-Fi", "en", "Moskva i Wi-Fi"),
        ("МГУ", "en", "m g u"),
    ],
)
def test_words_to_script_leaves_only_the_voice_script(text, lang, expected):
    assert words_to_script(text, lang) == expected
