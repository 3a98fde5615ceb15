"""Per-token step latency and validation quality of a language model run exported to ONNX:
eager PyTorch, ONNX Runtime float32 and ONNX Runtime int8 (docs/export.md).

    rnnkit export runs/demo --out /tmp/demo-onnx
    rnnkit export runs/demo --out /tmp/demo-int8 --quantize int8
    python benchmarks/export_speed.py runs/demo /tmp/demo-onnx /tmp/demo-int8 [--threads 1]

Latency: batch 1, one token per call with the carried state, as generation runs it: eager is
``model(token (1, 1), state)`` under ``torch.inference_mode`` (what ``rnnkit generate`` calls),
ONNX Runtime is the ``step`` graph through :class:`rnnkit.export.runtime.PortableModel` (the
same call, numpy in and out). The three are measured in one process, interleaved, in
``--repeats`` rounds of ``--steps`` tokens; the median round is reported. Quality: bits per
character on the run's validation split, scored as ``rnnkit evaluate`` scores it (8 lanes of
256-character windows, state carried), by each backend on the same text.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

import rnnkit
from rnnkit.data import eval_windows
from rnnkit.data.lm_corpus import read_corpus, split_text
from rnnkit.export.runtime import load_portable
from rnnkit.train.loop import evaluate_loss
from rnnkit.train.losses import lm_loss
from rnnkit.train.run_folder import read_run_config


def step_seconds(model, steps: int) -> float:
    """Seconds per token of ``steps`` greedy steps at batch 1 from a zero state."""
    token, state = torch.tensor([[1]]), None
    with torch.inference_mode():
        start = time.perf_counter()
        for _ in range(steps):
            logits, state = model(token, state)
            token = logits[:, -1].argmax(-1, keepdim=True)
        return (time.perf_counter() - start) / steps


def validation_bpc(model, tokenizer, config: dict) -> float:
    text, val_start = read_corpus(config["data"]["data"])
    ids = tokenizer.encode(split_text(text, val_start, config["data"]["val_fraction"])[1])
    lanes = max(1, min(8, (len(ids) - 1) // 256))
    return evaluate_loss(model, lm_loss, eval_windows(ids, lanes, 256))["loss"] / math.log(2)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run")
    p.add_argument("fp32", help="rnnkit export RUN --out DIR")
    p.add_argument("int8", help="rnnkit export RUN --out DIR --quantize int8")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--no-quality", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    eager, tokenizer = rnnkit.load(args.run)
    models = {"eager": eager,
              "onnxruntime fp32": load_portable(args.fp32, threads=args.threads)[0],
              "onnxruntime int8": load_portable(args.int8, threads=args.threads)[0]}
    for model in models.values():
        step_seconds(model, 50)                                          # warm up
    rounds: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.repeats):
        for name, model in models.items():
            rounds[name].append(step_seconds(model, args.steps))
    base = statistics.median(rounds["eager"])
    print(f"per-token step at batch 1, {args.threads} thread(s), median of {args.repeats} "
          f"rounds of {args.steps} tokens:")
    for name, times in rounds.items():
        t = statistics.median(times)
        print(f"  {name:18s} {1e6 * t:8.1f} us  (min {1e6 * min(times):.1f}, max "
              f"{1e6 * max(times):.1f})  {base / t:5.2f}x eager")
    if args.no_quality:
        return
    config = read_run_config(args.run)
    print("validation bits per character:")
    for name, model in models.items():
        print(f"  {name:18s} {validation_bpc(model, tokenizer, config):.4f}", flush=True)


if __name__ == "__main__":
    main()
