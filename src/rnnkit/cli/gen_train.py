"""``rnnkit train --task condgen|seq2seq``: the generators' flags and runs.

    rnnkit train --task condgen --data builtin:names --out runs/names
    rnnkit train --task seq2seq --data builtin:cmudict --attention additive --out runs/g2p
    rnnkit train --task seq2seq --data builtin:cmudict --cell transformer --out runs/g2p-tf

For seq2seq, ``--cell transformer`` alone is the transformer encoder-decoder; with
``--decoder-cell lstm`` (or another recurrent cell) it is a transformer encoder read by a
recurrent attention decoder.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rnnkit.cli.args import nonnegative_float, positive_int, refuse_flags, split_seed
from rnnkit.cli.train_settings import train_config
from rnnkit.errors import RnnkitError
from rnnkit.models.attention import KINDS
from rnnkit.models.encoders import ENCODERS
from rnnkit.train.config import TrainConfig

TASKS = ("condgen", "seq2seq")
# Used where a flag is not given: sized for minutes on two CPU cores.
DEFAULTS = {
    "condgen": dict(cell="lstm", embed=32, hidden=256, layers=1, dropout=0.1, batch_size=64,
                    lr=3e-3, clip=1.0, warmup=50, weight_decay=0.01, seed=0, epochs=15.0),
    "seq2seq": dict(cell="lstm", embed=64, hidden=128, layers=1, dropout=0.1, batch_size=64,
                    lr=3e-3, clip=1.0, warmup=100, weight_decay=0.01, seed=0, epochs=5.0),
}
FOREIGN = ("tie_weights", "seq_len", "pooling", "unidirectional", "class_weights",
           "char_hidden", "word_dropout", "frame", "level", "max_vocab")


def add_generation_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("generators (--task condgen|seq2seq)")
    g.add_argument("--decoder-cell", choices=ENCODERS, metavar="CELL",
                   help="seq2seq: decoder cell (lstm; any recurrent one; transformer, the "
                   "default with --cell transformer)")
    g.add_argument("--decoder-hidden", type=positive_int, metavar="N",
                   help="seq2seq: decoder state size (2 x --hidden)")
    g.add_argument("--decoder-layers", type=positive_int, metavar="N",
                   help="seq2seq: decoder layers (1)")
    g.add_argument("--attention", choices=KINDS,
                   help="seq2seq: additive (Bahdanau 2015) or multiplicative (Luong 2015) "
                   "scores (multiplicative)")
    g.add_argument("--scheduled-sampling", type=nonnegative_float, metavar="K",
                   help="seq2seq: feed the model's own symbols with chance 1 - k/(k+exp(i/k)) "
                   "at step i (Bengio et al. 2015, inverse sigmoid decay); 0 or absent: pure "
                   "teacher forcing")
    g.add_argument("--max-train", type=positive_int, metavar="N",
                   help="seq2seq: train on at most N sources (all)")
    g.add_argument("--max-test", type=positive_int, metavar="N",
                   help="seq2seq: score at most N test sources (all)")
    g.add_argument("--classifier", metavar="RUN",
                   help="condgen: rnnkit classifier run that scores generated texts "
                   "(default: a character n-gram logistic regression)")


GENERATOR_ONLY = ("decoder_cell", "decoder_hidden", "decoder_layers", "attention",
                  "scheduled_sampling", "max_train", "max_test", "classifier")


def refuse_generation_flags(args: argparse.Namespace, task: str) -> None:
    """One line when a seq2seq/condgen flag is given to another task (never silently ignored)."""
    what = "the language model" if task == "lm" else f"--task {task}"
    refuse_flags(args, GENERATOR_ONLY, f"to --task seq2seq or condgen, not {what}")


def _setting(args, defaults: dict, name: str):
    value = getattr(args, name, None)
    return defaults[name] if value is None else value


def run_generation_task(args: argparse.Namespace) -> int:
    given = [f"--{n.replace('_', '-')}" for n in FOREIGN if getattr(args, n, None)]
    if given:
        raise RnnkitError(f"{', '.join(given)} do not apply to --task {args.task}")
    defaults = DEFAULTS[args.task]
    s = {k: _setting(args, defaults, k) for k in defaults}
    if args.steps is not None:
        s["epochs"] = None
    out = Path(args.out or f"runs/{args.task}-{time.strftime('%Y%m%d-%H%M%S')}")
    if out.exists() and not out.is_dir():
        raise RnnkitError(f"--out '{out}' is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise RnnkitError(f"run folder '{out}' already exists; use --overwrite to replace it")
    if args.data is None:
        raise RnnkitError(f"--task {args.task} needs --data (builtin:names, builtin:cmudict, "
                          "builtin:gettext-tr or a file; `rnnkit datasets`)")
    train = train_config(args, s, steps=args.steps or 1, eval_every=args.eval_every or 0,
                         log_every=20)
    if args.task == "condgen":
        return _condgen(args, s, out, train)
    return _seq2seq(args, s, out, train)


def _report(result, what: str) -> None:
    minutes, seconds = divmod(result.seconds, 60)
    print(f"trained {result.parameters:,} parameters for {result.steps} steps in "
          f"{int(minutes)} min {seconds:.0f} s; {what}; run folder: {result.run_dir}")


def _condgen(args, s: dict, out: Path, train: TrainConfig) -> int:
    from rnnkit.train.condgen_job import CondGenDataConfig, train_condgen

    data = CondGenDataConfig(data=args.data, text_column=args.text_column or "text",
                             label_column=args.label_column or "label",
                             test_fraction=args.test_fraction or 0.2,
                             split_seed=split_seed(args, s["seed"]),
                             val_fraction=0.1 if args.val_fraction is None else
                             args.val_fraction, batch_size=s["batch_size"])
    if args.positional:
        raise RnnkitError("--positional applies to a transformer; the conditional generator is "
                          "recurrent (lstm, gru, rnn, mingru or minlstm)")
    model = dict(cell=s["cell"], embed_size=s["embed"], hidden_size=s["hidden"],
                 num_layers=s["layers"], dropout=s["dropout"])
    result = train_condgen(out, data, model, train, epochs=s["epochs"],
                           progress=not args.no_progress,
                           checkpoint_every=args.checkpoint_every or 0)
    return _condgen_report(args, result)


def _condgen_report(args, result) -> int:
    from rnnkit.infer import load
    from rnnkit.infer.condgen_eval import evaluate_condgen
    out = result.run_dir
    val = "no validation part" if result.val_nll is None else \
        f"validation NLL {result.val_nll:.4f} nats per symbol"
    _report(result, val)
    net, codec = load(out)
    figures = evaluate_condgen(out, net, codec, classifier=args.classifier)
    from rnnkit.train.resumable import write_json
    write_json(out / "evaluation.json", figures)
    print(condgen_summary(figures))
    return 0


def condgen_summary(figures: dict) -> str:
    """A conditional generator's test figures in one line."""
    line = (f"test NLL {figures['test_nll']:.4f} nats per symbol; {figures['samples']} "
            f"samples: {100 * figures['novel']:.1f}% new")
    if figures["agreement"] is not None:
        line += (f", {100 * figures['agreement']:.1f}% classified as the asked condition "
                 f"({figures['classifier']}; on real test names "
                 f"{100 * figures['classifier_test_accuracy']:.1f}%)")
    return line


