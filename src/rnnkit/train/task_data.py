"""A classification or tagging data set, ready for training: codec, tensors, validation part.

    load_dataset(...) -> Dataset(train, test)               (rnnkit.data.datasets)
      -> the codec is fitted on the training part only     (rnnkit.data.codec)
      -> a validation part is cut from train (stratified for classes, seeded for sentences)
      -> every example becomes a tensor: ids (T,), vectors (T, C) or word+char ids (T, 1+W)

The test part is never looked at during training.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rnnkit.data.codec import Codec, SeriesCodec, TagCodec, TextCodec
from rnnkit.data.text_tokenizer import TextTokenizer
from rnnkit.data.vocab import LabelSet
from rnnkit.data.datasets import Dataset, Split, load_dataset, stratified_indices, warn
from rnnkit.errors import RnnkitError

TASK_OF_KIND = {"text": "classify", "series": "classify", "tagged": "tag"}


@dataclass(frozen=True)
class TaskDataConfig:
    """Where the examples come from and how they become tensors."""

    task: str = "classify"         # "classify" (many-to-one) or "tag" (aligned many-to-many)
    data: str = "builtin:jvowels"  # builtin:NAME, a .csv/.ts/.conllu file or a Brown folder
    text_column: str = "text"      # CSV: column holding the text
    label_column: str = "label"    # CSV: column holding the label
    encoding: str = "utf-8"        # CSV: text encoding of the file
    test_data: str | None = None   # a file of the same format to test on (else a fixed split)
    test_fraction: float = 0.2     # held out for test when the data has no split of its own
    split_seed: int = 0            # seed of that split (and of the validation cut)
    val_fraction: float = 0.1      # of the training part, for the learning curve; 0: none
    level: str = "word"            # text: "word", "char" or "subword" tokens
    subword_model: str = "bpe"     # level "subword": "bpe" or "unigram" (rnnkit.data.subword)
    subword_vocab: int = 4000      # level "subword": pieces the model learns (at most)
    vocab_from: str | None = None  # text: take the vocabulary of this run folder (a language
    #                                model's tokenizer, --init-from) instead of fitting one
    max_len: int = 256             # steps kept per example (longer ones cut, announced)
    max_word_len: int = 16         # tagging: characters read per word
    frame: int = 1                 # series: k consecutive steps stacked into one model step
    min_count: int = 1             # words seen fewer times in training are unknown
    batch_size: int = 32           # sequences per batch
    class_weights: bool = False    # weight the loss by n / (K n_k) for imbalanced classes


def _tensor(x) -> Tensor:
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x)
    return torch.tensor(x, dtype=torch.long)


@dataclass
class TaskData:
    """Encoded examples of each part, and what produced them."""

    dataset: Dataset
    codec: Codec
    train: tuple[list[Tensor], list]   # inputs, targets (int label or (T,) tag ids)
    val: tuple[list[Tensor], list]     # empty lists when val_fraction is 0


def encode_split(codec: Codec, split: Split, *, what: str) -> tuple[list[Tensor], list]:
    """Inputs and targets of ``split`` as tensors; labels unseen in training are refused."""
    if isinstance(codec, TagCodec):
        inputs = [_tensor(x) for x in codec.encode_all(split.inputs)]
        targets = [_tensor(codec.encode_tags(t)) for t in split.targets]
        return inputs, targets
    unseen = codec.labels.unseen(split.targets)
    if unseen:
        shown = ", ".join(f"{k!r} ({n})" for k, n in sorted(unseen.items()))
        raise RnnkitError(f"{what} has label(s) the model never saw in training: {shown}")
    inputs = [_tensor(x) for x in codec.encode_all(split.inputs)]
    return inputs, [codec.labels.index(y) for y in split.targets]


def fit_codec(config: TaskDataConfig, dataset: Dataset) -> Codec:
    train = dataset.train
    if dataset.kind == "series":
        return SeriesCodec.fit(train.inputs, train.targets, max_len=config.max_len,
                               frame=config.frame)
    if dataset.kind == "text":
        return TextCodec.fit(train.inputs, train.targets, level=config.level,
                             max_len=config.max_len, min_count=config.min_count,
                             subword_model=config.subword_model,
                             subword_vocab=config.subword_vocab)
    return TagCodec.fit(train.inputs, train.targets, max_len=config.max_len,
                        max_word_len=config.max_word_len, min_count=config.min_count)


def read_task_dataset(config: TaskDataConfig) -> Dataset:
    """The data set, checked to suit the task."""
    dataset = load_dataset(config.data, text_column=config.text_column,
                           label_column=config.label_column, encoding=config.encoding,
                           test_data=config.test_data, test_fraction=config.test_fraction,
                           seed=config.split_seed)
    wanted = TASK_OF_KIND[dataset.kind]
    if wanted != config.task:
        raise RnnkitError(f"{config.data} holds {dataset.kind} examples, which is a {wanted!r} "
                          f"task; use rnnkit train {wanted}")
    return dataset


def read_labels(*splits: Split):
    return [ts for split in splits for ts in split.targets]


def validation_cut(dataset: Dataset, config: TaskDataConfig) -> tuple[Split, Split]:
    """(training part, validation part): ``val_fraction`` of the training part, stratified by
    label for labelled examples, a seeded random cut of tagged sentences."""
    train = dataset.train
    if not config.val_fraction:
        return train, Split((), ())
    if dataset.kind != "tagged":     # one label per example: a stratified cut
        kept, held = stratified_indices(train.targets, config.val_fraction,
                                        seed=config.split_seed)
    else:                            # tagged sentences: a seeded random cut
        order = list(range(len(train)))
        random.Random(config.split_seed).shuffle(order)
        n = max(1, round(len(order) * config.val_fraction))
        held, kept = sorted(order[:n]), sorted(order[n:])
    return train.subset(kept), train.subset(held)


def unlabelled_texts(config: TaskDataConfig) -> tuple[list[str], list[str]]:
    """The texts of a labelled text data set, labels dropped, for language-model pretraining:
    the training and validation parts of the cut a classifier with the same ``test_fraction``,
    ``split_seed`` and ``val_fraction`` makes, each shuffled (seeded). The test part is never
    read, and a classifier's validation texts stay out of the language model's training."""
    dataset = read_task_dataset(config)
    train, val = validation_cut(dataset, config)
    rng = random.Random(config.split_seed)
    texts = [[x if isinstance(x, str) else " ".join(x) for x in part.inputs]   # tagged: tokens
             for part in (train, val)]
    for part in texts:
        rng.shuffle(part)
    return texts[0], texts[1]


def with_vocabulary(vocabulary: Codec | TextTokenizer, config: TaskDataConfig,
                    dataset: Dataset) -> Codec:
    """The codec whose (word) vocabulary is ``vocabulary``'s: a resumed run's own codec, or a
    language model's tokenizer (a text codec with its tokens; a tagger's word ids)."""
    if not isinstance(vocabulary, TextTokenizer):
        return dataclasses.replace(vocabulary, max_len=config.max_len)
    if dataset.kind == "tagged":
        return dataclasses.replace(fit_codec(config, dataset), words=vocabulary.vocab)
    if dataset.kind != "text":
        raise RnnkitError(f"{config.data} holds {dataset.kind} examples; a language model's "
                          "vocabulary applies to texts and tagged sentences")
    return vocabulary.codec(LabelSet(()), config.max_len)


def prepare(config: TaskDataConfig, vocabulary: Codec | TextTokenizer | None = None) -> TaskData:
    """Load, split off validation, fit the codec on what remains (or take ``vocabulary``'s
    tokens and ids: a language model's tokenizer, or a resumed run's own codec), encode."""
    dataset = read_task_dataset(config)
    tagged = dataset.kind == "tagged"
    train, val = validation_cut(dataset, config)
    dataset = Dataset(dataset.name, dataset.kind, train, dataset.test, dataset.split,
                      dataset.test_indices)
    codec = fit_codec(config, dataset) if vocabulary is None else \
        with_vocabulary(vocabulary, config, dataset)
    # the label set comes from the whole training part, so the validation cut has no new label
    full = (t for ts in read_labels(dataset.train, val) for t in ts) if tagged \
        else dataset.train.targets + val.targets
    codec = dataclasses.replace(codec, labels=LabelSet.build(full))
    if isinstance(codec, SeriesCodec) and any(len(x) > config.max_len for x in val.inputs):
        warn("some validation series are longer than max_len and are truncated too")
    return TaskData(dataset, codec, encode_split(codec, train, what="training data"),
                    encode_split(codec, val, what="the validation part") if len(val) else
                    ([], []))
