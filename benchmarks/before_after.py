"""Two versions of rnnkit against torch.nn on one config, alternating (docs/benchmarks.md,
"Speed before and after the drop-in change").

    python benchmarks/before_after.py BEFORE_SRC AFTER_SRC [--config B64/T256/I128/H512/L2]
        [--cells gru,ln_lstm,lstm] [--rounds 2] [--threads 2] [--repeats 5]

BEFORE_SRC and AFTER_SRC are ``src`` folders of two checkouts (``git worktree add --detach DIR
COMMIT``). Each round runs BEFORE then AFTER, each in its own process with that ``src`` first on
``sys.path``, timing ``rnnkit.bench``'s rows (paired, interleaved medians: ratio = torch.nn time
over rnnkit time); a table of every round's ratio per row is printed at the end. A ratio from
one process is noisy; read the lstm rows (the same kernel on both sides) as the noise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import defaultdict

CHILD = """
import json, sys, torch
from rnnkit.bench import extra, speed
from rnnkit.bench.measure import CONFIGS
config_name, cells, repeats, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
config = next(c for c in CONFIGS if c.name == config_name)
peak = speed.matmul_peak()
for cell in cells.split(","):
    rows_of = extra.ln_lstm_rows if cell == "ln_lstm" else speed.layer_rows
    for r in rows_of(cell, config, repeats, peak):
        print(json.dumps({k: r[k] for k in ("cell", "mode", "reference", "ratio")}), flush=True)
"""


def rows_of(src: str, args: argparse.Namespace) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": str(args.threads)}
    out = subprocess.run([sys.executable, "-c", CHILD, args.config, args.cells,
                          str(args.repeats), str(args.threads)],
                         env=env, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--config", default="B64/T256/I128/H512/L2")
    p.add_argument("--cells", default="gru,ln_lstm,lstm")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    ratios: dict = defaultdict(lambda: {"before": [], "after": []})
    for _ in range(args.rounds):
        for side in ("before", "after"):
            for r in rows_of(getattr(args, side), args):
                ratios[(r["cell"], r["mode"], r["reference"])][side].append(r["ratio"])
    print("| cell | mode | reference | before | after |\n|---|---|---|---:|---:|")
    for (cell, mode, reference), by in ratios.items():
        before, after = (", ".join(f"{x:.2f}" for x in by[s]) for s in ("before", "after"))
        print(f"| {cell} | {mode} | {reference} | {before} | {after} |")


if __name__ == "__main__":
    main()
