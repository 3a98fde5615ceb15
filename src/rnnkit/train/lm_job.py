"""The character language-model job: text -> tokenizer -> TBPTT batches -> Trainer -> run folder.

A run folder holds everything needed to evaluate, generate from, or resume the run::

    config.json        task, data, model and training settings (what `--resume` reads back)
    tokenizer.json     the vocabulary
    model.safetensors  the weights, with the model config and vocabulary in its metadata
    trainer.pt         optimizer, RNG, carried state and data position (for --resume)
    metrics.jsonl      one JSON line per logged step and per evaluation
    learning_curve.png bits per character against step, and the gradient norm
    gradient_flow.jsonl, gradient_heatmap.png, gradient_distance.png, diagnostics.json
                       with --diagnose-every N (rnnkit.train.diagnostics)

Training is truncated BPTT over the text as one long stream (``seq_len`` is the window); the
validation split is the tail of the text (``val_fraction``). A built-in text also has a test part,
scored once at the end: for the Shakespeare corpus a whole play that training never sees (The
Merchant of Venice, from ``HELD_OUT_START``), for ``builtin:ptb`` PTB's test set.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.data import StreamBatcher, eval_windows, read_text
from rnnkit.data.datasets.ptb import PTB_NAME, ptb_texts
from rnnkit.data.tokenizers import LEVELS, build_tokenizer, load_tokenizer
from rnnkit.data.corpus import DEFAULT_CORPUS_NAME, HELD_OUT_START, default_corpus
from rnnkit.data.text import atomic_write
from rnnkit.errors import RnnkitError
from rnnkit.models import LanguageModel, LMConfig
from rnnkit.train.checkpoint import load_model_weights, load_trainer_state
from rnnkit.train.config import TrainConfig
from rnnkit.train.diagnostics import FLOW_FILE, GradientProbe
from rnnkit.train.diagnostics_plot import write_report
from rnnkit.train.loop import Trainer, bpc_postfix, evaluate_loss, ppl_postfix
from rnnkit.train.metrics import LN2, MetricsLog, plot_learning_curve, read_metrics
from rnnkit.train.resumable import fit_with_checkpoints

BUILTIN = f"builtin:{DEFAULT_CORPUS_NAME}"
PTB = f"builtin:{PTB_NAME}"
CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"
METRICS_FILE = "metrics.jsonl"
CURVE_FILE = "learning_curve.png"


@dataclass(frozen=True)
class LMDataConfig:
    """Where the text comes from and how it is cut into windows."""

    data: str = BUILTIN          # a UTF-8 text file, or builtin:shakespeare
    seq_len: int = 128           # truncated-BPTT window (tokens per backward pass)
    batch_size: int = 64         # parallel lanes of the stream
    val_fraction: float = 0.1    # tail held out for validation
    eval_batch_size: int = 8     # lanes for validation: fewer lanes, fewer cold starts
    checkpoint_every: int = 500  # steps between checkpoints (and one at the end)
    level: str = "char"          # tokens: "char" (any text) or "word" (builtin:ptb is word)
    max_vocab: int = 0           # word level: keep the most frequent words (0: all)

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise RnnkitError(f"unknown level {self.level!r}; choose one of {', '.join(LEVELS)}")
        if self.data == PTB and self.level != "word":
            raise RnnkitError(f"{PTB} is word-level data (Penn Treebank); drop --level char")


def read_corpus(data: str) -> tuple[str, int]:
    """The text and the character offset where its validation tail starts."""
    if data == BUILTIN:                          # the training plays; their tail validates
        text = default_corpus()[:HELD_OUT_START]
        return text, len(text)
    if data == PTB:
        parts = ptb_texts()
        return parts["train"] + parts["valid"], len(parts["train"])
    if data.startswith("builtin:"):
        raise RnnkitError(f"unknown built-in text {data!r}; the built-in texts are {BUILTIN} "
                          f"and {PTB} (words)")
    text = read_text(data)
    return text, len(text)  # the caller applies val_fraction


TEST_NAMES = {BUILTIN: "The Merchant of Venice, a play training never sees",
              PTB: "the Penn Treebank test set"}


def read_test_text(data: str) -> str | None:
    """The test part of a built-in text (``TEST_NAMES``), else None."""
    if data == BUILTIN:
        return default_corpus()[HELD_OUT_START:]
    return ptb_texts()["test"] if data == PTB else None


def split_text(text: str, val_start: int, val_fraction: float) -> tuple[str, str]:
    if val_start >= len(text):
        if not 0 < val_fraction < 1:
            raise RnnkitError(f"validation fraction must be in (0, 1), got {val_fraction}")
        val_start = int(len(text) * (1 - val_fraction))
    return text[:val_start], text[val_start:]


def lm_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean next-token cross-entropy in nats: logits (B, T, V), targets (B, T)."""
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _write_json(path: Path, obj: dict) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False)))


def read_run_config(run_dir: str | Path) -> dict:
    """config.json of a run folder, with one-line errors for a missing or broken folder."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise RnnkitError(f"run folder '{run_dir}' does not exist")
    if not run_dir.is_dir():
        raise RnnkitError(f"'{run_dir}' is not a run folder (it is a file)")
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise RnnkitError(f"'{run_dir}' is not a run folder: it has no {CONFIG_FILE}")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RnnkitError(f"'{path}' is corrupt (not JSON)") from None
    if not isinstance(config, dict) or "task" not in config:
        raise RnnkitError(f"'{path}' is not an rnnkit run config")
    return config


def lm_figures(loss: float, level: str) -> dict:
    """A mean loss in nats as the level's figure: bits per character, or word perplexity."""
    if level == "char":
        return {"bpc": loss / LN2}
    return {"ppl": math.exp(min(loss, 700.0))}