def _seq2seq(args, s: dict, out: Path, train: TrainConfig) -> int:
    from rnnkit.train.seq2seq_job import Seq2SeqDataConfig, train_seq2seq

    data = Seq2SeqDataConfig(data=args.data, split_seed=split_seed(args, s["seed"]),
                             batch_size=s["batch_size"],
                             val_fraction=0.02 if args.val_fraction is None else
                             args.val_fraction, max_train=args.max_train or 0,
                             max_test=args.max_test or 0)
    decoder = args.decoder_cell or ("transformer" if s["cell"] == "transformer" else "lstm")
    if decoder == "transformer":           # the transformer encoder-decoder (Vaswani et al.)
        given = [flag for flag, value in (("--decoder-hidden", args.decoder_hidden),
                                          ("--attention", args.attention),
                                          ("--scheduled-sampling", args.scheduled_sampling))
                 if value]
        if given:
            raise RnnkitError(f"{', '.join(given)} apply to a recurrent decoder; the transformer "
                              "decoder has width --hidden and multi-head cross-attention")
        model = dict(cell=s["cell"], decoder_cell=decoder, embed_size=s["embed"],
                     hidden_size=s["hidden"], encoder_layers=s["layers"],
                     decoder_layers=args.decoder_layers or s["layers"], dropout=s["dropout"],
                     positional=args.positional or "sinusoidal")
    else:
        model = dict(cell=s["cell"], decoder_cell=decoder,
                     embed_size=s["embed"], hidden_size=s["hidden"],
                     decoder_size=args.decoder_hidden or 2 * s["hidden"],
                     encoder_layers=s["layers"], decoder_layers=args.decoder_layers or 1,
                     attention=args.attention or "multiplicative", dropout=s["dropout"],
                     positional=args.positional or "sinusoidal")
    result = train_seq2seq(out, data, model, train, epochs=s["epochs"],
                           scheduled_sampling=args.scheduled_sampling or 0.0,
                           progress=not args.no_progress,
                           checkpoint_every=args.checkpoint_every or 0)
    _report(result, result.summary)
    return 0


def resume_generation(args: argparse.Namespace, saved: dict, train: TrainConfig) -> int:
    """Continue a condgen/seq2seq run from its checkpoint (``rnnkit train --resume RUN``)."""
    from rnnkit.train.condgen_job import CondGenDataConfig, train_condgen
    from rnnkit.train.seq2seq_job import Seq2SeqDataConfig, train_seq2seq
    from rnnkit.train.resumable import from_saved
    job, config = ((train_condgen, CondGenDataConfig) if saved["task"] == "condgen" else
                   (train_seq2seq, Seq2SeqDataConfig))
    data = from_saved(config, saved, "data", args.resume)
    result = job(args.resume, data, {}, train, progress=not args.no_progress,
                 checkpoint_every=args.checkpoint_every or 0, saved=saved)
    if saved["task"] == "condgen":
        return _condgen_report(args, result)
    _report(result, result.summary)
    return 0
