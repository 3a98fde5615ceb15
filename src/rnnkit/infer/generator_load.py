"""Rebuild the sequence generators from a checkpoint's metadata (used by :func:`load`).

``condgen``: (:class:`~rnnkit.models.conditional.ConditionalGenerator`,
``(SymbolCodec, conditions tuple)``); ``seq2seq``: (:class:`~rnnkit.models.seq2seq.Seq2Seq` or
:class:`~rnnkit.models.transformer_seq2seq.TransformerSeq2Seq`,
``(source SymbolCodec, target SymbolCodec)``).
"""

from __future__ import annotations

from pathlib import Path

from rnnkit.data.symbols import SymbolCodec
from rnnkit.errors import RnnkitError
from rnnkit.models.conditional import ConditionalConfig, ConditionalGenerator
from rnnkit.models.transformer_seq2seq import build_seq2seq

GENERATORS = ("condgen", "seq2seq")


def generator_from_meta(task: str, meta: dict, where: Path):
    try:
        if task == "condgen":
            model = ConditionalGenerator(ConditionalConfig(**meta["model"]))
            return model, (SymbolCodec.from_dict(meta["codec"]), tuple(meta["conditions"]))
        model = build_seq2seq(meta["model"])
        return model, (SymbolCodec.from_dict(meta["source"]),
                       SymbolCodec.from_dict(meta["target"]))
    except (TypeError, KeyError) as e:
        raise RnnkitError(f"'{where}' has a model config this version does not know ({e})") \
            from None
