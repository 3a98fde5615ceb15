"""The seq2seq job: (source, references) pairs -> Seq2Seq or TransformerSeq2Seq -> run folder,
WER/PER or BLEU/chrF.

    load_dataset(data)         builtin:cmudict (G2P) or builtin:gettext-tr (English -> Turkish)
      -> validation cut        ``val_fraction`` of the training sources (seeded)
      -> SymbolCodecs          source characters; target phones (cmudict) or characters
      -> one example per (source, reference): packed (L, 2) [source ids | <s> y...], targets
         [y..., <s>]
      -> Trainer (teacher forcing; scheduled sampling when asked) -> run folder
      -> test: greedy decoding; WER and PER (any reference counts), or sacrebleu BLEU and chrF

Scheduled sampling uses the inverse-sigmoid decay of Bengio et al. 2015 (sec. 2.4): the chance
of feeding the true symbol at update i is ``k / (k + exp(i / k))``.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnkit.data.datasets import Split, load_dataset
from rnnkit.data.datasets.pairs import seeded_split
from rnnkit.data.padded import PaddedBatches
from rnnkit.data.symbols import BOUNDARY_ID, SymbolCodec
from rnnkit.errors import RnnkitError
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.models.seq2seq_beam import beam_search_many
from rnnkit.models.seq2seq_search import DEFAULT_ALPHA, greedy_decode
from rnnkit.models.transformer_seq2seq import TransformerSeq2Seq, build_seq2seq
from rnnkit.train.condgen_job import seq_loss
from rnnkit.train.config import TrainConfig
from rnnkit.train.loop import Trainer, evaluate_loss
from rnnkit.train.metrics import MetricsLog, plot_learning_curve, read_metrics
from rnnkit.train.resumable import fit_with_checkpoints, saved_settings, start_run, write_json
from rnnkit.train.seq2seq_metrics import error_rates

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


def decode_all(model: Seq2Seq | TransformerSeq2Seq, sources: list[list[int]], max_length: int,
               *, beam: int = 1, batch: int = 256, alpha: float = DEFAULT_ALPHA) -> list:
    """The best hypothesis per source, ``batch`` sources at a time: greedy decoding, or beam
    search (length-normalised with exponent ``alpha``) when ``beam`` > 1."""
    if beam > 1:
        return [hyps[0] for i in range(0, len(sources), batch)
                for hyps in beam_search_many(model, sources[i: i + batch], beam=beam,
                                             max_length=max_length, alpha=alpha)]
    return [h for i in range(0, len(sources), batch)
            for h in greedy_decode(model, sources[i: i + batch], max_length=max_length)]


def score(model: Seq2Seq | TransformerSeq2Seq, codecs, split: Split, max_length: int, *,
          batch: int = 256, bleu: bool = False, beam: int = 1,
          alpha: float = DEFAULT_ALPHA) -> dict:
    """Outputs of ``split`` (greedy, or beam search of width ``beam`` and length-penalty
    exponent ``alpha``) scored: WER/PER, and BLEU/chrF when ``bleu``."""
    src_codec, tgt_codec = codecs
    outputs, truncated = [], 0
    sources = [src_codec.encode(s) for s in split.inputs]
    for h in decode_all(model, sources, max_length, beam=beam, batch=batch, alpha=alpha):
        outputs.append(tgt_codec.decode(h.ids))
        truncated += h.truncated
    refs = [[tgt_codec.split(r) for r in rs] for rs in split.targets]
    result = {**error_rates(outputs, refs), "truncated": truncated}
    if bleu:
        try:
            import sacrebleu
        except ImportError:  # an optional metric: announced, the run itself is kept
            print("rnnkit: warning: BLEU and chrF skipped: they need sacrebleu "
                  "(pip install sacrebleu)", file=sys.stderr)
            return result
        hyps = [tgt_codec.join(o) for o in outputs]
        first = [rs[0] for rs in split.targets]
        result["bleu"] = sacrebleu.corpus_bleu(hyps, [first]).score
        result["chrf"] = sacrebleu.corpus_chrf(hyps, [first]).score
    return result


def summary_line(figures: dict, decoding: str) -> str:
    """The test figures of :func:`score` in one line."""
    line = (f"test ({figures['words']:,} sources, {decoding}): WER {100 * figures['wer']:.2f}%, "
            f"PER {100 * figures['per']:.2f}%")
    if "bleu" in figures:
        line += f", BLEU {figures['bleu']:.2f}, chrF {figures['chrf']:.2f}"
    return line


def inverse_sigmoid(step: int, k: float) -> float:
    """Bengio et al. 2015: the chance of feeding the truth at update ``step``."""
    return k / (k + math.exp(min(step / k, 700.0)))


@dataclass
class Seq2SeqResult:
    run_dir: Path
    summary: str        # the test figures in one line
    test: dict          # the test figures
    steps: int
    seconds: float
    parameters: int


def prepare(config: Seq2SeqDataConfig):
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
    return dataset, train, val, test, codecs


# Model sizes the data decides; a resumed run derives them again and checks they agree.
DERIVED = ("source_vocab", "target_vocab")


def train_seq2seq(run_dir: str | Path, data_config: Seq2SeqDataConfig, model_overrides: dict,
                  train_config: TrainConfig, *, epochs: float | None = None,
                  scheduled_sampling: float = 0.0, progress: bool = True,
                  checkpoint_every: int = 0, saved: dict | None = None) -> Seq2SeqResult:
    """Train an attention encoder-decoder into ``run_dir`` and score it on the test part;
    ``saved`` (the run's config.json) continues the run in ``run_dir`` with its model."""
    run_dir = Path(run_dir)
    dataset, train, val, test, codecs = prepare(data_config)
    if saved is not None:
        model_overrides = saved_settings(saved["model"], DERIVED)
        scheduled_sampling = saved["scheduled_sampling"]
    torch.manual_seed(train_config.seed)
    try:
        model = build_seq2seq(dict(source_vocab=codecs[0].size, target_vocab=codecs[1].size,
                                   **model_overrides))
    except TypeError as e:
        raise RnnkitError(f"a model setting does not apply to --task seq2seq ({e})") from None
    if scheduled_sampling and isinstance(model, TransformerSeq2Seq):
        raise RnnkitError("scheduled sampling needs a decoder that runs step by step in "
                          "training; the transformer decoder trains all steps at once")
    config = model.config
    batches = PaddedBatches(*pack(*codecs, train), data_config.batch_size,
                            seed=train_config.seed)
    if epochs is not None:
        train_config = train_config.for_epochs(epochs, len(batches))
    trainer = Trainer(model, train_config, seq_loss)
    meta = {"task": "seq2seq", "model": dataclasses.asdict(config),
            "source": codecs[0].to_dict(), "target": codecs[1].to_dict()}
    start_run(run_dir, saved, {
        "task": "seq2seq", "data": dataclasses.asdict(data_config),
        "model": dataclasses.asdict(config), "train": dataclasses.asdict(train_config),
        "scheduled_sampling": scheduled_sampling, "split": dataset.split, "kind": "pairs",
        "examples": {"train": len(train), "validation": len(val), "test": len(test)}},
        meta, model, trainer, batches)
    bleu = TARGET_LEVEL.get(data_config.data) is None
    evaluate = None
    if len(val):
        val_batches = PaddedBatches(*pack(*codecs, val), 256, shuffle=False)
        probe = val.subset(range(min(len(val), 500)))

        def evaluate() -> dict:
            loss = evaluate_loss(model, seq_loss, val_batches)
            rates = score(model, codecs, probe, data_config.max_length)
            model.train()
            return {**loss, "wer": rates["wer"], "per": rates["per"]}

    def on_step(metrics: dict) -> None:
        if scheduled_sampling:
            model.sample_prob = 1.0 - inverse_sigmoid(trainer.step, scheduled_sampling)

    _, seconds = fit_with_checkpoints(
        run_dir, model, trainer, batches, meta, checkpoint_every=checkpoint_every,
        evaluate=evaluate, on_step=on_step, log=MetricsLog(run_dir / "metrics.jsonl"),
        progress=progress)
    plot_learning_curve(read_metrics(run_dir / "metrics.jsonl"), run_dir / "learning_curve.png",
                        title=f"{config.cell}/{config.decoder_cell} seq2seq: {data_config.data}")
    start_test = time.perf_counter()
    figures = score(model, codecs, test, data_config.max_length, bleu=bleu)
    figures["seconds"] = time.perf_counter() - start_test
    write_json(run_dir / "evaluation.json", {"split": dataset.split, "test": figures,
                                             "train_seconds": seconds})
    return Seq2SeqResult(run_dir, summary_line(figures, "greedy"), figures, trainer.step, seconds,
                         sum(p.numel() for p in model.parameters()))