def describe(loss: float, level: str) -> str:
    """``2.355 bits per character`` or ``108.3 perplexity`` (one line, for the CLI)."""
    figure = lm_figures(loss, level)
    return f"{figure['bpc']:.3f} bits per character" if level == "char" \
        else f"perplexity {figure['ppl']:.1f}"


@dataclass
class LMResult:
    run_dir: Path
    val_loss: float
    steps: int
    seconds: float
    tokens_per_s: float
    level: str = "char"
    test_loss: float | None = None    # a built-in text's test part, scored once at the end
    data: str = ""                    # what it was trained on (LMDataConfig.data)

    @property
    def val_bpc(self) -> float:
        return self.val_loss / LN2


def train_lm(run_dir: str | Path, data: LMDataConfig, model_config: LMConfig | None,
             train_config: TrainConfig, *, resume: bool = False, progress: bool = True,
             model_overrides: dict | None = None, epochs: float | None = None,
             diagnose_every: int | None = None) -> LMResult:
    """Train (or resume) a language model into ``run_dir`` and return its validation result.

    For a new run ``model_config`` may be None: it is built from ``model_overrides`` once the
    vocabulary is known. ``epochs`` (passes over the training text) sets the number of steps.
    ``diagnose_every`` records the gradient flow every N steps (``rnnkit.train.diagnostics``)
    and draws it at the end; None adds nothing to training.
    """
    run_dir = Path(run_dir)
    text, val_start = read_corpus(data.data)
    train_text, val_text = split_text(text, val_start, data.val_fraction)
    if resume:
        tokenizer = load_tokenizer(run_dir / TOKENIZER_FILE)
        saved = read_run_config(run_dir)
        if saved.get("data_sha256") != _sha256(text):
            raise RnnkitError(f"the data {data.data!r} has changed since the run started; "
                              "resume needs the same text")
    else:
        tokenizer = build_tokenizer(data.level, train_text, data.max_vocab)
    if model_config is None:
        model_config = LMConfig(vocab_size=tokenizer.vocab_size, **(model_overrides or {}))

    torch.manual_seed(train_config.seed)
    model = LanguageModel(model_config)
    batcher = StreamBatcher(tokenizer.encode(train_text), data.batch_size, data.seq_len)
    if epochs is not None:
        train_config = train_config.for_epochs(epochs, batcher.windows_per_epoch)
    val_ids = tokenizer.encode(val_text)
    eval_lanes = max(1, min(data.eval_batch_size, len(val_ids) // (data.seq_len + 1)))
    list(eval_windows(val_ids, eval_lanes, data.seq_len))  # a too-short tail fails now
    trainer = Trainer(model, train_config, lm_loss)

    if resume:
        load_model_weights(run_dir, model)
        state = load_trainer_state(run_dir)
        trainer.load_state_dict(state)
        batcher.load_state_dict(state["data"])
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        tokenizer.save(run_dir / TOKENIZER_FILE)
        _write_json(run_dir / CONFIG_FILE, {
            "task": "lm",
            "data": dataclasses.asdict(data),
            "data_sha256": _sha256(text),
            "model": dataclasses.asdict(model_config),
            "train": dataclasses.asdict(train_config),
        })
        (run_dir / METRICS_FILE).unlink(missing_ok=True)
    meta = {"task": "lm", "model": dataclasses.asdict(model_config),
            "tokenizer": tokenizer.to_dict()}

    def plot_curve() -> None:
        if (run_dir / METRICS_FILE).is_file():
            plot_learning_curve(read_metrics(run_dir / METRICS_FILE), run_dir / CURVE_FILE,
                                bpc=data.level == "char",
                                title=f"{model_config.cell} {data.level}-level language model")

    def evaluate() -> dict:
        result = evaluate_loss(model, lm_loss, eval_windows(val_ids, eval_lanes, data.seq_len))
        return {**result, **lm_figures(result["loss"], data.level)}

    log = MetricsLog(run_dir / METRICS_FILE)
    probe = None
    if diagnose_every is not None:
        if not resume:
            (run_dir / FLOW_FILE).unlink(missing_ok=True)
        probe = GradientProbe(model, lm_loss, run_dir, diagnose_every)
    first_step = trainer.step
    last, seconds = fit_with_checkpoints(
        run_dir, model, trainer, batcher, meta, checkpoint_every=data.checkpoint_every,
        after_save=plot_curve, evaluate=evaluate, log=log,
        postfix=bpc_postfix if data.level == "char" else ppl_postfix, progress=progress,
        probe=probe)
    if probe is not None and (run_dir / FLOW_FILE).is_file():
        write_report(run_dir, cell=model_config.cell, title=f"{model_config.cell} language model")
    tokens = (trainer.step - first_step) * data.batch_size * data.seq_len
    test_text = read_test_text(data.data)
    test_loss = None
    if test_text is not None:
        test_ids = tokenizer.encode(test_text)
        test_loss = evaluate_loss(model, lm_loss, eval_windows(test_ids, eval_lanes,
                                                               data.seq_len))["loss"]
        log.write({"kind": "test", "step": trainer.step, "loss": test_loss,
                   **lm_figures(test_loss, data.level)})
    return LMResult(run_dir, last["loss"], trainer.step, seconds, tokens / max(seconds, 1e-9),
                    data.level, test_loss, data.data)
