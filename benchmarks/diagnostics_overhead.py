"""Cost of the gradient-flow diagnostics: training step time with the probe off and on.

    nice -n 10 .venv/bin/python benchmarks/diagnostics_overhead.py

A 2x128 LSTM character LM (T = 64, B = 16) trains with ``Trainer.fit``; settings are
interleaved (off, every 10, every 1, off, ...) so drift in a shared machine hits them alike.
Off means ``probe=None``: no hook exists, the loop runs one ``is not None`` test per step.
"""

import statistics
import tempfile
import time

import torch

from rnnkit.data.batch import StreamBatch
from rnnkit.models import LanguageModel, LMConfig
from rnnkit.train.config import TrainConfig
from rnnkit.train.diagnostics import GradientProbe
from rnnkit.train.losses import lm_loss
from rnnkit.train.loop import Trainer

torch.set_num_threads(1)
V, T, B, STEPS, ROUNDS = 64, 64, 16, 40, 3


def batches():
    g = torch.Generator().manual_seed(0)
    while True:
        ids = torch.randint(0, V, (B, T + 1), generator=g)
        yield StreamBatch(ids[:, :-1], ids[:, 1:], True)


def seconds_per_step(every: int | None) -> float:
    torch.manual_seed(0)
    model = LanguageModel(LMConfig(vocab_size=V, cell="lstm", embed_size=32, hidden_size=128))
    trainer = Trainer(model, TrainConfig(steps=STEPS, warmup_steps=0, eval_every=0), lm_loss)
    with tempfile.TemporaryDirectory() as tmp:
        probe = None if every is None else GradientProbe(model, lm_loss, tmp, every)
        start = time.perf_counter()
        trainer.fit(batches(), progress=False, probe=probe)
        return (time.perf_counter() - start) / STEPS


if __name__ == "__main__":
    settings = {"off": None, "off (again)": None, "every 10": 10, "every 1": 1}
    times = {k: [] for k in settings}
    for _ in range(ROUNDS):
        for name, every in settings.items():
            times[name].append(seconds_per_step(every))
    base = statistics.median(times["off"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:12s} {median * 1e3:7.2f} ms/step  {100 * (median / base - 1):+6.1f}%")
