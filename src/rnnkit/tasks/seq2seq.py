"""Sequence to sequence (many-to-many unaligned: grapheme-to-phoneme, translation).

    (source, references) pairs: builtin:cmudict (G2P) or builtin:gettext-tr (English -> Turkish)
      -> validation cut             ``val_fraction`` of the training sources (seeded)
      -> SymbolCodecs               source characters; target phones (cmudict) or characters
      -> one example per (source, reference): packed (L, 2) [source ids | <s> y...], targets
         [y..., <s>]
      -> Seq2Seq (bidirectional encoder, attention decoder) or TransformerSeq2Seq
      -> teacher forcing; scheduled sampling when asked (Bengio et al. 2015)
      -> test: greedy decoding; WER and PER (any reference counts), BLEU and chrF for text

Using a trained run (greedy and beam search, ensembles): :mod:`rnnkit.tasks.seq2seq_use`.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnkit.data.datasets import Split, load_dataset
from rnnkit.data.datasets.pairs import seeded_split
from rnnkit.data.padded import PaddedBatches
from rnnkit.data.symbols import BOUNDARY_ID, SymbolCodec
from rnnkit.errors import RnnkitError
from rnnkit.infer.seq2seq_score import score, summary_line
from rnnkit.models.attention import KINDS
from rnnkit.models.encoders import ENCODERS
from rnnkit.models.portable import seq2seq_graphs
from rnnkit.models.sizing import build_checked
from rnnkit.models.transformer_seq2seq import TransformerSeq2Seq, build_seq2seq
from rnnkit.tasks import seq2seq_use
from rnnkit.tasks.base import Task, epochs_of, train_config
from rnnkit.tasks.flags import (SPLIT_SEED, add_positional_flag, add_split_seed_flag,
                                add_test_split_flags, nonnegative_float, positive_int)
from rnnkit.train.loop import evaluate_loss
from rnnkit.train.losses import seq_loss
from rnnkit.train.run import RunResult, RunSetup, RunSpec
from rnnkit.train.run_folder import write_json
from rnnkit.train.schedule import inverse_sigmoid

# phones, space-separated; everything else: characters
TARGET_LEVEL = {"builtin:cmudict": "space", "builtin:cmudict-nostress": "space"}


@dataclass(frozen=True)
class Seq2SeqDataConfig:
    """Where the pairs come from and how many are used."""

    data: str = "builtin:cmudict"  # builtin:cmudict or builtin:gettext-tr
    test_fraction: float = 0.1     # held out (seeded, by source)
    split_seed: int = 0            # seed of that split and of the validation cut
    val_fraction: float = 0.02     # of the training sources, for the learning curve and WER
    batch_size: int = 64           # pairs per batch
    max_train: int = 0             # use at most this many training sources (0: all)
    max_test: int = 0              # score at most this many test sources (0: all)
    max_length: int = 40           # longest output decoded (longer: truncated)


@dataclass
class PairData:
    dataset: object
    train: Split
    val: Split
    test: Split
    codecs: tuple[SymbolCodec, SymbolCodec]    # (source, target)
    config: Seq2SeqDataConfig


def pack(codec_src: SymbolCodec, codec_tgt: SymbolCodec, split: Split):
    """One (L, 2) input and (T,) target per (source, reference)."""
    inputs, targets = [], []
    for source, refs in zip(split.inputs, split.targets):
        src = codec_src.encode(source)
        for ref in refs:
            tgt = codec_tgt.encode(ref)
            L = max(len(src), len(tgt) + 1)
            x = torch.zeros(L, 2, dtype=torch.long)
            x[: len(src), 0] = torch.tensor(src)
            x[: len(tgt) + 1, 1] = torch.tensor([BOUNDARY_ID, *tgt])
            inputs.append(x)
            targets.append(torch.tensor([*tgt, BOUNDARY_ID]))
    return inputs, targets


def prepare(config: Seq2SeqDataConfig) -> PairData:
    dataset = load_dataset(config.data, test_fraction=config.test_fraction,
                           seed=config.split_seed)
    if dataset.kind != "pairs":
        raise RnnkitError(f"{config.data} holds {dataset.kind} examples; seq2seq needs "
                          "(source, reference) pairs: builtin:cmudict, builtin:cmudict-nostress "
                          "or builtin:gettext-tr")
    kept, held = seeded_split(dataset.train, config.val_fraction, config.split_seed) \
        if config.val_fraction else (list(range(len(dataset.train))), [])
    if config.max_train:
        kept = kept[: config.max_train]
    train, val = dataset.train.subset(kept), dataset.train.subset(held)
    test = dataset.test.subset(range(min(len(dataset.test), config.max_test or
                                         len(dataset.test))))
    level = TARGET_LEVEL.get(config.data, "char")
    codecs = (SymbolCodec.fit(train.inputs, "char"),
              SymbolCodec.fit([r for rs in train.targets for r in rs], level))
    return PairData(dataset, train, val, test, codecs, config)


class Seq2SeqTask(Task):
    name = "seq2seq"
    help = "encoder-decoder: a sequence from a sequence (G2P, translation)"
    data_class = Seq2SeqDataConfig
    derived = ("source_vocab", "target_vocab")
    defaults = dict(cell="lstm", embed=64, hidden=128, layers=1, dropout=0.1, batch_size=64,
                    lr=3e-3, clip=1.0, warmup=100, weight_decay=0.01, seed=0, epochs=5.0,
                    val_fraction=0.02, eval_every=0, positional="sinusoidal", test_fraction=0.1)

    def add_train_flags(self, p: argparse.ArgumentParser) -> None:
        add_test_split_flags(p, test_data=False)
        add_split_seed_flag(p)
        add_positional_flag(p)
        p.add_argument("--decoder-cell", choices=ENCODERS, metavar="CELL",
                       help="decoder cell (lstm; any recurrent one; transformer, the default "
                            "with --cell transformer)")
        p.add_argument("--decoder-hidden", type=positive_int, metavar="N",
                       help="decoder state size (2 x --hidden)")
        p.add_argument("--decoder-layers", type=positive_int, metavar="N",
                       help="decoder layers (1; a transformer decoder: --layers)")
        p.add_argument("--attention", choices=KINDS,
                       help="additive (Bahdanau 2015) or multiplicative (Luong 2015) scores "
                            "(multiplicative)")
        p.add_argument("--scheduled-sampling", type=nonnegative_float, metavar="K",
                       help="feed the model's own symbols with chance 1 - k/(k+exp(i/k)) at "
                            "update i (Bengio et al. 2015); 0 or absent: teacher forcing")
        p.add_argument("--max-train", type=positive_int, metavar="N",
                       help="train on at most N sources (all)")
        p.add_argument("--max-test", type=positive_int, metavar="N",
                       help="score at most N test sources (all)")

    def spec(self, s: dict) -> RunSpec:
        if "data" not in s:
            raise RnnkitError("rnnkit train seq2seq needs --data (builtin:cmudict, "
                              "builtin:cmudict-nostress, builtin:gettext-tr; `rnnkit datasets`)")
        data = Seq2SeqDataConfig(data=s["data"], test_fraction=s["test_fraction"],
                                 split_seed=s.get("split_seed", SPLIT_SEED),
                                 batch_size=s["batch_size"], val_fraction=s["val_fraction"],
                                 max_train=s.get("max_train", 0), max_test=s.get("max_test", 0))
        decoder = s.get("decoder_cell") or ("transformer" if s["cell"] == "transformer"
                                            else "lstm")
        common = dict(cell=s["cell"], decoder_cell=decoder, embed_size=s["embed"],
                      hidden_size=s["hidden"], encoder_layers=s["layers"], dropout=s["dropout"],
                      positional=s["positional"])
        if decoder == "transformer":          # the transformer encoder-decoder (Vaswani et al.)
            given = [f"--{k.replace('_', '-')}" for k in ("decoder_hidden", "attention",
                                                          "scheduled_sampling") if s.get(k)]
            if given:
                raise RnnkitError(f"{', '.join(given)} apply to a recurrent decoder; the "
                                  "transformer decoder has width --hidden and multi-head "
                                  "cross-attention")
            model = dict(common, decoder_layers=s.get("decoder_layers") or s["layers"])
        else:
            model = dict(common, decoder_size=s.get("decoder_hidden") or 2 * s["hidden"],
                         decoder_layers=s.get("decoder_layers") or 1,
                         attention=s.get("attention") or "multiplicative")
        return RunSpec(data, model, train_config(s, log_every=20), epochs_of(s),
                       options={"scheduled_sampling": s.get("scheduled_sampling") or 0.0})

    def prepare(self, data: Seq2SeqDataConfig) -> PairData:
        return prepare(data)

    def build(self, prepared: PairData, model_settings: dict, spec: RunSpec) -> RunSetup:
        codecs = prepared.codecs
        model = build_checked(lambda: build_seq2seq(dict(
            model_settings, source_vocab=codecs[0].size, target_vocab=codecs[1].size)))
        k = spec.options.get("scheduled_sampling", 0.0)
        if k and isinstance(model, TransformerSeq2Seq):
            raise RnnkitError("scheduled sampling needs a decoder that runs step by step in "
                              "training; the transformer decoder trains all steps at once")
        config, data = model.config, prepared.config
        batches = PaddedBatches(*pack(*codecs, prepared.train), data.batch_size,
                                seed=spec.train.seed)
        evaluate = None
        if len(prepared.val):
            val_batches = PaddedBatches(*pack(*codecs, prepared.val), 256, shuffle=False)
            probe = prepared.val.subset(range(min(len(prepared.val), 500)))

            def evaluate() -> dict:
                loss = evaluate_loss(model, seq_loss, val_batches)
                rates = score(model, codecs, probe, data.max_length)
                model.train()
                return {**loss, "wer": rates["wer"], "per": rates["per"]}

        def on_step(step: int) -> None:
            model.sample_prob = 1.0 - inverse_sigmoid(step, k)

        return RunSetup(
            model, config, batches, len(batches), seq_loss,
            meta={"task": self.name, "model": dataclasses.asdict(config),
                  "source": codecs[0].to_dict(), "target": codecs[1].to_dict()},
            config={"split": prepared.dataset.split, "kind": "pairs",
                    "examples": {"train": len(prepared.train), "validation": len(prepared.val),
                                 "test": len(prepared.test)}},
            evaluate=evaluate, on_step=on_step if k else None,
            title=f"{config.cell}/{config.decoder_cell} seq2seq: {data.data}")

    def test(self, run_dir: Path, prepared: PairData, setup: RunSetup, spec: RunSpec,
             step: int) -> dict:
        start = time.perf_counter()
        figures = score(setup.model, prepared.codecs, prepared.test, prepared.config.max_length,
                        bleu=TARGET_LEVEL.get(prepared.config.data) is None)
        figures["seconds"] = time.perf_counter() - start
        write_json(run_dir / "evaluation.json", {"split": prepared.dataset.split,
                                                 "test": figures})
        return figures

    def report(self, result: RunResult, spec: RunSpec) -> int:
        minutes, seconds = divmod(result.seconds, 60)
        print(f"trained {result.parameters:,} parameters for {result.steps} steps in "
              f"{int(minutes)} min {seconds:.0f} s; {summary_line(result.test, 'greedy')}; "
              f"run folder: {result.run_dir}")
        return 0

    portable_graphs = staticmethod(seq2seq_graphs)   # rnnkit export's graphs

    def from_meta(self, meta: dict):
        try:
            if not isinstance(meta.get("model"), dict):
                raise RnnkitError("the model config is not an object")
            model = build_checked(lambda: build_seq2seq(meta["model"]), training=False)
            return model, (SymbolCodec.from_dict(meta["source"]),
                                                  SymbolCodec.from_dict(meta["target"]))
        except (TypeError, KeyError) as e:
            raise RnnkitError(f"the model config is not one this version knows ({e})") from None

    add_predict_flags = staticmethod(seq2seq_use.add_predict_flags)
    predict = staticmethod(seq2seq_use.predict)
    show = staticmethod(seq2seq_use.show)
    add_evaluate_flags = staticmethod(seq2seq_use.add_evaluate_flags)

    def evaluate(self, run_dir: Path, config: dict, options: dict) -> int:
        return seq2seq_use.evaluate(run_dir, config, options, prepare)
