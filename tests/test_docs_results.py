"""The committed results tables keep their documented schema."""

import json
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
KEYS = ("task", "dataset", "split", "metric", "value", "baseline", "baseline_value",
        "published_value", "command")
METRICS = {"accuracy", "macro_f1", "wer", "per", "perplexity", "bpc", "bleu", "chrf",
           "smape", "mape", "mase", "crps", "coverage_80", "coverage_95"}
RATES = {"accuracy", "macro_f1", "wer", "per", "coverage_80", "coverage_95"}


def test_results_json_rows_have_the_documented_keys_and_units():
    rows = json.loads((DOCS / "results.json").read_text())
    assert rows
    for r in rows:
        assert tuple(r) == KEYS, r
        assert r["metric"] in METRICS, r["metric"]
        assert r["command"].startswith("python benchmarks/quality.py ")
        for key in ("value", "baseline_value", "published_value"):
            if r["metric"] in RATES and r[key] is not None:
                assert 0.0 <= r[key] <= 1.0, (r["task"], key, r[key])
