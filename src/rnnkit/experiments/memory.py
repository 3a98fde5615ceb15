"""``memory``: does the model remember "Tom bir kedidir" d words later?

"Tom bir kedidir. <d distractor words> Tom'un en sevdiği yemek ___" -- the food (balık for a
cat, kemik for a dog, ...) follows only from the animal, d + 8 words before the prediction.
Every cell gets the same encoder parameter budget (the width is solved for), the same embedding
and head, the same updates; accuracy is measured per d on fresh sentences. A window MLP sees 12
words, so it cannot reach the animal at all; chance is 1/8. minGRU runs with one layer (like
the other recurrent cells) and with two (as it is usually used: its gates read only the input,
so depth is where it gets its non-linearity) at the same parameter budget.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from rnnkit.experiments.common import (Budget, Result, SequenceModel, encoder_params,
                                       matched_width, train)
from rnnkit.experiments.plots import line_plot
from rnnkit.experiments.tasks import MemoryTask

# row label -> (encoder, its options); every row has the same encoder parameter budget
CELLS = {"mlp": ("mlp", dict(window=12)), "rnn": ("rnn", {}), "lstm": ("lstm", {}),
         "gru": ("gru", {}), "mingru": ("mingru", {}),
         "mingru (2 layers)": ("mingru", dict(num_layers=2)),
         "transformer": ("transformer", dict(num_heads=2, max_len=256))}
EMBED = 16          # word embedding width, the same for every cell
PARAMS = 12_000     # encoder parameters per cell
SMALL, FULL, MINIMUM = 1500, 2500, 100


def run(budget: Budget, out_dir: Path, command: str) -> Result:
    start = time.perf_counter()
    task = MemoryTask()
    distances = [0, 4, 8, 16, 32] if budget.scale == 0 else [0, 2, 4, 8, 16, 32, 64]
    rows, curves = [], {}
    for label, (cell, options) in CELLS.items():
        def make(width, cell=cell, options=options):
            return SequenceModel(cell, EMBED, width, task.num_classes,
                                 vocab_size=task.vocab_size, **options)
        width = matched_width(cell, PARAMS, make, step=2)
        torch.manual_seed(0)
        model = make(width)
        rng, g = random.Random(0), torch.Generator().manual_seed(0)

        def batches():
            while True:
                yield task.batch(32, rng.choice(distances), g)

        trainer = train(model, batches(), F.cross_entropy, steps=budget.updates, lr=3e-3)
        accuracies = accuracy_by_distance(model, task, distances)
        curves[label] = accuracies
        rows.append([label, width, encoder_params(model), *accuracies])
        del trainer
    plot = line_plot([task.distance(d) for d in distances], curves, out_dir / "memory.png",
                     xlabel="words between the animal and the prediction (d + 8)",
                     ylabel="accuracy", title="memory: Tom bir kedidir ... en sevdiği yemek ?",
                     hline=1 / task.num_classes, hline_label="chance")
    findings = _findings(rows, distances)
    return Result("memory", command, budget.name,
                  ["cell", "width", "encoder params", *[f"d={d}" for d in distances]],
                  rows, findings, [plot], time.perf_counter() - start)


@torch.no_grad()
def accuracy_by_distance(model, task: MemoryTask, distances: list[int]) -> list[float]:
    model.eval()
    g = torch.Generator().manual_seed(1234)
    out = []
    for d in distances:
        batch = task.batch(512, d, g)
        logits, _ = model(batch.inputs)
        out.append(float((logits.argmax(-1) == batch.targets).float().mean()))
    model.train()
    return out


def _findings(rows: list[list], distances: list[int]) -> list[str]:
    far = {row[0]: row[-1] for row in rows}
    top = max(far.values())
    best = ", ".join(c for c, a in far.items() if a == top) + f" ({top:.0%})"
    lines = [f"At the longest distance (d={distances[-1]}, {distances[-1] + 8} words back) "
             + ", ".join(f"{c} {a:.0%}" for c, a in far.items()) + f"; chance is 12.5%.",
             f"The window MLP sees 12 words: at d=0 the animal is 8 words back and "
             f"{'inside' if rows[0][3] > 0.5 else 'still not learned'} its window "
             f"(accuracy {rows[0][3]:.0%}); beyond d=4 it is out of reach by construction.",
             f"Best at long range: {best}."]
    if "mingru" in far and "mingru (2 layers)" in far:
        lines.append(f"minGRU at the same parameter budget: one layer {far['mingru']:.0%}, two "
                     f"layers {far['mingru (2 layers)']:.0%} at d={distances[-1]}.")
    return lines
