"""Training throughput of a word-level LSTM language model in float32 and in bf16 mixed
precision (``--precision bf16``), one process, the two interleaved.

Not a test: timings depend on the machine and its load. Each repeat times one optimizer step
(forward, float32 loss, backward, clipping, AdamW) in each precision on the same batch; the
ratio is the median of the per-repeat ratios. bf16 pays off where the CPU has bfloat16
instructions (``avx512_bf16`` or AMX); elsewhere autocast falls back to slower paths. Run with
``python benchmarks/precision_speed.py [--repeats N] [--threads N]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from rnnkit.data.batch import StreamBatch
from rnnkit.models.lm import LanguageModel, LMConfig
from rnnkit.train.config import TrainConfig
from rnnkit.train.losses import lm_loss
from rnnkit.train.loop import Trainer

V, B, T = 10_000, 32, 35          # Penn Treebank's vocabulary, batch and window


def step_seconds(trainer: Trainer, batch: StreamBatch) -> float:
    start = time.perf_counter()
    trainer.train_step(batch)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", default="256,512", help="hidden sizes, comma-separated")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, V, (B, T + 1), generator=gen)
    batch = StreamBatch(ids[:, :-1], ids[:, 1:], reset=True)
    print(f"word LM, 2 layers, tied, V={V}, B={B}, T={T}, {args.threads} threads")
    print(f"{'H':>5} {'fp32 tok/s':>11} {'bf16 tok/s':>11} {'speed-up':>9}")
    for hidden in (int(h) for h in args.sizes.split(",")):
        trainers = {}
        for precision in ("fp32", "bf16"):
            torch.manual_seed(0)
            model = LanguageModel(LMConfig(vocab_size=V, embed_size=hidden, hidden_size=hidden,
                                           num_layers=2, dropout=0.5, tie_weights=True))
            trainers[precision] = Trainer(model, TrainConfig(steps=10**6, lr=1e-3,
                                                             precision=precision), lm_loss)
        for trainer in trainers.values():                # warm-up: allocations, oneDNN plans
            for _ in range(3):
                step_seconds(trainer, batch)
        times = {p: [] for p in trainers}
        for _ in range(args.repeats):
            for precision, trainer in trainers.items():
                times[precision].append(step_seconds(trainer, batch))
        ratio = statistics.median(a / b for a, b in zip(times["fp32"], times["bf16"]))
        fp32, bf16 = (B * T / statistics.median(times[p]) for p in ("fp32", "bf16"))
        print(f"{hidden:>5} {fp32:>11,.0f} {bf16:>11,.0f} {ratio:>8.2f}x")


if __name__ == "__main__":
    main()
