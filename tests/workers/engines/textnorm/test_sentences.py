from workers.engines.textnorm.sentences import split_sentences


def test_split_sentences_keeps_order_and_limit():
    text = "Один. Два! Три? " + "слово, " * 100 + "конец."
    chunks = split_sentences(text, max_chars=120)
    assert chunks[0] == "Один. Два! Три?"
    assert all(len(chunk) <= 120 for chunk in chunks)
    assert " ".join(chunks).split() == text.split()


def test_split_sentences_packs_short_sentences_and_cuts_long_words():
    assert split_sentences("A b. C d. E f.", max_chars=9) == ["A b. C d.", "E f."]
    assert split_sentences("x" * 25, max_chars=10) == ["x" * 10, "x" * 10, "x" * 5]
    assert split_sentences("   ") == []
    long_text = ". ".join(f"Sentence number {i} is here" for i in range(60)) + "."
    chunks = split_sentences(long_text)
    assert len(chunks) == 4
    assert all(len(chunk) <= 500 and chunk.endswith(".") for chunk in chunks)
