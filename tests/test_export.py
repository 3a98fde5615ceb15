"""rnnkit export: the folder it writes (graphs, tokenizer, manifest), ONNX Runtime and the
exported programs against the eager model row by row on padded batches (B = 1, T = 1 too),
greedy generation through the ONNX step, int8, the onnxruntime backend of generate, predict
and serve, and the one-line errors."""

import json
import warnings

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.cli.main import main
from rnnkit.tasks import TASKS

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from rnnkit.export.runtime import load_portable  # noqa: E402


def export(run, out, *flags) -> int:
    return main(["export", str(run), "--out", str(out), *flags])


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
    """{kind: export folder} of the tiny lm run: onnx, int8 and torch-export."""
    root = tmp_path_factory.mktemp("exports")
    out = {}
    for kind, flags in (("onnx", []), ("int8", ["--quantize", "int8"]),
                        ("torch", ["--format", "torch-export"])):
        out[kind] = root / kind
        assert export(tiny_run, out[kind], *flags) == 0
    return out


def test_the_folder_holds_the_graphs_the_tokenizer_and_how_to_call_them(exported, tiny_run):
    folder = exported["onnx"]
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "sequence.onnx",
                                                        "step.onnx", "tokenizer.json"]
    manifest = json.loads((folder / "manifest.json").read_text())
    model, tokenizer = rnnkit.load(tiny_run)
    assert manifest["task"] == "lm" and manifest["backend"] == "onnx"
    assert json.loads((folder / "tokenizer.json").read_text()) == tokenizer.to_dict()
    step = manifest["graphs"]["step"]
    L, H = model.config.num_layers, model.config.hidden_size
    assert [p["name"] for p in step["inputs"]] == ["inputs", "h0", "c0"]
    assert step["inputs"][1]["shape"] == [L, "batch", H]
    assert [p["name"] for p in step["outputs"]] == ["logits", "h_n", "c_n"]
    assert manifest["graphs"]["sequence"]["inputs"][0]["shape"] == ["batch", "time"]
    assert all(g["max_abs_diff"] <= 1e-5 for g in manifest["graphs"].values())
    assert not [p for p in folder.parent.iterdir() if ".tmp-" in p.name]   # nothing left


@pytest.mark.parametrize("kind", ["onnx", "torch"])
def test_the_sequence_graph_reads_padded_rows_as_eager_reads_each_row(exported, tiny_run, kind):
    model, _ = rnnkit.load(tiny_run)
    manifest = json.loads((exported[kind] / "manifest.json").read_text())
    graph = manifest["graphs"]["sequence"]
    run = graph_runner(exported[kind] / graph["file"], [p["name"] for p in graph["inputs"]])
    g = torch.Generator().manual_seed(0)
    V = model.config.vocab_size
    for B, T in ((1, 1), (1, 6), (5, 11)):
        tokens = torch.randint(0, V, (B, T), generator=g)
        lengths = torch.randint(1, T + 1, (B,), generator=g)
        lengths[0] = T
        state = tuple(torch.randn(model.config.num_layers, B, model.config.hidden_size,
                                   generator=g) for _ in "hc")
        logits, h, c = run(tokens, lengths, *state)
        for b in range(B):
            n = int(lengths[b])
            with torch.no_grad():
                want, (wh, wc) = model(tokens[b:b + 1, :n], tuple(s[:, b:b + 1] for s in state))
            assert np.abs(logits[b, :n] - want[0].numpy()).max() <= 1e-5
            assert np.abs(h[:, b] - wh[:, 0].numpy()).max() <= 1e-5
            assert np.abs(c[:, b] - wc[:, 0].numpy()).max() <= 1e-5


