"""Merge an experiment's result into ``docs/experiments.md``, ``docs/experiments.json`` and
``docs/img/`` (the committed record of what was measured on this machine)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from rnnkit.experiments.common import Result, _strict

HEADER = """# Experiments: the explainer's claims, measured

Each section is the output of one `rnnkit experiment NAME` on the development machine: 2 CPU
cores shared with other jobs (load average 4 to 10 while these ran), no GPU; one torch thread at
`nice 10`, except `speed` (2 threads, `nice 0`, its models interleaved so that load from
elsewhere falls on all of them alike). Wall times in the headers are therefore inflated by the
sharing; `streaming` reports CPU time. Each section names its budget. Rerun any of them with the
command shown; `--budget full` trains longer and on a larger grid. Machine-readable tables are
in `experiments.json`.

"""


def publish(result: Result, out_dir: Path, docs: Path) -> None:
    """Copy the plots to docs/img/ and put the result's section and table into the docs."""
    (docs / "img").mkdir(parents=True, exist_ok=True)
    for plot in result.plots:
        shutil.copy(out_dir / plot, docs / "img" / plot)
    path = docs / "experiments.json"
    entries = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    entries = [e for e in entries if e["name"] != result.name]
    entries.append(_strict({"name": result.name, "command": result.command,
                            "budget": result.budget, "seconds": round(result.seconds, 1),
                            "table": result.table(), "findings": result.findings,
                            "plots": [f"img/{p}" for p in result.plots],
                            "markdown": result.markdown("img")}))
    order = ["memory", "vanishing", "exploding", "bidirectional", "speed", "streaming"]
    entries.sort(key=lambda e: order.index(e["name"]) if e["name"] in order else len(order))
    path.write_text(json.dumps(entries, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (docs / "experiments.md").write_text(
        HEADER + "\n".join(e["markdown"] for e in entries), encoding="utf-8")
