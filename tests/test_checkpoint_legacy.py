"""Nothing in a run folder is ever unpickled: a planted trainer.pt cannot run code on resume,
and a run folder of an older version (trainer.pt) is refused for resume in one line but still
loads for inference."""

import shutil

import pytest
import torch
from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.tasks import load
from rnnkit.train.checkpoint import load_resume_point, load_trainer_state, save_checkpoint

from conftest import run_cli
from test_cli import assert_one_line_error


class Planted:
    """Unpickling this calls open(marker, "w"): the marker file appears if anything unpickles."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _plant(run, marker):
    torch.save({"step": 6, "optimizer": Planted(marker)}, run / "trainer.pt")


def test_a_planted_trainer_pt_is_never_unpickled(tmp_path):
    model = nn.Linear(2, 2)
    save_checkpoint(tmp_path, model, {"step": 6}, {})
    shutil.rmtree(tmp_path / "checkpoints")
    marker = tmp_path / "pwned"
    _plant(tmp_path, marker)
    for resume in (load_trainer_state, lambda run: load_resume_point(run, nn.Linear(2, 2))):
        with pytest.raises(RnnkitError) as e:
            resume(tmp_path)
        assert str(e.value) == (
            f"run folder '{tmp_path}' was saved by an older rnnkit version and cannot be "
            "resumed: its trainer.pt is a pickle, which is never loaded for safety (its "
            "model.safetensors still loads for inference)")
    assert not marker.exists()


def test_a_planted_trainer_pt_beside_checkpoints_is_ignored(tmp_path):
    save_checkpoint(tmp_path, nn.Linear(2, 2), {"step": 6}, {})
    _plant(tmp_path, tmp_path / "pwned")
    assert load_resume_point(tmp_path, nn.Linear(2, 2))["step"] == 6
    assert not (tmp_path / "pwned").exists()


def test_an_old_run_folder_is_refused_for_resume_but_loads_for_inference(capsys, tiny_run,
                                                                         tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    shutil.rmtree(run / "checkpoints")
    marker = tmp_path / "pwned"
    _plant(run, marker)
    code, _, err = run_cli(capsys, "train", "--resume", str(run), "--steps", "8", "--no-progress")
    assert_one_line_error(code, err, "saved by an older rnnkit version", "never loaded for safety")
    assert not marker.exists()
    model, tokenizer = load(run)
    assert tokenizer.vocab_size == model.config.vocab_size
