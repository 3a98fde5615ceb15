"""What the data pipeline costs in the main job's training step (``rnnkit train`` defaults).

Not a test. For the defaults of :class:`rnnkit.tasks.lm.LMDataConfig` and
:class:`rnnkit.models.lm.LMConfig` (character LM on the built-in corpus), it times, in one
process and interleaved:

- ``batch``: getting the next window from :class:`rnnkit.data.StreamBatcher` and moving it to the
  device (``.to(device)``, what ``Trainer.train_step`` does), per step;
- ``tokenise``: encoding the whole training text once, spread over one epoch's steps (the job
  encodes once; the per-step share is that time over ``windows_per_epoch``);
- ``step``: one whole ``Trainer.train_step`` (batch transfer, forward, loss, backward, clip,
  optimizer step).

It prints each as milliseconds per step and the pipeline's share of the step (goal: under 5%).

Usage::

    python benchmarks/data_pipeline.py [--steps N] [--threads N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from rnnkit.data import CharTokenizer, StreamBatcher
from rnnkit.models.lm import LanguageModel, LMConfig
from rnnkit.train.config import TrainConfig
from rnnkit.data.lm_corpus import read_corpus, split_text
from rnnkit.tasks.lm import LMDataConfig
from rnnkit.train.losses import lm_loss
from rnnkit.train.loop import Trainer


def measure(steps: int) -> dict:
    data = LMDataConfig()
    text, val_start = read_corpus(data.data)
    train_text, _ = split_text(text, val_start, data.val_fraction)
    tokenizer = CharTokenizer.from_text(train_text)
    start = time.perf_counter()
    ids = tokenizer.encode(train_text)
    encode_s = time.perf_counter() - start
    batcher = StreamBatcher(ids, data.batch_size, data.seq_len)
    config = LMConfig(vocab_size=tokenizer.vocab_size)
    torch.manual_seed(0)
    model = LanguageModel(config)
    trainer = Trainer(model, TrainConfig(steps=steps + 2), lm_loss)
    device = next(model.parameters()).device
    batches = iter(batcher)
    trainer.train_step(next(batches))                    # warm-up

    batch_times, step_times = [], []
    for _ in range(steps):
        start = time.perf_counter()
        batch = next(batches)
        batch.inputs.to(device), batch.targets.to(device)
        batch_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        trainer.train_step(batch)
        step_times.append(time.perf_counter() - start)
    batch_s, step_s = statistics.median(batch_times), statistics.median(step_times)
    tokenise_s = encode_s / batcher.windows_per_epoch
    return {
        "job": (f"{config.num_layers}-layer {config.cell} H{config.hidden_size}, embed "
                f"{config.embed_size}, batch {data.batch_size}, seq-len {data.seq_len}, "
                f"{data.data}"),
        "device": str(device), "threads": torch.get_num_threads(), "steps": steps,
        "batch_ms": 1e3 * batch_s, "tokenise_ms_per_step": 1e3 * tokenise_s,
        "train_step_ms": 1e3 * step_s,
        "pipeline_fraction": (batch_s + tokenise_s) / (step_s + batch_s),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads")
    parser.add_argument("--json", type=Path, help="write the result to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    result = measure(args.steps)
    print(json.dumps(result, indent=1))
    print(f"data pipeline: {100 * result['pipeline_fraction']:.3f}% of a training step "
          f"({result['batch_ms']:.3f} ms batch + {result['tokenise_ms_per_step']:.3f} ms "
          f"tokenising, per step, against {result['train_step_ms']:.1f} ms)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
