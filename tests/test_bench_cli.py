"""``rnnkit bench`` and the GPU check script run end to end on tiny settings (speed is never
asserted), and the GPU script says it skipped the timings without CUDA."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

import rnnkit.bench.speed as speed
from rnnkit.bench.extra import ln_lstm_rows
from rnnkit.cli.main import main

ROOT = Path(__file__).resolve().parents[1]


def test_ln_lstm_rows_compare_with_torch_and_the_loop():
    rows = ln_lstm_rows("ln_lstm", speed.BenchConfig(2, 4, 3, 5), repeats=1, peak=1e9)
    assert [(r["mode"], r["reference"].split()[0]) for r in rows] == [
        ("train", "torch.nn.LSTM"), ("infer", "torch.nn.LSTM"), ("train", "rnnkit")]
    assert all(r["path"] == "explicit" and r["ratio"] > 0 for r in rows)


def test_bench_command_writes_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(speed, "QUICK_CONFIGS", (speed.BenchConfig(2, 3, 3, 4),))
    monkeypatch.setattr(speed, "matmul_peak", lambda *a, **k: 1e9)
    out = tmp_path / "rows.json"
    assert main(["bench", "--quick", "--cells", "gru", "--repeats", "1", "--stream-steps", "0",
                 "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [r["mode"] for r in rows] == ["train", "infer"]
    assert "| gru |" in capsys.readouterr().out


def test_bench_command_rejects_unknown_cells(capsys):
    assert main(["bench", "--cells", "transformer"]) == 2
    assert "unknown cells" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback")
def test_gpu_check_runs_on_cpu_and_skips_timings(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module
    try:
        spec.loader.exec_module(module)
        assert module.main(["--out", str(tmp_path)]) == 0
    finally:
        del sys.modules["gpu_check"]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["timings"] == [] and "no CUDA: skipped timings" in report["note"]
    assert all(c["ok"] for c in report["parity"]) and len(report["parity"]) == 15
    assert "no CUDA: skipped timings" in (tmp_path / "gpu_check.md").read_text()
