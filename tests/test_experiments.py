"""Experiments: the tasks are what they claim, and bad requests get one line through the CLI."""

import json

import pytest
import torch

from rnnkit.experiments import EXPERIMENTS
from rnnkit.experiments.common import Result
from rnnkit.experiments.publish import publish
from rnnkit.experiments.tasks import ANIMAL_FOOD, MemoryTask, TreeOrFruitTask, adding_batch

from conftest import run_cli


def one_line_error(code, err, *needles):
    assert code == 2 and "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_unknown_experiment_lists_the_known_ones(capsys):
    code, _, err = run_cli(capsys, "experiment", "nope")
    one_line_error(code, err, "unknown experiment 'nope'", *EXPERIMENTS)


@pytest.mark.parametrize("name", ["memory", "vanishing", "exploding", "bidirectional",
                                  "streaming"])
def test_a_budget_too_small_to_say_anything_is_refused(capsys, tmp_path, name):
    code, _, err = run_cli(capsys, "experiment", name, "--budget", "3", "--out", str(tmp_path))
    one_line_error(code, err, "too small to say anything")


def test_a_streaming_budget_counts_tokens_not_updates():
    from rnnkit.experiments import streaming
    from rnnkit.experiments.common import parse_budget
    from rnnkit.errors import RnnkitError
    kw = dict(small=streaming.SMALL, full=streaming.FULL, minimum=streaming.MINIMUM,
              experiment="streaming", unit=streaming.UNIT)
    assert parse_budget("5000", **kw).name == "5000 tokens"
    with pytest.raises(RnnkitError) as e:
        parse_budget("500", **kw)
    assert "500 tokens" in str(e.value) and "untrained" not in str(e.value)


def test_a_budget_that_is_not_a_budget_is_refused(capsys, tmp_path):
    code, _, err = run_cli(capsys, "experiment", "memory", "--budget", "huge",
                           "--out", str(tmp_path))
    one_line_error(code, err, "small, full or a number")


def test_a_bidirectional_cell_in_a_causal_model_is_explained(capsys, tmp_path, tiny_text):
    from conftest import TINY_FLAGS
    code, _, err = run_cli(capsys, "train", "--data", str(tiny_text), "--out",
                           str(tmp_path / "run"), *TINY_FLAGS, "--cell", "transformer",
                           "--bidirectional")
    one_line_error(code, err, "causal", "bidirectional")


def test_memory_sentences_put_the_answer_only_in_the_animal():
    task = MemoryTask()
    g = torch.Generator().manual_seed(0)
    batch = task.batch(64, 5, g)
    words = {i: w for w, i in task.vocab.items()}
    for row, label in zip(batch.inputs.tolist(), batch.targets.tolist()):
        sentence = [words[i] for i in row]
        assert len(sentence) == 5 + 10 and sentence[-1] == "yemek"
        assert task.foods[label] == ANIMAL_FOOD[sentence[2]]
        assert sentence[0] == sentence[-5]                       # "Tom ... Tom'un"


def test_adding_problem_targets_are_the_two_marked_values():
    batch = adding_batch(16, 20, torch.Generator().manual_seed(0))
    x = batch.inputs
    assert (x[..., 1].sum(1) == 2).all()
    assert (x[:, :10, 1].sum(1) == 1).all()
    torch.testing.assert_close(batch.targets[:, 0], (x[..., 0] * x[..., 1]).sum(1))


def test_tree_or_fruit_tag_is_decided_by_the_last_word():
    task = TreeOrFruitTask(middle=3)
    batch = task.batch(32, torch.Generator().manual_seed(0))
    words = {i: w for w, i in task.vocab.items()}
    for row, tags in zip(batch.inputs.tolist(), batch.targets.tolist()):
        last = words[row[-1]]
        assert tags[0] == (1 if last.endswith(("uzundur", "yeşildir", "yaşlıdır",
                                               "gölgelidir")) else 2)
        assert tags[1:] == [0] * 4


def test_publish_merges_one_object_per_experiment(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"png")
    docs = tmp_path / "docs"
    for value in (1.0, 2.0):
        publish(Result("memory", "rnnkit experiment memory", "small", ["cell", "acc"],
                       [["lstm", value]], ["found"], ["a.png"]), out, docs)
    entries = json.loads((docs / "experiments.json").read_text())
    assert [e["name"] for e in entries] == ["memory"]
    assert entries[0]["table"] == [{"cell": "lstm", "acc": 2.0}]
    assert "| lstm | 2 |" in (docs / "experiments.md").read_text()
    assert (docs / "img" / "a.png").is_file()
