"""One row of docs/results.json: the keys every task's rows share."""

KEYS = ("task", "dataset", "split", "metric", "value", "baseline", "baseline_value",
        "published_value", "command")


def row(task, dataset, split, metric, value, baseline, baseline_value, published=None) -> dict:
    return {"task": task, "dataset": dataset, "split": split, "metric": metric,
            "value": round(float(value), 4), "baseline": baseline,
            "baseline_value": None if baseline_value is None else round(float(baseline_value), 4),
            "published_value": published, "command": f"python benchmarks/quality.py {task}"}
