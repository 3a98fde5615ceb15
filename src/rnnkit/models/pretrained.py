"""Starting weights from elsewhere: pretrained word vectors, or a trained language model.

* :func:`load_vectors`: embedding row ``i`` becomes the pretrained vector of symbol ``i`` where
  the vectors know it (GloVe: Pennington et al. 2014); the rows they do not know are drawn
  from ``N(0, s^2)`` with ``s`` the known vectors' standard deviation, so every row starts at
  the same scale; the padding row stays zero.
* :func:`copy_language_model`: the embedding and the recurrent layers of a language model
  (:class:`~rnnkit.models.lm.LanguageModel`) become the classifier's or tagger's, the first
  stage of ULMFiT's transfer (Howard & Ruder 2018, sec. 3: general-domain or target-task LM,
  then classifier fine-tuning). A language model reads left to right, so it fills the forward
  direction of a bidirectional encoder; the backward direction and the head start fresh. Where
  the first layer reads more features than the language model's embedding (a tagger's
  character encoder beside its word embedding; a bidirectional layer above the first, which
  reads both directions), the language model's input weights fill the columns of the features
  it knows, which come first (the word embedding; the forward direction), and the other
  columns start at zero: at step 0 the forward direction computes the language model's states
  exactly, and the new inputs join as training moves their weights off zero.

Both run once, on a fresh run: the weights a run saves carry what they copied.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from rnnkit.errors import RnnkitError


def load_vectors(embed: nn.Embedding, found: np.ndarray, vectors: np.ndarray) -> int:
    """Fill ``embed`` (V, D) from ``vectors`` (V, D) where ``found`` (V,) is True; returns how
    many rows were found. Row ``embed.padding_idx`` (if any) stays zero."""
    V, D = embed.weight.shape
    if vectors.shape != (V, D):
        raise RnnkitError(f"the word vectors have {vectors.shape[1]} dimensions and the "
                          f"embedding {D}; give --embed {vectors.shape[1]}")
    known = torch.from_numpy(found)                                       # (V,)
    table = torch.from_numpy(vectors)                                     # (V, D)
    scale = float(table[known].std()) if int(known.sum()) > 1 else 1.0
    with torch.no_grad():
        fresh = torch.randn(V, D, generator=torch.Generator().manual_seed(V)) * scale
        embed.weight.copy_(torch.where(known[:, None], table, fresh))
        if embed.padding_idx is not None:
            embed.weight[embed.padding_idx].zero_()
    return int(known.sum())


def _check_same(what: str, lm_value, value, flag: str) -> None:
    if lm_value != value:
        raise RnnkitError(f"the language model's {what} is {lm_value} and this model's is "
                          f"{value}; give {flag} {lm_value}")


def copy_language_model(target: nn.Module, lm: nn.Module, *, embed_size: int,
                        padding_idx: int | None = 0) -> list[str]:
    """Copy ``lm``'s embedding and recurrent layers into ``target`` (which has ``embed`` and
    ``rnn`` like the language model, its first layer reading ``embed_size`` word features
    first); returns the names of the copied tensors. Sizes that differ are one line naming the
    flag that fixes them."""
    lc, tc = lm.config, target.config
    _check_same("cell", lc.cell, tc.cell, "--cell")
    _check_same("embedding width", lc.embed_size, embed_size, "--embed")
    _check_same("hidden size", lc.hidden_size, tc.hidden_size, "--hidden")
    _check_same("layer count", lc.num_layers, tc.num_layers, "--layers")
    if lm.embed.weight.shape != target.embed.weight.shape:
        raise RnnkitError(f"the language model has {lm.embed.weight.shape[0]} token ids and "
                          f"this model {target.embed.weight.shape[0]}: not the same vocabulary")
    mine = target.rnn.state_dict()
    copied = ["embed.weight"]
    with torch.no_grad():
        target.embed.weight.copy_(lm.embed.weight)
        if padding_idx is not None:
            target.embed.weight[padding_idx].zero_()
        for name, value in lm.rnn.state_dict().items():
            if name not in mine:
                raise RnnkitError(f"the language model's {lc.cell} layers have no counterpart "
                                  f"here ({name}); train both with the same rnnkit version")
            slot = mine[name]
            if slot.shape == value.shape:
                slot.copy_(value)
            elif slot.ndim == 2 and slot.shape[0] == value.shape[0] \
                    and slot.shape[1] > value.shape[1]:
                slot.zero_()                            # the other features start silent,
                slot[:, :value.shape[1]].copy_(value)   # its own come first (word; forward)
            else:
                raise RnnkitError(f"the language model's {name} is {tuple(value.shape)}, this "
                                  f"model's {tuple(slot.shape)}")
            copied.append(f"rnn.{name}")
    return copied


def layer_groups(embedding: list[nn.Module], encoder: nn.Module,
                 top: list[nn.Module]) -> list[list[nn.Parameter]]:
    """Parameters by depth, input side first: the embedding modules, each recurrent layer (both
    directions; parameters named ``*_l{k}`` or ``*_l{k}_reverse``), the modules on top. An
    encoder without such names is one group. What discriminative fine-tuning and gradual
    unfreezing (:mod:`rnnkit.train.optim`) walk through."""
    by_layer: dict[int, list[nn.Parameter]] = {}
    for name, p in encoder.named_parameters():
        stem = name.removesuffix("_reverse")
        k = stem.rsplit("_l", 1)[-1]
        if "_l" not in stem or not k.isdigit():
            by_layer = {0: list(encoder.parameters())}
            break
        by_layer.setdefault(int(k), []).append(p)
    groups = [[p for m in embedding for p in m.parameters()],
              *(by_layer[k] for k in sorted(by_layer)),
              [p for m in top for p in m.parameters()]]
    return [g for g in groups if g]
