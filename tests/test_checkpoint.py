import pytest
import torch
from safetensors import safe_open
from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.train.checkpoint import (
    load_checkpoint_meta,
    load_model_weights,
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
    with safe_open(tmp_path / "model.safetensors", framework="pt") as f:
        assert f.metadata()["format"] == "rnnkit" and f.metadata()["step"] == "7"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors", "trainer.pt"]


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
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(RnnkitError, match="is truncated or corrupt") as e:
        load_model_weights(tmp_path, Tiny())
    assert "\n" not in str(e.value)


def test_garbage_weights_file(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(RnnkitError, match="is truncated or corrupt"):
        load_model_weights(tmp_path, Tiny())


def test_different_size_model_names_the_shape(tmp_path):
    _save(tmp_path, Tiny(hidden=4))
    with pytest.raises(RnnkitError, match=r"shape of 'embed.weight' is \(5, 4\) in the checkpoint "
                                          r"but \(5, 8\) in the model"):
        load_model_weights(tmp_path, Tiny(hidden=8))


def test_different_architecture_names_the_keys(tmp_path):
    _save(tmp_path, Tiny())
    other = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(RnnkitError, match=r"checkpoint does not match the model: missing keys "
                                          r"\['0.bias', '0.weight'\], unexpected \['embed.weight'"):
        load_model_weights(tmp_path, other)


def test_missing_trainer_state(tmp_path):
    with pytest.raises(RnnkitError, match="has no trainer.pt"):
        load_trainer_state(tmp_path)


@pytest.mark.parametrize("cut", [0, 10, 0.5], ids=["empty", "head", "half"])
def test_truncated_trainer_state(tmp_path, cut):
    _save(tmp_path, Tiny())
    path = tmp_path / "trainer.pt"
    data = path.read_bytes()
    path.write_bytes(data[: int(cut * len(data)) if isinstance(cut, float) else cut])
    with pytest.raises(RnnkitError, match="trainer.pt' is truncated or corrupt") as e:
        load_trainer_state(tmp_path)
    assert "\n" not in str(e.value)


def test_weights_and_trainer_state_from_different_saves_are_refused(tmp_path):
    _save(tmp_path, Tiny(), step=10)
    old = (tmp_path / "model.safetensors").read_bytes()
    _save(tmp_path, Tiny(), step=20)
    (tmp_path / "model.safetensors").write_bytes(old)  # as if the second save died in between
    with pytest.raises(RnnkitError, match="weights from step 10 but trainer state from step 20"):
        load_trainer_state(tmp_path)


def test_meta_that_is_not_json_writes_nothing(tmp_path):
    with pytest.raises(TypeError):
        _save(tmp_path, Tiny(), meta={"x": object()})
    assert list(tmp_path.iterdir()) == []
