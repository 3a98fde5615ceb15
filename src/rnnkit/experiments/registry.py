"""Experiments by name, each with its budget sizes: ``run_experiment(name, budget, out_dir)``."""

from __future__ import annotations

import importlib
import time
from pathlib import Path

import torch

from rnnkit.errors import RnnkitError
from rnnkit.experiments.common import Result, parse_budget, write_result

# name -> (module, one-line description); each module has run(), SMALL, FULL, MINIMUM and
# may set UNIT (what a numeric budget counts, default updates) and THREADS (default 1)
EXPERIMENTS = {
    "memory": ("memory", "accuracy against distance on 'Tom bir kedidir ... en sevdiği yemek'"),
    "vanishing": ("vanishing", "adding problem at T = 50..1000: who reaches MSE < 0.01"),
    "exploding": ("exploding", "Elman RNN with spectral radius > 1, with and without clipping"),
    "bidirectional": ("bidirectional", "tagging 'Elma ... uzundur': uni- vs bidirectional"),
    "speed": ("speed", "training tokens/s against sequence length"),
    "streaming": ("streaming", "memory and time per token generating with a state vs KV cache"),
}


def run_experiment(name: str, budget: str, out_dir: str | Path, *, command: str = "") -> Result:
    """Run experiment ``name`` with ``budget`` into ``out_dir`` (report.md, result.json, PNGs)."""
    if name not in EXPERIMENTS:
        raise RnnkitError(f"unknown experiment {name!r}; the experiments are "
                          f"{', '.join(EXPERIMENTS)}")
    module = importlib.import_module(f"rnnkit.experiments.{EXPERIMENTS[name][0]}")
    parsed = parse_budget(budget, small=module.SMALL, full=module.FULL, minimum=module.MINIMUM,
                          experiment=name, unit=getattr(module, "UNIT", "updates"))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    # the machine is shared: one thread per experiment, unless it needs more (speed: 2)
    torch.set_num_threads(getattr(module, "THREADS", 1))
    try:
        start = time.perf_counter()
        result = module.run(parsed, out_dir,
                            command or f"rnnkit experiment {name} --budget {budget}")
        result.seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    write_result(result, out_dir)
    return result
