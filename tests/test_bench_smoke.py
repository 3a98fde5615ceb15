"""benchmarks/speed.py runs end to end on a tiny config; the numbers are finite and positive.

Speed itself is never asserted: it depends on the machine and its load.
"""

import importlib.util
import math
import sys
from pathlib import Path

import pytest

SPEED = Path(__file__).resolve().parents[1] / "benchmarks" / "speed.py"


@pytest.fixture(scope="module")
def speed():
    spec = importlib.util.spec_from_file_location("speed", SPEED)
    module = importlib.util.module_from_spec(spec)
    sys.modules["speed"] = module                        # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules["speed"]


def test_tiny_run_gives_finite_positive_numbers(speed):
    config = speed.BenchConfig(batch=2, steps=4, inputs=3, hidden=5, layers=2)
    peak = speed.matmul_peak([(128, 128, 128)], repeats=2, warmup_s=0.01)
    rows = speed.layer_rows("gru", config, repeats=1, peak=peak)
    rows.append(speed.streaming_row(speed.BenchConfig(2, 1, 3, 5, layers=2), repeats=1,
                                    steps=50, peak=peak))
    assert [r["mode"] for r in rows] == ["train", "infer", "infer"]
    for row in rows:
        for key in ("rnnkit_tokens_per_s", "reference_tokens_per_s", "ratio", "peak_fraction"):
            assert math.isfinite(row[key]) and row[key] > 0, (key, row)
        assert {"cell", "config", "reference"} <= row.keys()


def test_the_peak_probe_takes_the_workloads_own_shapes(speed):
    configs = [speed.BenchConfig(batch=2, steps=4, inputs=3, hidden=5, layers=2)]
    shapes = speed.workload_shapes(configs, ["lstm", "gru"])
    assert (8, 8, 20) in shapes and (8, 10, 20) in shapes and (8, 8, 15) in shapes
    assert speed.matmul_peak(shapes, repeats=2, warmup_s=0.01) > 0
