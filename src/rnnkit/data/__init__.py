"""Data: text files -> characters -> token ids -> batches (nothing here imports from nn/train)."""

from rnnkit.data.batch import Batch, SequenceBatch, StreamBatch
from rnnkit.data.corpus import default_corpus
from rnnkit.data.stream import StreamBatcher, eval_windows, split_tail
from rnnkit.data.text import atomic_write, read_text
from rnnkit.data.tokenizer import UNK, CharTokenizer

__all__ = [
    "Batch",
    "CharTokenizer",
    "SequenceBatch",
    "StreamBatch",
    "StreamBatcher",
    "UNK",
    "atomic_write",
    "default_corpus",
    "eval_windows",
    "read_text",
    "split_tail",
]
