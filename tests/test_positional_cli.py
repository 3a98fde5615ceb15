"""``--positional``: the transformer's position encoding is one flag apart in every task."""

import json

import pytest
import torch

from rnnkit.errors import RnnkitError
from rnnkit.models import ClassifierConfig, LanguageModel, LMConfig, SequenceClassifier

from conftest import TINY_FLAGS, run_cli


def test_learned_positions_reach_the_language_model_and_its_generation(capsys, tmp_path,
                                                                          tiny_text):
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "--data", str(tiny_text), "--out", str(run),
                           *TINY_FLAGS, "--cell", "transformer", "--positional", "learned")
    assert code == 0, err
    saved = json.loads((run / "config.json").read_text(encoding="utf-8"))
    assert saved["model"]["positional"] == "learned"
    from rnnkit import load
    model, _ = load(run)
    assert model.rnn.pos is not None and model.rnn.pos.weight.shape[0] == 128
    # longer than the learned table: generation slides its window instead of failing
    code, out, err = run_cli(capsys, "generate", str(run), "--length", "200", "--seed", "1")
    assert code == 0 and "Traceback" not in err, err


def test_sinusoidal_is_the_default_and_has_no_table(capsys, tmp_path, tiny_text):
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "--data", str(tiny_text), "--out", str(run),
                           *TINY_FLAGS, "--cell", "transformer")
    assert code == 0, err
    from rnnkit import load
    model, _ = load(run)
    assert model.config.positional == "sinusoidal" and model.rnn.pos is None


def test_learned_and_sinusoidal_positions_give_different_models():
    torch.manual_seed(0)
    tokens = torch.randint(0, 20, (2, 9))
    outs = []
    for positional in ("sinusoidal", "learned"):
        torch.manual_seed(1)
        lm = LanguageModel(LMConfig(vocab_size=20, cell="transformer", embed_size=8,
                                    hidden_size=8, num_layers=1, positional=positional))
        outs.append(lm(tokens)[0])
    assert not torch.allclose(*outs)


def test_a_classifier_takes_learned_positions():
    c = SequenceClassifier(ClassifierConfig(num_classes=3, vocab_size=30, input_size=8,
                                            cell="transformer", hidden_size=8,
                                            positional="learned"))
    assert c.rnn.pos is not None
    logits, _ = c(torch.randint(1, 30, (4, 7)), lengths=torch.tensor([7, 5, 3, 1]))
    assert logits.shape == (4, 3)


@pytest.mark.parametrize("cell", ["lstm", "mingru", "cnn"])
def test_positional_on_a_cell_without_positions_is_refused(capsys, tmp_path, tiny_text, cell):
    code, _, err = run_cli(capsys, "train", "--data", str(tiny_text), "--out",
                           str(tmp_path / "run"), *TINY_FLAGS, "--cell", cell,
                           "--positional", "learned")
    assert code == 2 and "Traceback" not in err
    assert "--positional applies to --cell transformer" in err and len(err.strip().splitlines()) == 1


def test_an_unknown_positional_encoding_is_refused():
    with pytest.raises(RnnkitError, match="unknown positional encoding 'rope'"):
        LMConfig(vocab_size=5, cell="transformer", positional="rope")


def test_positional_is_refused_by_the_conditional_generator(capsys, tmp_path):
    data = tmp_path / "names.csv"
    data.write_text("text,label\n" + "".join(f"ab{i},x\nba{i},y\n" for i in range(20)),
                    encoding="utf-8")
    code, _, err = run_cli(capsys, "train", "--task", "condgen", "--data", str(data), "--out",
                           str(tmp_path / "run"), "--positional", "learned", "--steps", "2",
                           "--no-progress")
    assert code == 2 and "--positional does not apply to rnnkit train condgen" in err


def test_learned_positions_reach_the_transformer_seq2seq(capsys, tmp_path):
    pairs = tmp_path / "reverse.tsv"
    words = [a + b + c for a in "abc" for b in "abc" for c in "abc"]
    pairs.write_text("".join(f"{w}\t{w[::-1]}\n" for w in words), encoding="utf-8")
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "--task", "seq2seq", "--cell", "transformer",
                           "--positional", "learned", "--data", str(pairs), "--out", str(run),
                           "--hidden", "8", "--embed", "8", "--steps", "2", "--no-progress")
    assert code == 0, err
    saved = json.loads((run / "config.json").read_text(encoding="utf-8"))
    assert saved["model"]["positional"] == "learned"
    code, out, err = run_cli(capsys, "predict", str(run), "abc")
    assert code == 0, err
