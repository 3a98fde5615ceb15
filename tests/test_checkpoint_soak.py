"""A real SIGKILL at random moments of a save loop: every run folder it leaves resumes from a
whole checkpoint, and its root weights load for inference."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from torch import nn

from rnnkit.train.checkpoint import (load_checkpoint_meta, load_model_weights, load_resume_point,
                                     load_trainer_state)

SAVER = """
    import random, sys, time
    import torch
    from torch import nn
    import rnnkit.train.checkpoint_folders as folders
    from rnnkit.errors import RnnkitError
    from rnnkit.train.checkpoint import load_resume_point, save_checkpoint

    def model(step):
        torch.manual_seed(step)
        return nn.Sequential(nn.Embedding(50, 16), nn.LSTM(16, 32, batch_first=True))

    def slowly(fn):  # widen every step of a save so the kills land inside saves
        def wrapper(*args, **kwargs):
            time.sleep(random.uniform(0, 0.01))
            return fn(*args, **kwargs)
        return wrapper

    for name in ("create_file", "seal_file", "fsync_dir", "link_root", "prune", "exchange"):
        setattr(folders, name, slowly(getattr(folders, name)))
    run = sys.argv[1]
    try:
        step = load_resume_point(run, model(0))["step"]
    except RnnkitError:
        step = 0
    print("ready", flush=True)
    while True:
        step += random.choice([0, 1])  # sometimes the same step again, like the final save
        state = {"step": step, "data": {"window": step}, "m": torch.full((4,), float(step))}
        save_checkpoint(run, model(step), state, {"step": step})
"""


def _model(step):
    torch.manual_seed(step)
    return nn.Sequential(nn.Embedding(50, 16), nn.LSTM(16, 32, batch_first=True))


def _weights_of(model, step) -> bool:
    return all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 _model(step).state_dict().values()))


@pytest.mark.slow
def test_sigkill_at_random_moments_never_leaves_an_unresumable_folder(tmp_path):
    rng = random.Random(0)
    run = tmp_path / "run"
    steps = []
    for _ in range(24):
        proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(SAVER), str(run)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.8))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        if not (run / "checkpoints").exists():
            continue
        model = _model(1)
        state = load_resume_point(run, model)
        step = state["step"]
        assert _weights_of(model, step) and state["data"]["window"] == step
        assert torch.equal(state["m"], torch.full((4,), float(step)))
        root = load_model_weights(run, _model(1))
        assert _weights_of(root, load_checkpoint_meta(run)["step"])
        try:
            assert load_trainer_state(run)["step"] == load_checkpoint_meta(run)["step"]
        except Exception as e:  # a kill between the swap and the root update: refused, no mix
            assert "come from different saves" in str(e)
        steps.append(step)
    assert len(steps) >= 20 and steps == sorted(steps) and steps[-1] > steps[0]
