"""Run folders saved by rnnkit before its recurrent layers took torch.nn's parameter names.

The files in tests/data/main_e45124c were written by main at e45124c (``rnnkit train lm --cell
lstm --layers 2`` on a tiny text, ``rnnkit train classify --cell gru --layers 2``, bidirectional,
on a tiny CSV; a few steps each): their keys are ``rnn.cells.k.w_ih`` and so on. The LM's
expected.json holds the last step's logits main computed for ``tokens``.
"""

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import rnnkit
from rnnkit.errors import RnnkitError
from rnnkit.train.checkpoint import MODEL_FILE

DATA = Path(__file__).parent / "data" / "main_e45124c"


def run_folder(tmp_path, name):
    run = tmp_path / name
    run.mkdir()
    shutil.copy(DATA / f"{name}.safetensors", run / MODEL_FILE)
    return run


def test_an_old_language_model_loads_and_computes_what_it_computed(tmp_path):
    model, _ = rnnkit.load(run_folder(tmp_path, "lm_lstm"))
    expected = json.loads((DATA / "lm_lstm_expected.json").read_text())
    with torch.no_grad():
        logits, _ = model(torch.tensor(expected["tokens"]))
    torch.testing.assert_close(logits[0, -1], torch.tensor(expected["logits"]), atol=1e-5,
                               rtol=1e-5)
    assert "rnn.weight_ih_l1" in model.state_dict()                 # today's names


def test_an_old_bidirectional_classifier_maps_each_cell_to_its_layer_and_direction(tmp_path):
    run = run_folder(tmp_path, "classify_gru")
    model, _ = rnnkit.load(run)
    saved = load_file(run / MODEL_FILE)
    pairs = {"weight_ih_l0": "cells.0.w_ih", "weight_hh_l0_reverse": "cells.1.w_hh",
             "bias_ih_l1": "cells.2.b_ih", "bias_hh_l1_reverse": "cells.3.b_hh"}
    for new, old in pairs.items():
        assert torch.equal(getattr(model.rnn, new), saved[f"rnn.{old}"])


def test_an_old_state_dict_loads_with_load_state_dict(tmp_path):
    model, _ = rnnkit.load(run_folder(tmp_path, "lm_lstm"))
    old = load_file(DATA / "lm_lstm.safetensors")
    for p in model.parameters():
        p.data.zero_()
    model.load_state_dict(old, strict=True)
    assert torch.equal(model.rnn.weight_hh_l1, old["rnn.cells.1.w_hh"])


def test_an_old_file_that_does_not_fit_is_still_refused_in_one_line(tmp_path):
    run = run_folder(tmp_path, "lm_lstm")
    model, _ = rnnkit.load(run)
    saved = load_file(run / MODEL_FILE)
    del saved["rnn.cells.1.b_hh"]
    from safetensors import safe_open
    from safetensors.torch import save_file
    with safe_open(DATA / "lm_lstm.safetensors", framework="pt") as f:
        metadata = f.metadata()
    save_file(saved, run / MODEL_FILE, metadata=metadata)
    with pytest.raises(RnnkitError, match="does not match the model"):
        rnnkit.load(run)
