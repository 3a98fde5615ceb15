"""Tiny files in each real format (CSV, .ts, CoNLL-U, Brown word/tag, long-format series),
made by the tests."""

import math
import random

import numpy as np

POS = "great lovely fine happy superb".split()
NEG = "awful sad poor terrible ugly".split()
FILL = "the car drives on a road today and then".split()


def write_csv(path, n=60, seed=0, text_column="text", label_column="label"):
    rng = random.Random(seed)
    lines = [f"{label_column},{text_column},id"]
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        words = [rng.choice(FILL) for _ in range(rng.randint(2, 6))]
        words.insert(rng.randint(0, len(words)), rng.choice(POS if label == "pos" else NEG))
        lines.append(f"{label},\"{' '.join(words)}\",{i}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ts_line(x: np.ndarray, label: str) -> str:
    """x (T, C) -> one .ts data line."""
    return ":".join(",".join(f"{v:.4f}" for v in x[:, c]) for c in range(x.shape[1])) + \
        f":{label}"


def write_ts(path, n=40, seed=0, channels=2, extra=""):
    rng = np.random.default_rng(seed)
    lines = ["# made by the tests", "@problemName Tiny", "@univariate false",
             f"@dimensions {channels}", "@equalLength false", "@classLabel true a b", "@data"]
    for i in range(n):
        T = int(rng.integers(5, 12))
        x = rng.normal(size=(T, channels))
        label = "a" if i % 2 else "b"
        x[:, 0] += 2.0 if label == "a" else -2.0
        lines.append(ts_line(x, label))
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


TAGGED = [("the", "DET"), ("a", "DET"), ("dog", "NOUN"), ("cat", "NOUN"), ("runs", "VERB"),
          ("sleeps", "VERB"), ("quickly", "ADV"), ("slowly", "ADV")]


def tagged_sentences(n=40, seed=0):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        det, noun = rng.choice(TAGGED[:2]), rng.choice(TAGGED[2:4])
        verb, adv = rng.choice(TAGGED[4:6]), rng.choice(TAGGED[6:])
        out.append([det, noun, verb, adv] if rng.random() < 0.5 else [det, noun, verb])
    return out


def write_conllu(path, n=40, seed=0):
    blocks = []
    for k, sentence in enumerate(tagged_sentences(n, seed)):
        rows = [f"# sent_id = {k}"]
        rows += [f"{i}\t{w}\t{w}\t{t}\t_\t_\t0\tdep\t_\t_"
                 for i, (w, t) in enumerate(sentence, start=1)]
        blocks.append("\n".join(rows))
    path.write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")
    return path


BROWN_TAG = {"DET": "at", "NOUN": "nn", "VERB": "vbz", "ADV": "rb"}


def write_brown(folder, n=40, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["\t" + " ".join(f"{w}/{BROWN_TAG[t]}" for w, t in s) + " ./."
             for s in tagged_sentences(n, seed)]
    half = len(lines) // 2
    (folder / "ca01").write_text("\n\n".join(lines[:half]) + "\n", encoding="utf-8")
    (folder / "cb01").write_text("\n\n".join(lines[half:]) + "\n", encoding="utf-8")
    (folder / "README").write_text("not a corpus file\n")
    return folder


def seasonal_csv(path, n_series=12, length=72, seed=0):
    """Monthly series: a level, a 12-step sine of random amplitude and phase, and noise."""
    rng = np.random.default_rng(seed)
    rows = ["id,time,value"]
    for k in range(n_series):
        level, amp, phase = rng.uniform(50, 150), rng.uniform(10, 30), rng.integers(0, 12)
        for t in range(length):
            v = level + amp * math.sin(2 * math.pi * (t + phase) / 12) + rng.normal(0, 1)
            rows.append(f"s{k},{2000 + (t // 12)}-{t % 12 + 1:02d},{v:.3f}")
    path.write_text("\n".join(rows) + "\n")
    return path
