import json
import os
import shutil

import pytest
import torch
from safetensors import safe_open
from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.train.checkpoint import (
    clear_checkpoints,
    load_checkpoint_meta,
    load_model_weights,
    load_resume_point,
    load_trainer_state,
    params_finite,
    save_checkpoint,
)


class Tiny(nn.Module):
    def __init__(self, hidden: int = 4, tied: bool = False) -> None:
        super().__init__()
        self.embed = nn.Embedding(5, hidden)
        self.rnn = nn.GRU(hidden, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 5)
        if tied:
            self.head.weight = self.embed.weight


def _save(run_dir, model, step=3, meta=None):
    state = {"step": step, "optimizer": {"x": torch.randn(3)}, "data": {"window": 2}}
    return save_checkpoint(run_dir, model, state, meta if meta is not None else {"vocab": ["a"]})


def _step(run_dir, step):
    return run_dir / "checkpoints" / f"step-{step:08d}"


def test_round_trip_restores_weights_meta_and_trainer_state(tmp_path):
    torch.manual_seed(0)
    saved = Tiny()
    _save(tmp_path, saved, step=7, meta={"model": {"hidden": 4}, "chars": ["ı", "ş"]})
    torch.manual_seed(1)
    loaded = load_model_weights(tmp_path, Tiny())
    for (name, a), b in zip(saved.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name
    assert load_checkpoint_meta(tmp_path) == {"model": {"hidden": 4}, "chars": ["ı", "ş"]}
    assert load_trainer_state(tmp_path)["data"] == {"window": 2}
    resumed = Tiny()
    assert load_resume_point(tmp_path, resumed)["data"] == {"window": 2}
    for (name, a), b in zip(saved.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    with safe_open(tmp_path / "model.safetensors", framework="pt") as f:
        assert f.metadata()["format"] == "rnnkit" and f.metadata()["step"] == "7"


def test_layout_is_one_folder_per_step_and_the_root_weights(tmp_path):
    _save(tmp_path, Tiny(), step=50)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints", "model.safetensors"]
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-00000050"]
    assert sorted(p.name for p in _step(tmp_path, 50).iterdir()) == [
        "model.safetensors", "trainer.json", "trainer.safetensors"]
    assert (tmp_path / "model.safetensors").read_bytes() == \
        (_step(tmp_path, 50) / "model.safetensors").read_bytes()


def test_every_file_gets_open_s_mode_under_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        _save(tmp_path, Tiny())
    finally:
        os.umask(old)
    files = [tmp_path / "model.safetensors", *_step(tmp_path, 3).iterdir()]
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {"0o644"}


def test_keeps_the_last_two_checkpoints(tmp_path):
    model = Tiny()
    for step in (10, 20, 30, 30, 40):  # the final save repeats the last periodic one
        _save(tmp_path, model, step=step)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "step-00000030", "step-00000040"]
    assert load_trainer_state(tmp_path)["step"] == 40


def test_a_save_after_resuming_from_an_older_step_drops_the_abandoned_newer_ones(tmp_path):
    model = Tiny()
    for step in (10, 20, 30):
        _save(tmp_path, model, step=step)
    _save(tmp_path, model, step=25)   # the run went on from step 20
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "step-00000020", "step-00000025"]
    assert load_resume_point(tmp_path, Tiny())["step"] == 25


def test_tied_weights_save_and_load(tmp_path):
    model = Tiny(tied=True)
    _save(tmp_path, model)
    fresh = load_model_weights(tmp_path, Tiny(tied=True))
    assert torch.equal(fresh.head.weight, model.embed.weight)


def test_refuses_to_save_non_finite_weights(tmp_path):
    model = Tiny()
    assert params_finite(model)
    with torch.no_grad():
        model.head.bias[0] = float("nan")
    assert not params_finite(model)
    with pytest.raises(RnnkitError, match="NaN or Inf"):
        _save(tmp_path, model)
    assert list(tmp_path.iterdir()) == []


def test_missing_weights_file(tmp_path):
    with pytest.raises(RnnkitError, match=r"run folder '.*' has no model.safetensors"):
        load_model_weights(tmp_path, Tiny())


def test_truncated_weights_file(tmp_path):
    _save(tmp_path, Tiny())
    path = tmp_path / "model.safetensors"
    data = path.read_bytes()
    path.unlink()  # a hard link to the checkpoint's copy: replace it, do not write through it
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(RnnkitError, match="is truncated or corrupt") as e:
        load_model_weights(tmp_path, Tiny())
    assert "\n" not in str(e.value)


