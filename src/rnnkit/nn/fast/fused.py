"""The fused path: PyTorch's own multi-layer recurrent kernels run on rnnkit's parameters.

``torch.lstm`` / ``torch.gru`` / ``torch.rnn_tanh`` / ``torch.rnn_relu`` are the functions
``torch.nn.LSTM`` and friends call: oneDNN's fused LSTM on CPU, cuDNN on GPU. The parameters are
passed as the flat list ``[weight_ih, weight_hh, bias_ih, bias_hh(, weight_hr)]`` per layer and
direction (layer 0 forward, layer 0 reverse, layer 1 forward, ...). Right-padded batches with
``lengths`` go through a ``PackedSequence`` exactly as ``torch.nn`` would handle them.

The reference for this path is :func:`rnnkit.nn.recurrence.scan` with the cells' own ``step``;
the tests tie the two on outputs and every gradient.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

FUSED_KERNELS: dict[str, Callable] = {
    "lstm": torch.lstm,
    "gru": torch.gru,
    "rnn_tanh": torch.rnn_tanh,
    "rnn_relu": torch.rnn_relu,
}


def fused_forward(kind: str, x: Tensor, hx: tuple[Tensor, ...], params: list[Tensor], *,
                  has_biases: bool, num_layers: int, dropout: float, training: bool,
                  bidirectional: bool, batch_first: bool = True, lengths: Tensor | None = None
                  ) -> tuple[Tensor, tuple[Tensor, ...]]:
    """x (B, T, I) when ``batch_first`` else (T, B, I), hx: (h0,) or (h0, c0), each
    (L*D, B, H) -> (output (B, T, D*H) or (T, B, D*H), finals)."""
    flags = (has_biases, num_layers, dropout, training, bidirectional)
    if lengths is None:
        output, *finals = FUSED_KERNELS[kind](x, _state(kind, hx), params, *flags, batch_first)
        return output, tuple(finals)

    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=batch_first, enforce_sorted=False)
    sorted_hx = tuple(h.index_select(1, packed.sorted_indices) for h in hx)
    data, finals = fused_packed_forward(kind, packed.data, packed.batch_sizes, sorted_hx, params,
                                        has_biases=has_biases, num_layers=num_layers,
                                        dropout=dropout, training=training,
                                        bidirectional=bidirectional)
    out = PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
    output, _ = pad_packed_sequence(out, batch_first=batch_first,
                                    total_length=x.shape[1 if batch_first else 0])
    return output, tuple(h.index_select(1, packed.unsorted_indices) for h in finals)


def fused_packed_forward(kind: str, data: Tensor, batch_sizes: Tensor, hx: tuple[Tensor, ...],
                         params: list[Tensor], *, has_biases: bool, num_layers: int,
                         dropout: float, training: bool, bidirectional: bool
                         ) -> tuple[Tensor, tuple[Tensor, ...]]:
    """A PackedSequence's data (N, I) and batch sizes, hx in its sorted order -> (output data
    (N, D*H), finals in that order): what ``torch.nn`` runs on a PackedSequence."""
    flags = (has_biases, num_layers, dropout, training, bidirectional)
    data, *finals = FUSED_KERNELS[kind](data, batch_sizes, _state(kind, hx), params, *flags)
    return data, tuple(finals)


def _state(kind: str, state: tuple[Tensor, ...]):
    return state if kind == "lstm" else state[0]
