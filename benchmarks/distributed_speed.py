"""Data-parallel speed on one machine: the main job trained for a few hundred steps as 1 process
x 2 threads and as 2 processes x 1 thread (torchrun, gloo), and the share of a step that the
gradient all-reduce takes. Not a test.

    python benchmarks/distributed_speed.py [--steps 200] [--repeats 2]

Tokens/s come from each run's own metrics (the steps after the first log line, so start-up is
left out). The all-reduce share is the time of one gloo all-reduce of the model's gradient size
between 2 processes, over the 2-process step time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

FLAGS = ["train", "--no-progress", "--eval-every", "0", "--checkpoint-every", "100000"]


def tokens_per_s(run: Path) -> float:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r.get("kind") == "train"][1:]
    return sum(r["tokens_per_s"] for r in train) / len(train)


def run_job(out: Path, steps: int, procs: int) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": str(2 // procs), "OMP_WAIT_POLICY": "PASSIVE"}
    command = [sys.executable, "-m", "rnnkit", *FLAGS, "--steps", str(steps), "--out", str(out)]
    if procs > 1:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   f"--nproc_per_node={procs}", "-m", "rnnkit", *command[3:]]
    subprocess.run(command, check=True, env=env, capture_output=True)
    # each process logs its own tokens: the total is procs x what process 0 saw
    return tokens_per_s(out) * procs


def _allreduce(rank: int, numel: int, port: int, out) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    x = torch.randn(numel)
    for _ in range(3):
        dist.all_reduce(x)
    start = time.perf_counter()
    for _ in range(20):
        dist.all_reduce(x)
    if rank == 0:
        out.put((time.perf_counter() - start) / 20)
    dist.destroy_process_group()


def allreduce_seconds(numel: int) -> float:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    port = 29500 + os.getpid() % 1000
    procs = [ctx.Process(target=_allreduce, args=(r, numel, port, queue)) for r in range(2)]
    for p in procs:
        p.start()
    seconds = queue.get(timeout=120)
    for p in procs:
        p.join()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    results = {"1x2": [], "2x1": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):                  # interleaved: the machine is shared
            for procs, name in ((1, "1x2"), (2, "2x1")):
                results[name].append(run_job(Path(tmp) / f"{name}-{i}", args.steps, procs))
        from rnnkit.tasks import load
        model, _ = load(Path(tmp) / "1x2-0")
    numel = sum(p.numel() for p in model.parameters())
    reduce_s = allreduce_seconds(numel)
    tokens_per_step = 32 * 128
    step_s = tokens_per_step / (sum(results["2x1"]) / len(results["2x1"]))
    print(json.dumps({"tokens_per_s": results, "parameters": numel,
                      "allreduce_ms": 1000 * reduce_s, "step_ms_2x1": 1000 * step_s,
                      "allreduce_share": reduce_s / step_s}, indent=2))


if __name__ == "__main__":
    main()
