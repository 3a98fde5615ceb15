"""Data-parallel training on torchrun (gloo on loopback): W processes with B/W rows each end
with the weights of one process with B rows, and a worker killed mid-run is restarted from the
last checkpoint and ends exactly where an uninterrupted run ends."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rnnkit.data.padded import PaddedBatches
from rnnkit.data.stream import StreamBatcher

from conftest import make_text
from task_fixtures import write_csv

HERE = Path(__file__).parent
TINY = ["--hidden", "16", "--embed", "8", "--layers", "1", "--batch-size", "4",
        "--eval-every", "0", "--no-progress"]


def rnnkit(*argv, nproc=1, driver=None, env=None, restarts=0):
    """Run the rnnkit command in 1 process, or in ``nproc`` under torchrun."""
    command = [sys.executable, "-m", "rnnkit", *argv] if nproc == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={nproc}", f"--max-restarts={restarts}",
        *(["-m", "rnnkit"] if driver is None else [str(driver)]), *argv]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def weights(run):
    return load_file(run / "model.safetensors")


def assert_close(a, b, atol):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=atol, rtol=0, msg=key)


def test_shards_of_a_batch_are_the_batch():
    ids = torch.arange(200)
    whole = next(iter(StreamBatcher(ids, 4, 8)))
    parts = [next(iter(StreamBatcher(ids, 4, 8).shard(r, 2))) for r in range(2)]
    assert torch.equal(torch.cat([p.inputs for p in parts]), whole.inputs)
    inputs = [torch.arange(n) for n in (3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8)]
    one = [b.targets.tolist() for b in PaddedBatches(inputs, list(range(12)), 4, seed=3)]
    two = [PaddedBatches(inputs, list(range(12)), 4, seed=3).shard(r, 2) for r in range(2)]
    joined = [a.targets.tolist() + b.targets.tolist() for a, b in zip(*two)]
    assert joined == one
    with pytest.raises(Exception, match="does not split evenly"):
        StreamBatcher(ids, 3, 8).shard(0, 2)


@pytest.mark.parametrize("task", ["lm", "classify"])
def test_two_processes_end_with_the_weights_of_one(tmp_path, task):
    if task == "lm":
        (tmp_path / "text.txt").write_text(make_text(200), encoding="utf-8")
        data = ["--data", str(tmp_path / "text.txt"), "--seq-len", "16"]
    else:
        data = ["--data", str(write_csv(tmp_path / "reviews.csv", n=48)), "--val-fraction", "0"]
    flags = ["train", task, *data, *TINY, "--steps", "6", "--dropout", "0"]
    rnnkit(*flags, "--out", str(tmp_path / "one"))
    rnnkit(*flags, "--out", str(tmp_path / "two"), nproc=2)
    assert_close(weights(tmp_path / "one"), weights(tmp_path / "two"), atol=1e-5)


def test_a_killed_worker_restarts_from_the_checkpoint_and_finishes_exactly(tmp_path):
    (tmp_path / "text.txt").write_text(make_text(200), encoding="utf-8")
    flags = ["train", "--data", str(tmp_path / "text.txt"), "--seq-len", "16", *TINY,
             "--steps", "8", "--checkpoint-every", "2", "--dropout", "0.2"]
    rnnkit(*flags, "--out", str(tmp_path / "whole"), nproc=2)
    done = rnnkit(*flags, "--out", str(tmp_path / "killed"), nproc=2, restarts=1,
                  driver=HERE / "distributed_kill.py", env={"RNNKIT_TEST_KILL_AT": "5"})
    assert "exitcode: -9" in done.stderr            # the worker did die
    assert_close(weights(tmp_path / "whole"), weights(tmp_path / "killed"), atol=0)
