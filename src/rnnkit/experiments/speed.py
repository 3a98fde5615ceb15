"""``speed``: training tokens per second against sequence length, recurrent vs transformer.

"Transformers train faster because they process the sequence in parallel" is a claim about
hardware with parallelism to spare (GPUs). Here every encoder (2 layers, width 128) trains on
the same number of tokens per update (B * T = 4096, so B shrinks as T grows) with one CPU
thread, and we time forward + backward + update after a warm-up step. Attention's cost grows
with T^2 per sequence, a recurrence's with T.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F

from rnnkit.experiments.common import Budget, Result, SequenceModel, encoder_params
from rnnkit.experiments.plots import line_plot

CELLS = {"lstm": {}, "gru": {}, "rnn": {}, "mingru": {}, "minlstm": {},
         "transformer": dict(num_heads=4, max_len=4096)}
WIDTH, LAYERS, TOKENS = 128, 2, 4096
SMALL, FULL, MINIMUM = 2, 5, 1   # timed updates per (cell, T)


def run(budget: Budget, out_dir: Path, command: str) -> Result:
    start = time.perf_counter()
    lengths = [64, 256, 1024, 4096] if budget.scale == 0 else [64, 128, 256, 512, 1024, 2048,
                                                                4096]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    rows, curves = [], {}
    for cell, options in CELLS.items():
        torch.manual_seed(0)
        model = SequenceModel(cell, WIDTH, WIDTH, WIDTH, num_layers=LAYERS, per_position=True,
                              **options).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        curves[cell] = []
        for T in lengths:
            B = max(1, TOKENS // T)
            x = torch.randn(B, T, WIDTH, device=device)
            y = torch.randn(B, T, WIDTH, device=device)
            seconds = []
            for i in range(budget.updates + 1):
                _sync(device)
                t0 = time.perf_counter()
                loss = F.mse_loss(model(x)[0], y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                _sync(device)
                if i:                                                 # first one warms up
                    seconds.append(time.perf_counter() - t0)
            rate = B * T / (sum(seconds) / len(seconds))
            curves[cell].append(rate)
            rows.append([T, B, cell, encoder_params(model), rate])
    plot = line_plot(lengths, curves, out_dir / "speed.png", xlabel="sequence length T",
                     ylabel="training tokens / s", title=f"training speed ({device}, "
                     f"{torch.get_num_threads()} thread)", logx=True, logy=True)
    findings = _findings(rows, lengths, device)
    return Result("speed", command, budget.name,
                  ["T", "batch", "cell", "encoder params", "tokens/s"], rows, findings, [plot],
                  time.perf_counter() - start)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _findings(rows, lengths, device) -> list[str]:
    rate = {(r[2], r[0]): r[4] for r in rows}
    out = []
    for T in lengths:
        ratio = rate[("transformer", T)] / rate[("lstm", T)]
        fastest = max(CELLS, key=lambda c: rate[(c, T)])
        out.append(f"T={T}: transformer/LSTM throughput {ratio:.2f}x; fastest {fastest}")
    faster = [T for T in lengths if rate[("transformer", T)] > rate[("lstm", T)]]
    out.append(f"On this {device} with one thread, 'transformers train faster' holds at "
               + (f"T = {', '.join(map(str, faster))}" if faster else "no length tried")
               + " against the LSTM; the claim is about parallel hardware, which one CPU "
               "thread does not have.")
    return out