def graph_runner(path, names):
    if path.suffix == ".onnx":
        import onnxruntime as ort
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return lambda *xs: session.run(None, {n: x.numpy() for n, x in zip(names, xs)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.export.load(str(path)).module()
    return lambda *xs: [t.detach().numpy() for t in program(*xs)]


def test_the_step_graph_is_one_step_of_the_model(exported, tiny_run):
    model, _ = rnnkit.load(tiny_run)
    portable, _ = load_portable(exported["onnx"])
    g = torch.Generator().manual_seed(1)
    for B in (1, 4):
        tokens = torch.randint(0, model.config.vocab_size, (B, 1), generator=g)
        state = tuple(torch.randn(model.config.num_layers, B, model.config.hidden_size,
                                   generator=g) for _ in "hc")
        with torch.no_grad():
            want, want_state = model(tokens, state)
        got, got_state = portable(tokens, state)
        for a, b in zip((got, *got_state), (want, *want_state)):
            assert a.shape == b.shape and (a - b).abs().max() <= 1e-5


def test_greedy_generation_through_the_onnx_step_gives_the_eager_text(exported, tiny_run):
    model, tokenizer = rnnkit.load(tiny_run)
    portable, codec = load_portable(tiny_run.parent / exported["onnx"])
    args = dict(length=60, temperature=0.0)
    want = TASKS["lm"].predict(model, tokenizer, ["elma ", "k"], **args)
    assert TASKS["lm"].predict(portable, codec, ["elma ", "k"], **args) == want


def test_int8_is_smaller_and_stays_near_the_model(exported, tiny_run):
    manifest = json.loads((exported["int8"] / "manifest.json").read_text())
    assert manifest["quantize"] == "int8"
    for name in ("step", "sequence"):
        assert (exported["int8"] / f"{name}.onnx").stat().st_size < \
            (exported["onnx"] / f"{name}.onnx").stat().st_size
        assert 0 < manifest["graphs"][name]["max_abs_diff"] < 0.5
    model, tokenizer = rnnkit.load(tiny_run)
    portable, _ = load_portable(exported["int8"])
    ids = tokenizer.encode("elma kırmızıdır ve armut sarıdır")[None, :]
    with torch.no_grad():
        want = torch.log_softmax(model(ids)[0], -1)
    got = torch.log_softmax(portable(ids)[0], -1)
    assert (got.exp() - want.exp()).abs().max() < 0.05      # next-symbol probabilities


def test_generate_and_predict_run_on_onnxruntime(exported, tiny_run, capsys):
    argv = ["--prompt", "elma", "--length", "30", "--temperature", "0"]
    assert main(["generate", str(tiny_run), *argv]) == 0
    eager = capsys.readouterr().out
    assert main(["generate", str(exported["onnx"]), *argv, "--backend", "onnxruntime"]) == 0
    assert capsys.readouterr().out == eager
    assert main(["predict", str(exported["onnx"]), "elma", "--length", "5", "--temperature",
                 "0", "--backend", "onnxruntime", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tokens"] == 5
    assert main(["generate", str(exported["onnx"]), *argv]) == 2
    assert "add --backend onnxruntime" in capsys.readouterr().err


def test_serve_answers_from_the_onnx_export(exported, tiny_run):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from rnnkit.serve import ServeConfig, create_app
    app = create_app([exported["onnx"]], ServeConfig(backend="onnxruntime"))
    with TestClient(app) as client:
        info = client.get("/v1/models").json()["data"][0]
        assert info["backend"] == "onnxruntime" and info["generate"] is True
        body = {"inputs": ["elma"], "parameters": {"length": 20, "temperature": 0}}
        r = client.post("/invocations", json=body)
        assert r.status_code == 200, r.text
        model, tokenizer = rnnkit.load(tiny_run)
        assert r.json()["outputs"] == TASKS["lm"].predict(model, tokenizer, ["elma"], length=20,
                                                          temperature=0)
        r = client.post("/v1/generate", json={"prompt": "elma", "length": 20, "temperature": 0})
        assert r.status_code == 200 and r.json()["text"] == r.json()["text"]


def one_line_error(capsys, argv) -> str:
    try:
        status = main(argv)
    except SystemExit as e:                              # the argument parser's errors
        status = e.code
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def test_bad_requests_end_in_one_line(exported, tiny_run, tmp_path, capsys, monkeypatch):
    assert "does not exist" in one_line_error(capsys, ["export", str(tmp_path / "nope")])
    assert "invalid choice" in one_line_error(capsys, ["export", str(tiny_run), "--format",
                                                       "tflite"])
    assert "--overwrite" in one_line_error(capsys, ["export", str(tiny_run), "--out",
                                                    str(exported["onnx"])])
    assert "applies to --format onnx" in one_line_error(
        capsys, ["export", str(tiny_run), "--format", "torch-export", "--quantize", "int8",
                 "--out", str(tmp_path / "q")])
    assert "holds no ONNX export" in one_line_error(
        capsys, ["generate", str(tiny_run), "--backend", "onnxruntime"])
    real = __import__("importlib").import_module

    def missing(name, *args):
        if name.startswith("onnx"):
            raise ImportError(name)
        return real(name, *args)
    monkeypatch.setattr("rnnkit.export.extra.importlib.import_module", missing)
    err = one_line_error(capsys, ["export", str(tiny_run), "--out", str(tmp_path / "x")])
    assert "pip install '.[export]'" in err
    assert not (tmp_path / "x").exists()


def test_overwrite_replaces_the_folder_whole(tiny_run, tmp_path):
    out = tmp_path / "e"
    assert export(tiny_run, out, "--format", "torch-export") == 0
    assert export(tiny_run, out, "--overwrite") == 0
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "sequence.onnx",
                                                     "step.onnx", "tokenizer.json"]


def test_a_run_without_recurrent_state_is_refused(tiny_text, tmp_path, capsys):
    run = tmp_path / "tf"
    assert main(["train", "--data", str(tiny_text), "--cell", "transformer", "--hidden", "8",
                 "--embed", "8", "--steps", "1", "--seq-len", "8", "--batch-size", "2",
                 "--out", str(run), "--no-progress"]) == 0
    capsys.readouterr()
    assert "covers the recurrent cells" in one_line_error(capsys, ["export", str(run)])
