import re

from rnnkit.data.corpus import DEFAULT_CORPUS_NAME, default_corpus


def test_default_corpus_loads_about_a_megabyte_of_lines():
    text = default_corpus()
    assert DEFAULT_CORPUS_NAME == "shakespeare"
    assert 1_000_000 <= len(text) <= 1_250_000
    assert text.count("\n") >= 10_000
    assert "\r" not in text


def test_default_corpus_has_no_gutenberg_boilerplate():
    text = default_corpus()
    assert re.search(r"gutenberg|\*\*\* ?(start|end)", text, re.IGNORECASE) is None


def test_held_out_play_starts_at_the_documented_offset():
    from rnnkit.data.corpus import HELD_OUT_START

    text = default_corpus()
    assert text[HELD_OUT_START:].startswith("THE MERCHANT OF VENICE")
    assert "MERCHANT OF VENICE" not in text[:HELD_OUT_START]
