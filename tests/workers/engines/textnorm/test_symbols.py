from workers.engines.textnorm.symbols import drop_unspeakable, symbols_to_words, unify_characters


def test_unify_characters_drops_latin_accents_and_keeps_russian_letters():
    assert unify_characters("café ёж й 5 − 3 – 2") == "cafe ёж й 5 - 3  -  2"


def test_symbols_to_words_in_each_language():
    assert symbols_to_words("a&b #1", "en") == "a and b  number 1"
    assert symbols_to_words("a@b", "ru") == "a собака b"


def test_drop_unspeakable_keeps_the_voice_script_and_punctuation():
    assert drop_unspeakable("Привет , world ☺ !", "ru") == "Привет,!"
    assert drop_unspeakable("Hello , мир ☺ !", "en") == "Hello,!"
