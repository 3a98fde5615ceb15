"""``speed``: training tokens per second against sequence length, recurrent vs transformer.

"Transformers train faster because they process the sequence in parallel" is a claim about
hardware with parallelism to spare (GPUs). Here every encoder (2 layers, width 128: matched
width, not matched parameters) trains on the same number of tokens per update (B * T = 4096, so
B shrinks as T grows) and we time forward + backward + AdamW update. A recurrence costs O(T)
sequential steps per sequence; attention costs O(T^2) work but only O(1) sequential depth.

The machine is shared, so the ratios are made fair by *interleaving*: all six models live in one
process, and for each T the timed updates go round the models in turn (the order rotated every
round), so a burst of load from elsewhere falls on all of them alike. Each rate is the median
over the timed rounds, after one untimed warm-up round. Unlike the other experiments this one
uses ``THREADS`` = 2 torch threads: the claim is about parallelism, so it gets what there is.
On a shared machine run it with ``OMP_WAIT_POLICY=PASSIVE``: OpenMP threads that busy-wait at
each parallel region's barrier while another job holds the other core slow every update many
times over (README, docs/benchmarks.md); the report says which policy was in force.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from rnnkit.experiments.common import Budget, Result, SequenceModel, encoder_params
from rnnkit.experiments.plots import line_plot

CELLS = {"lstm": {}, "gru": {}, "rnn": {}, "mingru": {}, "minlstm": {},
         "transformer": dict(num_heads=4, max_len=4096)}
WIDTH, LAYERS, TOKENS = 128, 2, 4096
THREADS = 2                      # torch threads for this experiment (registry reads it)
UNIT = "timed rounds"         # what a numeric --budget counts here (one update of every model)
SMALL, FULL, MINIMUM = 3, 7, 1  # timed rounds per T


def run(budget: Budget, out_dir: Path, command: str) -> Result:
    start = time.perf_counter()
    lengths = [64, 256, 1024, 4096] if budget.scale == 0 else [64, 128, 256, 512, 1024, 2048,
                                                                4096]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    models, optimizers = {}, {}
    for cell, options in CELLS.items():
        torch.manual_seed(0)
        models[cell] = SequenceModel(cell, WIDTH, WIDTH, WIDTH, num_layers=LAYERS,
                                     per_position=True, **options).to(device)
        optimizers[cell] = torch.optim.AdamW(models[cell].parameters(), lr=1e-3)
    cells = list(CELLS)
    rows, curves = [], {cell: [] for cell in cells}
    for T in lengths:
        B = max(1, TOKENS // T)
        x = torch.randn(B, T, WIDTH, device=device)                  # (B, T, C)
        y = torch.randn(B, T, WIDTH, device=device)
        seconds = {cell: [] for cell in cells}
        for round_ in range(budget.updates + 1):
            shift = round_ % len(cells)
            for cell in cells[shift:] + cells[:shift]:
                elapsed = _timed_update(models[cell], optimizers[cell], x, y, device)
                if round_:                                           # round 0 warms up
                    seconds[cell].append(elapsed)
        lstm_rate = B * T / statistics.median(seconds["lstm"])
        for cell in cells:
            rate = B * T / statistics.median(seconds[cell])
            curves[cell].append(rate)
            rows.append([T, B, cell, encoder_params(models[cell]), rate, rate / lstm_rate])
    threads = torch.get_num_threads()
    plot = line_plot(lengths, curves, out_dir / "speed.png", xlabel="sequence length T",
                     ylabel="training tokens / s", title=f"training speed ({device}, "
                     f"{threads} threads, {TOKENS} tokens per update)", logx=True, logy=True)
    findings = _findings(rows, lengths, device, threads)
    return Result("speed", command, budget.name,
                  ["T", "batch", "cell", "encoder params", "tokens/s", "x lstm"], rows,
                  findings, [plot], time.perf_counter() - start)


def _timed_update(model, optimizer, x, y, device: str) -> float:
    """Seconds of one forward + backward + optimizer step."""
    _sync(device)
    t0 = time.perf_counter()
    loss = F.mse_loss(model(x)[0], y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    _sync(device)
    return time.perf_counter() - t0


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _findings(rows, lengths, device, threads) -> list[str]:
    rate = {(r[2], r[0]): r[4] for r in rows}
    out = []
    for T in lengths:
        fastest = max(CELLS, key=lambda c: rate[(c, T)])
        lstm = rate[("lstm", T)]
        out.append(f"T={T}: transformer/LSTM throughput {rate[('transformer', T)] / lstm:.2f}x, "
                   f"minGRU/LSTM {rate[('mingru', T)] / lstm:.2f}x; fastest {fastest}")
    faster = [T for T in lengths if rate[("transformer", T)] > rate[("lstm", T)]]
    where = f"T = {', '.join(map(str, faster))}" if faster else "no length tried"
    policy = os.environ.get("OMP_WAIT_POLICY", "unset (busy-waiting threads)")
    first, last = lengths[0], lengths[-1]

    def drop(cell):
        return rate[(cell, last)] / rate[(cell, first)]

    out.append(f"Measured with {threads} torch threads, OMP_WAIT_POLICY {policy}, every model "
               "interleaved round by round, median of the timed rounds.")
    out.append(f"On this {device} ({threads} threads, shared with other jobs), 'transformers "
               f"train faster' than the LSTM holds at {where}. From T={first} to T={last} the "
               f"transformer's throughput changes {drop('transformer'):.2f}x (attention's work "
               f"grows as T^2) and the LSTM's {drop('lstm'):.2f}x (the same tokens, but T "
               "sequential steps over a batch that shrinks as T grows); a CPU with 2 cores has "
               "little parallel hardware for attention to use, which is what the claim is about.")
    if device == "cpu":
        out.append("No GPU was used: the same command measures the GPU curve where CUDA is "
                   "available (minGRU/minLSTM then take their parallel scan).")
    return out
