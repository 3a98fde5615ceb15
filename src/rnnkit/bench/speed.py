"""rnnkit layers against torch.nn in one process: training and inference throughput.

Not a test: timings depend on the machine and its load. Both variants hold the same weights and
run interleaved, paired repeat by repeat (:mod:`rnnkit.bench.measure` has the method and the
``peak_fraction`` FLOP count); the table reports medians. Training is forward + backward of the
sum of the outputs; inference is the forward under ``torch.no_grad``. The rnnkit layer runs
``path="auto"`` (see :func:`rnnkit.nn.auto_path`).

``--json OUT`` writes a list with one object per row: ``cell``, ``config``, ``mode`` (train or
infer), ``rnnkit_tokens_per_s``, ``reference``, ``reference_tokens_per_s``, ``ratio`` (reference
time over rnnkit time: above 1 is faster), ``peak_fraction``, plus ``path`` and ``machine``.

The ``streaming`` row times :class:`rnnkit.nn.Streamer.step` against ``torch.nn.LSTM`` called with
T=1 and its state carried, per step, and records the resident memory the process gained over
``--stream-steps`` Streamer steps.

``--cells`` may also name ``ln_lstm``: the layer-normalised LSTM on rnnkit's explicit path
(:mod:`rnnkit.nn.fast.explicit_lstm`) against ``torch.nn.LSTM`` without layer norm (the speed
bar: the same recurrent FLOPs, no normalisation) and against rnnkit's reference loop with layer
norm (:mod:`rnnkit.bench.extra`). ``--keras`` adds Keras 3's LSTM and GRU on its torch backend
(``pip install keras``; optional, never a dependency of rnnkit).

Usage (``rnnkit bench`` takes the same options)::

    python benchmarks/speed.py [--quick] [--cells gru,rnn_tanh,lstm,ln_lstm] [--keras]
                               [--json OUT] [--repeats N] [--threads N] [--stream-steps N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

import rnnkit.nn as rn
from rnnkit.bench.measure import (CONFIGS, GATES, QUICK_CONFIGS, SQUARES, STREAM_CONFIG,
                                  BenchConfig, calls_per_round, forward_flops, machine,
                                  matmul_peak, paired_times, resident_bytes, workload_shapes)
from rnnkit.errors import RnnkitError
from rnnkit.nn.fast import native


# -- the rows ------------------------------------------------------------------------------------
def torch_module(cell: str, config: BenchConfig) -> nn.RNNBase:
    kwargs = dict(num_layers=config.layers, batch_first=True)
    if cell == "lstm":
        return nn.LSTM(config.inputs, config.hidden, **kwargs)
    if cell == "gru":
        return nn.GRU(config.inputs, config.hidden, **kwargs)
    return nn.RNN(config.inputs, config.hidden, nonlinearity=cell.removeprefix("rnn_"), **kwargs)


def layer_rows(cell: str, config: BenchConfig, repeats: int, peak: float) -> list[dict]:
    """The train and infer rows of one cell and config: rnnkit (``path="auto"``) against the
    ``torch.nn`` module whose weights it holds."""
    reference = torch_module(cell, config)
    mine = rn.from_torch(reference)
    return compare(cell, config, mine, reference, f"torch.nn.{type(reference).__name__}",
                   repeats, peak)


def path_label(cell: str, path: str) -> str:
    """The path as the table shows it: the GRU's explicit path says whether its time loops ran
    compiled (:mod:`rnnkit.nn.fast.native`) or in Python."""
    if cell != "gru" or path != "explicit":
        return path
    return "explicit, compiled" if native.gru_loops() is not None else "explicit, Python"


def compare(cell: str, config: BenchConfig, mine: nn.Module, reference: nn.Module,
            reference_name: str, repeats: int, peak: float, *,
            modes: tuple[str, ...] = ("train", "infer"), path: str | None = None,
            device: torch.device | None = None) -> list[dict]:
    """Rows timing ``mine`` against ``reference`` on one input, both called as
    ``module(x) -> (output, state)``, interleaved; ``path`` defaults to ``mine.path``."""
    x = torch.randn(config.batch, config.steps, config.inputs, device=device)

    def train(module):
        def run():
            module.zero_grad(set_to_none=True)
            output, _ = module(x)
            output.sum().backward()
        return run

    def infer(module):
        def run():
            with torch.no_grad():
                module(x)
        return run

    rows = []
    for mode in modes:
        make, factor = (train, 3.0) if mode == "train" else (infer, 1.0)
        run_ref, run_mine = make(reference), make(mine)
        inner = min(calls_per_round(run_ref), calls_per_round(run_mine))
        t_ref, t_mine = paired_times(run_ref, run_mine, repeats, inner)
        tokens = config.batch * config.steps
        mine_s, ref_s = statistics.median(t_mine), statistics.median(t_ref)
        with torch.set_grad_enabled(mode == "train"):
            row_path = path or path_label(cell, mine.path)   # "auto" resolves per grad mode
        rows.append({
            "cell": cell, "config": config.name, "mode": mode, "path": row_path,
            "rnnkit_tokens_per_s": tokens / mine_s,
            "reference": reference_name,
            "reference_tokens_per_s": tokens / ref_s,
            "ratio": statistics.median(r / m for r, m in zip(t_ref, t_mine)),
            "peak_fraction": factor * forward_flops(cell, config) / mine_s / peak,
        })
    return rows


def streaming_row(config: BenchConfig, repeats: int, steps: int, peak: float) -> dict:
    """Streamer.step against torch.nn.LSTM with T=1, per step; memory over ``steps`` steps."""
    reference = nn.LSTM(config.inputs, config.hidden, num_layers=config.layers, batch_first=True)
    layer = rn.from_torch(reference)
    stream = rn.Streamer(layer, config.batch)
    x_t = torch.randn(config.batch, config.inputs)
    x_seq = x_t[:, None]                                              # (B, 1, I)
    state = [None]

    def run_ref():
        with torch.inference_mode():
            _, state[0] = reference(x_seq, state[0])

    def run_mine():
        stream.step(x_t)

    inner = min(calls_per_round(run_ref), calls_per_round(run_mine))
    t_ref, t_mine = paired_times(run_ref, run_mine, repeats, inner)
    mine_s, ref_s = statistics.median(t_mine), statistics.median(t_ref)

    before = resident_bytes()
    start = time.perf_counter()
    for _ in range(steps):
        stream.step(x_t)
    elapsed = time.perf_counter() - start
    after = resident_bytes()
    return {
        "cell": "lstm", "config": f"streaming {config.name}", "mode": "infer",
        "path": "Streamer.step",
        "rnnkit_tokens_per_s": config.batch / mine_s,
        "reference": "torch.nn.LSTM, T=1 per call",
        "reference_tokens_per_s": config.batch / ref_s,
        "ratio": statistics.median(r / m for r, m in zip(t_ref, t_mine)),
        "peak_fraction": forward_flops("lstm", config) / mine_s / peak,
        "us_per_step": 1e6 * mine_s, "reference_us_per_step": 1e6 * ref_s,
        "memory_steps": steps, "memory_seconds": elapsed,
        "resident_growth_bytes": None if before is None else after - before,
    }


# -- report --------------------------------------------------------------------------------------
TABLE_HEAD = ("| cell | config | mode | rnnkit path | rnnkit tok/s | reference | reference tok/s "
              "| ratio | peak fraction |\n|---|---|---|---|---:|---|---:|---:|---:|")


def format_row(r: dict) -> str:
    return (f"| {r['cell']} | {r['config']} | {r['mode']} | {r['path']} "
            f"| {r['rnnkit_tokens_per_s']:,.0f} | {r['reference']} "
            f"| {r['reference_tokens_per_s']:,.0f} | {r['ratio']:.2f} | {r['peak_fraction']:.3f} |")


def run(cells: list[str], configs, repeats: int, stream_steps: int | None, *,
        keras: bool = False) -> list[dict]:
    """Every row, each with the machine's details; no streaming row if ``stream_steps`` is None;
    Keras rows with ``keras``."""
    from rnnkit.bench import extra
    peak = matmul_peak(SQUARES + tuple(workload_shapes(configs, cells)))
    info = {**machine(), "matmul_peak_gflops": round(peak / 1e9, 1), "repeats": repeats}
    rows = []
    for config in configs:
        for cell in cells:
            rows_of = extra.ln_lstm_rows if cell == "ln_lstm" else layer_rows
            for row in rows_of(cell, config, repeats, peak):
                rows.append({**row, "machine": info})
                print(format_row(row), file=sys.stderr, flush=True)
        if keras:
            for row in extra.keras_rows(config, repeats, peak):
                rows.append({**row, "machine": info})
                print(format_row(row), file=sys.stderr, flush=True)
    if stream_steps is not None:
        row = streaming_row(STREAM_CONFIG, max(3 * repeats, 11), stream_steps, peak)
        rows.append({**row, "machine": info})
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``benchmarks/speed.py`` and ``rnnkit bench``."""
    parser.add_argument("--quick", action="store_true",
                        help="3 repeats and the three smaller configs: a smoke run")
    parser.add_argument("--cells", default="gru,rnn_tanh,lstm",
                        help="comma-separated: lstm, gru, rnn_tanh, rnn_relu, ln_lstm")
    parser.add_argument("--keras", action="store_true",
                        help="add Keras 3 LSTM/GRU rows (torch backend; needs keras installed)")
    parser.add_argument("--json", type=Path, help="write the rows to this file")
    parser.add_argument("--repeats", type=int, help="paired repeats (default 7, quick 3)")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads")
    parser.add_argument("--all-configs", action="store_true",
                        help="with --quick, keep the largest config too")
    parser.add_argument("--stream-steps", type=int,
                        help="Streamer steps for the memory figure (default 1e6, quick 1e5; "
                             "0: no streaming row)")


