"""Dropout between stacked recurrent layers, its mask drawn as ``torch.nn``'s kernels draw it, so
that one seed drops the same units in rnnkit's layers as in ``torch.nn``'s (``F.dropout`` draws in
memory order): over the output laid out time-major, or over the packed data of a
``PackedSequence`` (Zaremba et al. 2014, "Recurrent Neural Network Regularization": dropout on
the non-recurrent connections only)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def between_layers_dropout(x: Tensor, p: float) -> Tensor:
    """Dropout on a layer's output x (B, T, C), the mask drawn over it laid out time-major
    (T, B, C), whatever ``batch_first`` says."""
    time_major = x.transpose(0, 1).contiguous()                      # (T, B, C)
    return F.dropout(time_major, p, training=True).transpose(0, 1).contiguous()  # (B, T, C)


def packed_between_layers_dropout(x: Tensor, p: float, *, lengths: Tensor) -> Tensor:
    """Dropout on the padded output x (B, T, C) of a layer fed a ``PackedSequence``, rows in the
    packed order (``lengths`` non-increasing): the mask drawn over the packed data (N, C)."""
    packed = pack_padded_sequence(x, lengths, batch_first=True)      # data (N, C)
    dropped = packed._replace(data=F.dropout(packed.data, p, training=True))
    return pad_packed_sequence(dropped, batch_first=True, total_length=x.shape[1])[0]  # (B, T, C)
