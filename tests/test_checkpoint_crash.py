"""A save cut at any point leaves a run folder that resumes from a whole checkpoint (the new one
or the one before, never a mix) and whose root weights still load for inference."""

import os
import shutil
import time

import pytest
import torch
from torch import nn

import rnnkit.data.atomic as atomic
import rnnkit.train.checkpoint_folders as folders
from rnnkit.errors import RnnkitError
from rnnkit.train.checkpoint import (load_checkpoint_meta, load_model_weights, load_resume_point,
                                     load_trainer_state, save_checkpoint)


class Crash(BaseException):
    """Stands in for SIGKILL or a full disk: nothing after it runs, no handler catches it."""


def _model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Embedding(5, 4), nn.GRU(4, 4, batch_first=True))


def _save(run, step):
    model = _model(step)
    state = {"step": step, "optimizer": {"m": torch.full((3,), float(step))},
             "data": {"window": step}}
    save_checkpoint(run, model, state, {"step": step})
    return model


def _weights_step(model) -> int:
    """Which save's weights ``model`` holds (each step saves the weights of _model(step))."""
    for step in (10, 20):
        if all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 _model(step).state_dict().values())):
            return step
    raise AssertionError("the weights are from no save")


def _call_points():
    """Every file-system step of a save, as (module, name) of the function doing it."""
    return [(folders, "create_file"), (folders, "seal_file"), (folders, "fsync_dir"),
            (folders.os, "rename"), (folders, "_move_aside"), (folders, "link_root"),
            (folders.os, "link"), (folders.os, "replace"), (folders, "prune"),
            (folders, "_delete"), (folders, "remove_stale_temps"), (folders, "new_temp_dir"),
            (folders, "exchange")]


def _crash_at(monkeypatch, module, name, nth, run, snapshot):
    """Make the ``nth`` call of ``module.name`` raise Crash (earlier calls run normally),
    first copying ``run`` to ``snapshot``: what a SIGKILL at that moment leaves on disk, where
    no cleanup handler runs."""
    real = getattr(module, name)
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == nth:
            shutil.copytree(run, snapshot, symlinks=True)
            raise Crash(f"{name} #{nth}")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def _check_consistent(run):
    model = _model(0)
    state = load_resume_point(run, model)
    assert state["step"] in (10, 20)
    assert _weights_step(model) == state["step"] == state["data"]["window"]  # never a mix
    assert torch.equal(state["optimizer"]["m"], torch.full((3,), float(state["step"])))
    root = load_model_weights(run, _model(0))  # inference still loads
    assert _weights_step(root) == load_checkpoint_meta(run)["step"]
    try:  # the older two-call API refuses, never mixes, when the root is a save behind
        assert load_trainer_state(run)["step"] == _weights_step(root)
    except RnnkitError as e:
        assert "come from different saves" in str(e)
    return state["step"]


@pytest.mark.parametrize("repeat", [False, True], ids=["new-step", "same-step-again"])
def test_a_save_cut_at_any_point_resumes_from_a_whole_checkpoint(tmp_path, monkeypatch,
                                                                 repeat, capsys):
    outcomes, cut = set(), set()
    for module, name in _call_points():
        for nth in range(1, 8):
            run, killed = tmp_path / f"{name}-{nth}", tmp_path / f"{name}-{nth}-killed"
            _save(run, 10)
            if repeat:
                _save(run, 20)
            with monkeypatch.context() as patch:
                calls = _crash_at(patch, module, name, nth, run, killed)
                try:
                    _save(run, 20)
                except Crash:
                    pass
            if calls["n"] < nth:
                break  # the save calls `name` fewer than nth times: every point was cut
            cut.add(name)
            for folder in (run, killed):  # after the exception's cleanup, and as killed
                outcomes.add(_check_consistent(folder))
                _save(folder, 30)  # and the next save works
                assert _check_consistent_after(folder) == 30
    every = {"create_file", "seal_file", "fsync_dir", "link_root", "link", "replace", "prune",
             "remove_stale_temps", "new_temp_dir"}
    assert cut == every | ({"exchange", "_delete"} if repeat else {"rename"})
    assert outcomes == ({20} if repeat else {10, 20})
    capsys.readouterr()


def _check_consistent_after(run) -> int:
    state = load_resume_point(run, _model(0))
    assert load_trainer_state(run)["step"] == state["step"]
    return state["step"]


def test_after_a_killed_save_the_next_save_cleans_up_and_works(tmp_path, monkeypatch):
    run, killed = tmp_path / "run", tmp_path / "killed"
    _save(run, 10)
    with monkeypatch.context() as patch:
        _crash_at(patch, folders.os, "rename", 1, run, killed)  # just before the rename
        with pytest.raises(Crash):
            _save(run, 20)
    run = killed
    leftovers = [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".step-00000020.tmp-")
    (run / ".model.safetensors.abcd1234.tmp").write_bytes(b"old atomic_write leftover")
    (run / ".tmpAbC123").write_bytes(b"safetensors leftover")
    (run / ".config.json.tmp-0123abcd").write_bytes(b"a live writer's temporary")
    old = time.time() - 2 * atomic.STALE_AFTER_S
    for path in [*leftovers, *leftovers[0].iterdir(), run / ".model.safetensors.abcd1234.tmp",
                 run / ".tmpAbC123"]:
        os.utime(path, (old, old))
    assert load_resume_point(run, _model(0))["step"] == 10
    _save(run, 20)
    assert sorted(p.name for p in run.iterdir()) == [
        ".config.json.tmp-0123abcd", "checkpoints", "model.safetensors"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "step-00000010", "step-00000020"]


@pytest.mark.parametrize("damage", ["delete", "truncate"])
@pytest.mark.parametrize("name", ["model.safetensors", "trainer.safetensors", "trainer.json"])
def test_a_torn_newest_checkpoint_falls_back_with_one_warning(tmp_path, capsys, damage, name):
    run = tmp_path / "run"
    _save(run, 10)
    _save(run, 20)
    path = run / "checkpoints" / "step-00000020" / name
    if damage == "delete":
        path.unlink()
    else:
        data = path.read_bytes()
        path.unlink()
        path.write_bytes(data[: len(data) // 2])
    model = _model(0)
    assert load_resume_point(run, model)["step"] == 10 and _weights_step(model) == 10
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        f"rnnkit: warning: skipped the unusable checkpoint step-00000020 (")
    assert "resuming from step-00000010" in err


def test_a_planted_symlink_or_fifo_in_a_checkpoint_is_unusable_not_a_hang(tmp_path, capsys):
    run = tmp_path / "run"
    _save(run, 10)
    _save(run, 20)
    folder = run / "checkpoints" / "step-00000020"
    (folder / "trainer.json").unlink()
    os.mkfifo(folder / "trainer.json")
    assert load_resume_point(run, _model(0))["step"] == 10
    assert "FIFO" in capsys.readouterr().err


def test_hard_links_unavailable_falls_back_to_a_copy(tmp_path, monkeypatch):
    def no_link(src, dst):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(folders.os, "link", no_link)
    run = tmp_path / "run"
    _save(run, 10)
    root = run / "model.safetensors"
    assert root.stat().st_nlink == 1 and oct(root.stat().st_mode & 0o777) == oct(
        0o666 & ~_umask())
    assert _weights_step(load_model_weights(run, _model(0))) == 10
    shutil.rmtree(run / "checkpoints")
    assert _weights_step(load_model_weights(run, _model(0))) == 10


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
