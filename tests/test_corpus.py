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


def test_the_main_job_validates_on_the_tail_and_tests_on_the_unseen_play():
    """Validation: the last 10% of the training plays (the reference protocol of the issue's
    2x256 torch.nn figure); test: The Merchant of Venice, which training never reads."""
    from rnnkit.data.corpus import HELD_OUT_START
    from rnnkit.data.lm_corpus import BUILTIN, read_corpus, read_test_text, split_text

    text, val_start = read_corpus(BUILTIN)
    train, val = split_text(text, val_start, 0.1)
    test = read_test_text(BUILTIN)
    assert train + val == default_corpus()[:HELD_OUT_START]
    assert len(val) == HELD_OUT_START - int(HELD_OUT_START * 0.9)
    assert test.startswith("THE MERCHANT OF VENICE") and "SHYLOCK" not in train + val
    assert "KING HENRY IV" in default_corpus()[:HELD_OUT_START]