def run_from_args(args: argparse.Namespace) -> list[dict]:
    """Run what ``args`` asks, print the table, write ``--json``; returns the rows."""
    if args.threads:
        torch.set_num_threads(args.threads)
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    unknown = set(cells) - set(GATES)
    if unknown:
        raise RnnkitError(f"unknown cells {sorted(unknown)}; choose from {', '.join(GATES)}")
    repeats = args.repeats or (3 if args.quick else 7)
    configs = QUICK_CONFIGS if args.quick and not args.all_configs else CONFIGS
    stream_steps = args.stream_steps if args.stream_steps is not None else (
        100_000 if args.quick else 1_000_000)
    torch.manual_seed(0)

    rows = run(cells, configs, repeats, stream_steps or None, keras=args.keras)
    print(json.dumps(rows[0]["machine"]))
    print(TABLE_HEAD)
    print("\n".join(format_row(r) for r in rows))
    stream = rows[-1]
    if stream["path"] == "Streamer.step":
        growth = stream["resident_growth_bytes"]
        print(f"streaming: {stream['us_per_step']:.1f} us/step vs "
              f"{stream['reference_us_per_step']:.1f} (nn.LSTM, T=1); resident memory "
              f"{'n/a' if growth is None else f'{growth / 2**20:+.2f} MiB'} over "
              f"{stream['memory_steps']:,} steps ({stream['memory_seconds']:.1f} s)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return rows
