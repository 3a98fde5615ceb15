"""``bidirectional``: tags that depend on a later word ("Elma ağaçları uzundur").

"<elma|armut|...> <4 middle words> <ending>": the first word is tagged AĞAÇ (tree) when the
ending is "uzundur", "yeşildir", ... and MEYVE (fruit) when it is "tatlıdır", "ekşidir", ...
A left-to-right tagger must tag the first word before reading the ending, so it can only guess
(50%); a bidirectional one (Schuster & Paliwal 1997) reads the ending on its backward pass.
Same width per direction, same updates; accuracy on the ambiguous first word and on all words.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F

from rnnkit.experiments.common import Budget, Result, SequenceModel, encoder_params, train
from rnnkit.experiments.tasks import TAGS, TreeOrFruitTask

# (label, cell, bidirectional, options)
RUNS = [("lstm", "lstm", False, {}), ("bi-lstm", "lstm", True, {}),
        ("gru", "gru", False, {}), ("bi-gru", "gru", True, {}),
        ("rnn", "rnn", False, {}), ("bi-rnn", "rnn", True, {}),
        ("transformer (causal)", "transformer", False, dict(num_heads=2)),
        ("transformer (bidirectional)", "transformer", True, dict(num_heads=2))]
EMBED, WIDTH = 16, 32
SMALL, FULL, MINIMUM = 300, 1500, 50


def tag_loss(logits, tags):
    return F.cross_entropy(logits.flatten(0, 1), tags.flatten())


def run(budget: Budget, out_dir: Path, command: str) -> Result:
    start = time.perf_counter()
    task = TreeOrFruitTask(middle=4)
    val = task.batch(1024, torch.Generator().manual_seed(5))
    rows, first_word = [], {}
    for label, cell, bi, options in RUNS:
        torch.manual_seed(0)
        model = SequenceModel(cell, EMBED, WIDTH, len(TAGS), vocab_size=task.vocab_size,
                              per_position=True, bidirectional=bi, **options)
        g = torch.Generator().manual_seed(0)

        def batches(g=g):
            while True:
                yield task.batch(32, g)

        train(model, batches(), tag_loss, steps=budget.updates, lr=3e-3)
        model.eval()
        with torch.no_grad():
            predicted = model(val.inputs)[0].argmax(-1)                 # (B, T)
        correct = (predicted == val.targets).float()
        rows.append([label, encoder_params(model), float(correct[:, 0].mean()),
                     float(correct.mean())])
        first_word[label] = float(correct[:, 0].mean())
    plot = _bar(first_word, out_dir / "bidirectional.png")
    is_bi = {label: bi for label, _, bi, _ in RUNS}
    uni = {k: v for k, v in first_word.items() if not is_bi[k]}
    bid = {k: v for k, v in first_word.items() if is_bi[k]}
    findings = ["On the ambiguous first word, left-to-right taggers score "
                + ", ".join(f"{k} {v:.0%}" for k, v in uni.items())
                + " (a coin toss is 50%); bidirectional ones "
                + ", ".join(f"{k} {v:.0%}" for k, v in bid.items()) + ".",
                "Every other word is always O, so whole-sentence accuracy hides the difference "
                "(1/6 of the tags are ambiguous)."]
    return Result("bidirectional", command, budget.name,
                  ["model", "encoder params", "accuracy on the first word",
                   "accuracy on all words"], rows, findings, [plot],
                  time.perf_counter() - start)


def _bar(values: dict[str, float], path: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.8))
    is_bi = {label: bi for label, _, bi, _ in RUNS}
    colors = ["tab:blue" if is_bi[k] else "tab:gray" for k in values]
    ax.barh(list(values), list(values.values()), color=colors)
    ax.axvline(0.5, color="0.4", linestyle=":", label="coin toss")
    ax.set_xlim(0, 1)
    ax.set_xlabel("accuracy on the word resolved by a later word")
    ax.set_title("Elma ... uzundur / tatlıdır: uni- vs bidirectional")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.name