def test_garbage_weights_file(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(RnnkitError, match="is truncated or corrupt"):
        load_model_weights(tmp_path, Tiny())


def test_a_fifo_as_weights_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "model.safetensors")
    with pytest.raises(RnnkitError, match="is a FIFO"):
        load_model_weights(tmp_path, Tiny())


def test_different_size_model_names_the_shape(tmp_path):
    _save(tmp_path, Tiny(hidden=4))
    message = r"shape of 'embed.weight' is \(5, 4\) in the checkpoint but \(5, 8\) in the model"
    with pytest.raises(RnnkitError, match=message):
        load_model_weights(tmp_path, Tiny(hidden=8))
    with pytest.raises(RnnkitError, match=message):  # not a damaged checkpoint: no fallback
        load_resume_point(tmp_path, Tiny(hidden=8))


def test_different_architecture_names_the_keys(tmp_path):
    _save(tmp_path, Tiny())
    other = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(RnnkitError, match=r"checkpoint does not match the model: missing keys "
                                          r"\['0.bias', '0.weight'\], unexpected \['embed.weight'"):
        load_model_weights(tmp_path, other)


def test_nothing_to_resume(tmp_path):
    for load in (load_trainer_state, lambda run: load_resume_point(run, Tiny())):
        with pytest.raises(RnnkitError, match="has no checkpoint, so it cannot be resumed"):
            load(tmp_path)


@pytest.mark.parametrize("cut", [0, 10, 0.5], ids=["empty", "head", "half"])
@pytest.mark.parametrize("name", ["trainer.json", "trainer.safetensors", "model.safetensors"])
def test_a_damaged_only_checkpoint_cannot_be_resumed(tmp_path, cut, name):
    _save(tmp_path, Tiny())
    path = _step(tmp_path, 3) / name
    data = path.read_bytes()
    path.unlink()
    path.write_bytes(data[: int(cut * len(data)) if isinstance(cut, float) else cut])
    with pytest.raises(RnnkitError, match="cannot be resumed: none of its checkpoints is usable "
                                          r"\(newest: step-00000003") as e:
        load_resume_point(tmp_path, Tiny())
    assert "\n" not in str(e.value)


def test_files_of_two_saves_in_one_folder_are_refused(tmp_path, capsys):
    model = Tiny()
    _save(tmp_path, model, step=10)
    _save(tmp_path, model, step=20)
    shutil.copy(_step(tmp_path, 10) / "trainer.json", _step(tmp_path, 20) / "trainer.json")
    assert load_resume_point(tmp_path, Tiny())["step"] == 10
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("rnnkit: warning: skipped the unusable checkpoint step-00000020 (its "
                          "files come from different saves)")
    with pytest.raises(RnnkitError, match="step-00000020 is unusable"):
        load_trainer_state(tmp_path)  # the weights at the root are step 20's


def test_meta_that_is_not_json_writes_nothing(tmp_path):
    with pytest.raises(TypeError):
        _save(tmp_path, Tiny(), meta={"x": object()})
    assert list(tmp_path.iterdir()) == []


def test_a_trainer_state_that_cannot_be_stored_writes_nothing(tmp_path):
    with pytest.raises(TypeError, match="cannot save a builtin_function_or_method at 'hook'"):
        save_checkpoint(tmp_path, Tiny(), {"step": 1, "hook": print}, {})
    assert list(tmp_path.iterdir()) == []


def test_trainer_json_is_plain_readable_json(tmp_path):
    _save(tmp_path, Tiny(), step=5)
    doc = json.loads((_step(tmp_path, 5) / "trainer.json").read_text())
    assert doc["step"] == 5 and doc["state"]["data"] == {"window": 2}
    assert doc["state"]["optimizer"]["x"] == {"$tensor": "optimizer/x"}


def test_clear_checkpoints_leaves_nothing_to_resume_or_load(tmp_path):
    _save(tmp_path, Tiny(), step=5)
    for name in ("metrics.jsonl", "gradient_flow.jsonl", "config.json", "trainer.pt"):
        (tmp_path / name).write_text("{}\n")
    clear_checkpoints(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]
    with pytest.raises(RnnkitError, match="cannot be resumed"):
        load_resume_point(tmp_path, Tiny())
    clear_checkpoints(tmp_path / "missing")  # nothing to clear is fine
