"""``streaming``: generating a long stream with a recurrent state against a KV cache.

An LSTM carries (h, c) of fixed size: O(1) memory and time per token however long the stream.
A transformer decoding with a key/value cache (``TransformerEncoder.step``) keeps 2 * L * n * d
numbers after n tokens and attends over all of them: memory and time per token grow with n
(and the cache here grows by concatenation, one more O(n) copy per token).
Both have 2 layers of width 128 and read random input vectors (speed and memory do not depend
on what is generated); one CPU thread, batch 1. Time is the process's CPU time
(``time.process_time``), so other jobs on a shared machine do not inflate it.

The LSTM really generates all n tokens (the budget: 100k at ``full``). Generating that many
tokens through the KV cache costs time quadratic in n, far beyond the budget, so the transformer
is measured at each mark m instead: a cache of m positions is filled with random keys and values
of the right shape (the cost of a step depends on the cache's size, not its values) and
``PROBE_STEPS`` real steps are timed from it. Its total time for n tokens is the integral of that
curve (trapezoid over the marks), an estimate, and labelled so.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from rnnkit.experiments.common import Budget, Result
from rnnkit.experiments.plots import line_plot
from rnnkit.models.encoders import build_encoder

WIDTH, LAYERS, HEADS = 128, 2, 4
PROBE_STEPS = 10              # transformer steps timed at each mark
UNIT = "tokens"               # what a numeric --budget counts here
SMALL, FULL, MINIMUM = 10_000, 100_000, 1_000   # tokens generated
FRACTIONS = (0.01, 0.1, 0.25, 0.5, 0.75, 1.0)   # the marks, as fractions of the budget


def nbytes(state) -> int:
    """Bytes held by a (nested) state or cache."""
    if state is None:
        return 0
    if isinstance(state, torch.Tensor):
        return state.numel() * state.element_size()
    return sum(nbytes(s) for s in state)


@torch.inference_mode()
def run(budget: Budget, out_dir: Path, command: str) -> Result:
    start = time.perf_counter()
    n = budget.updates
    marks = [int(n * f) for f in FRACTIONS]
    torch.manual_seed(0)
    lstm = build_encoder("lstm", WIDTH, WIDTH, LAYERS).eval()
    transformer = build_encoder("transformer", WIDTH, WIDTH, LAYERS, num_heads=HEADS).eval()
    inputs = torch.randn(1000, 1, WIDTH)                              # (1000, B=1, I)
    rows = []
    lstm_us, lstm_mib = lstm_stream(lstm, inputs, marks)
    for mark, us, mib in zip(marks, lstm_us, lstm_mib):
        rows.append(["lstm", mark, us, mib, "generated"])
    tf_us, tf_mib = [], []
    for mark in marks:
        us, mib = transformer_at(transformer, inputs, mark)
        tf_us.append(us)
        tf_mib.append(mib)
        rows.append(["transformer (KV cache)", mark, us, mib, f"cache of {mark} filled"])
    lstm_seconds = float(np.trapezoid([lstm_us[0], *lstm_us], [0, *marks])) / 1e6
    tf_seconds = float(np.trapezoid([tf_us[0], *tf_us], [0, *marks])) / 1e6
    label = {"lstm": "lstm (state)", "tf": "transformer (KV cache)"}
    plots = [
        line_plot(marks, {label["lstm"]: lstm_us, label["tf"]: tf_us},
                  out_dir / "streaming_time.png", xlabel="tokens generated so far",
                  ylabel="CPU microseconds per token", title="generation time per token "
                  "(1 thread, batch 1)", logx=True, logy=True),
        line_plot(marks, {label["lstm"]: lstm_mib, label["tf"]: tf_mib},
                  out_dir / "streaming_memory.png", xlabel="tokens generated so far",
                  ylabel="state / KV cache (MiB)", title="generation state size",
                  logx=True, logy=True),
    ]
    findings = [
        f"After {n:,} tokens the LSTM state is {lstm_mib[-1] * 1024:.1f} KiB and a token costs "
        f"{lstm_us[-1]:.0f} us, as at the start ({lstm_us[0]:.0f} us); the KV cache is "
        f"{tf_mib[-1]:.0f} MiB and a token costs {tf_us[-1] / 1000:.1f} ms "
        f"({tf_us[-1] / lstm_us[-1]:.0f}x the LSTM).",
        f"Generating all {n:,} tokens: LSTM {lstm_seconds:.0f} s (measured); transformer about "
        f"{tf_seconds / 60:.0f} min (estimated from the per-token curve, not run).",
        "Memory is the state or cache itself (exact tensor bytes: 2 x layers x tokens x width "
        "floats for the cache), not process RSS.",
    ]
    return Result("streaming", command, budget.name,
                  ["model", "tokens so far", "CPU us/token", "state MiB", "how"],
                  rows, findings, plots, time.perf_counter() - start)


def lstm_stream(lstm, inputs, marks) -> tuple[list[float], list[float]]:
    """Generate up to marks[-1] tokens one at a time; at each mark, the mean us/token since the
    previous mark and the state's size in MiB."""
    state, done, per_token, size = None, 0, [], []
    for mark in marks:
        t0, count = time.process_time(), 0
        while done < mark:
            _, state = lstm(inputs[done % len(inputs)][:, None], state)    # x: (1, 1, I)
            done += 1
            count += 1
        per_token.append((time.process_time() - t0) / max(count, 1) * 1e6)
        size.append(nbytes(state) / 2 ** 20)
    return per_token, size


def transformer_at(transformer, inputs, mark: int) -> tuple[float, float]:
    """us/token of ``PROBE_STEPS`` cached steps starting at position ``mark`` (a cache of random
    keys and values), and the cache's size in MiB at ``mark``."""
    hs = WIDTH // HEADS
    cache = tuple((torch.randn(1, HEADS, mark, hs), torch.randn(1, HEADS, mark, hs))
                  for _ in range(LAYERS))                             # per layer (B, nh, n, hs)
    size = nbytes(cache) / 2 ** 20
    transformer.step(inputs[0], cache)                                # warm-up
    t0 = time.process_time()
    for i in range(PROBE_STEPS):
        _, cache = transformer.step(inputs[i], cache)
    return (time.process_time() - t0) / PROBE_STEPS * 1e6, size
