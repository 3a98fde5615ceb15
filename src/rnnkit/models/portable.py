"""Each model as the graphs a deployment calls: plain tensors in and out, named, with a dynamic
batch (and time), traceable by ``torch.export`` and so by ``torch.onnx.export``.

A recurrent state travels as its parts: ``h`` (L*D, B, H) and, for an LSTM, ``c`` (L*D, B, H);
the inputs are ``h0``/``c0`` and the outputs ``h_n``/``c_n`` (``torch.nn``'s names)::

    language model  step      inputs (B,) ids, h0[, c0]              -> logits (B, V), h_n[, c_n]
                    sequence  inputs (B, T) ids, lengths (B,), h0[, c0]
                                                                     -> logits (B, T, V), h_n[, c_n]
    classifier      sequence  inputs (B, T) ids or (B, T, I) vectors, lengths, h0[, c0]
                                                                     -> logits (B, K), h_n[, c_n]
    tagger          sequence  inputs (B, T, 1 + W), lengths, h0[, c0] -> logits (B, T, K), ...
    seq2seq         encoder   inputs (B, S) source ids, 0-padded     -> memory (B, S, M),
                                                  keys (B, S, A), mask (B, S), h[, c] (decoder's)
                    step      inputs (B,) previous target id, memory, keys, mask, h0[, c0]
                                                       -> logits (B, V), weights (B, S), h_n[, c_n]

``step`` is what a server or an embedded loop calls per token; ``sequence`` reads right-padded
sequences (the state and outputs of each stop at its length, as ``lengths=`` does in eager
mode). Each graph calls the model's own ``forward``/``step``/``encode``: while they are traced the
recurrent layers run their ``"scan"`` path (:mod:`rnnkit.nn.traced`), a one-step call runs the
cell's step alone, and the checks and cuts that need values (source lengths, character counts)
are left out; the tests tie every graph to the eager model.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.export import Dim

from rnnkit.errors import RnnkitError
from rnnkit.models.encoders import MINIMAL, RECURRENT
from rnnkit.models.seq2seq import Encoded, Seq2Seq

# Example sizes of the dynamic axes when a graph is traced (distinct, and >= 2: torch.export
# fixes an axis whose example size is 0 or 1).
EXAMPLE_SIZES = {"batch": 3, "time": 5, "source": 4, "width": 4}
# The smallest size each axis takes (1 when not named): a tagger's rows hold at least two
# character columns (pad words with 0s), as its character encoder reads them as a sequence.
MIN_SIZES = {"width": 3}


@dataclass(frozen=True)
class Port:
    """One input or output of a graph."""

    name: str
    shape: tuple[int | str, ...]   # sizes; a name is a dynamic axis (batch, time, source, ...)
    dtype: str = "float32"         # "float32", "int64" or "bool"
    ids: int = 0                   # int64 ids: examples draw from [1, ids); 0 = not ids


@dataclass(frozen=True)
class Graph:
    """One graph of a model: the module to trace, its inputs and outputs in order."""

    name: str                      # "step", "sequence", "encoder"
    module: nn.Module              # forward(*inputs) -> tuple of the outputs
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    about: str                     # one line: what a call computes

    def example(self, generator: torch.Generator, sizes: dict[str, int] | None = None,
                ) -> tuple[Tensor, ...]:
        """Random inputs (ids >= 1, lengths in [1, time], full-length rows first)."""
        sizes = {**EXAMPLE_SIZES, **(sizes or {})}
        out = []
        for port in self.inputs:
            shape = tuple(sizes[d] if isinstance(d, str) else d for d in port.shape)
            if port.name == "lengths":
                T = sizes["time"]
                lengths = torch.randint(1, T + 1, shape, generator=generator)
                lengths[0] = T
                out.append(lengths)
            elif port.dtype == "int64":
                out.append(torch.randint(1, max(port.ids, 2), shape, generator=generator))
            elif port.dtype == "bool":
                out.append(torch.ones(shape, dtype=torch.bool))
            else:
                out.append(torch.randn(shape, generator=generator))
        return tuple(out)


    def dynamic_shapes(self) -> tuple:
        """``torch.export``'s ``dynamic_shapes`` for the inputs: each named axis one ``Dim``
        (shared by every input that has it), the state parts grouped as ``*state`` is."""
        dims: dict[str, Dim] = {}
        per_port = [{i: dims.setdefault(d, Dim(d, min=MIN_SIZES.get(d, 1)))
                     for i, d in enumerate(port.shape)
                     if isinstance(d, str)} for port in self.inputs]
        params = inspect.signature(self.module.forward).parameters.values()
        fixed = [p for p in params if p.kind is not inspect.Parameter.VAR_POSITIONAL]
        if len(fixed) == len(per_port):
            return tuple(per_port)
        return (*per_port[:len(fixed)], tuple(per_port[len(fixed):]))


def state_ports(encoder: nn.Module, suffix: str) -> tuple[Port, ...]:
    """``h`` and, for an LSTM, ``c`` of a recurrent encoder, each (L*D, batch, width)."""
    config = encoder.config
    if getattr(config, "cell", None) not in (*RECURRENT.values(), *MINIMAL):
        kind = type(encoder).__name__
        raise RnnkitError(f"rnnkit export covers the recurrent cells (lstm, gru, rnn, mingru, "
                          f"minlstm); this model's encoder is a {kind}, which has none")
    D = 2 if getattr(config, "bidirectional", False) else 1
    rows = config.num_layers * D
    if config.cell != "lstm":
        return (Port(f"h{suffix}", (rows, "batch", config.hidden_size)),)
    width = getattr(config, "state_width", config.hidden_size)
    return (Port(f"h{suffix}", (rows, "batch", width)),
            Port(f"c{suffix}", (rows, "batch", config.hidden_size)))


def as_state(parts: tuple[Tensor, ...]):
    """State parts -> the layers' state: (h, c) for an LSTM, h otherwise."""
    return parts if len(parts) == 2 else parts[0]


def as_parts(state) -> tuple[Tensor, ...]:
    return tuple(state) if isinstance(state, tuple) else (state,)


class _Step(nn.Module):
    """Language model, one token: inputs (B,), *state -> logits (B, V), *state."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        logits, new = self.model(inputs[:, None], as_state(state))      # (B, 1, V)
        return (logits[:, 0], *as_parts(new))


class _Sequence(nn.Module):
    """Any sequence model: inputs, lengths (B,), *state -> its output, *final state."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: Tensor, lengths: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        out, new = self.model(inputs, as_state(state), lengths=lengths)
        return (out, *as_parts(new))


class _Encoder(nn.Module):
    """Seq2seq source encoding: inputs (B, S) -> memory, keys, mask, *decoder state."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: Tensor) -> tuple[Tensor, ...]:
        enc = self.model.encode(inputs)
        return (enc.memory, enc.keys, enc.mask, *as_parts(enc.state))


class _DecoderStep(nn.Module):
    """Seq2seq, one target step: inputs (B,), memory, keys, mask, *state -> logits, weights,
    *state."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: Tensor, memory: Tensor, keys: Tensor, mask: Tensor,
                *state: Tensor) -> tuple[Tensor, ...]:
        logits, new, weights = self.model.step(inputs, as_state(state),
                                               Encoded(memory, keys, mask, None))
        return (logits, weights, *as_parts(new))


def lm_graphs(model: nn.Module) -> list[Graph]:
    """A language model's ``step`` and ``sequence``."""
    c = model.config
    h0, hn = state_ports(model.rnn, "0"), state_ports(model.rnn, "_n")
    ids = Port("inputs", ("batch",), "int64", c.vocab_size)
    return [
        Graph("step", _Step(model), (ids, *h0), (Port("logits", ("batch", c.vocab_size)), *hn),
              "one token per row and the state -> next-token logits and the new state"),
        Graph("sequence", _Sequence(model),
              (Port("inputs", ("batch", "time"), "int64", c.vocab_size),
               Port("lengths", ("batch",), "int64"), *h0),
              (Port("logits", ("batch", "time", c.vocab_size)), *hn),
              "right-padded token rows, their lengths and the state -> logits at every step "
              "and the state after each row's last token"),
    ]


def classifier_graphs(model: nn.Module) -> list[Graph]:
    """A classifier's ``sequence``: padded inputs -> one row of class logits per sequence."""
    c = model.config
    inputs = Port("inputs", ("batch", "time"), "int64", c.vocab_size) if c.vocab_size else \
        Port("inputs", ("batch", "time", c.input_size))
    return [Graph("sequence", _Sequence(model),
                  (inputs, Port("lengths", ("batch",), "int64"), *state_ports(model.rnn, "0")),
                  (Port("logits", ("batch", c.num_classes)), *state_ports(model.rnn, "_n")),
                  "right-padded sequences and their lengths -> class logits per sequence")]


def tagger_graphs(model: nn.Module) -> list[Graph]:
    """A tagger's ``sequence``: word and character ids -> tag logits per token."""
    c = model.config
    ids = min(c.vocab_size, c.char_vocab_size)
    return [Graph("sequence", _Sequence(model),
                  (Port("inputs", ("batch", "time", "width"), "int64", ids),
                   Port("lengths", ("batch",), "int64"), *state_ports(model.rnn, "0")),
                  (Port("logits", ("batch", "time", c.num_tags)), *state_ports(model.rnn, "_n")),
                  "right-padded sentences (column 0 word ids, then character ids) and their "
                  "lengths -> tag logits per token")]


def seq2seq_graphs(model: nn.Module) -> list[Graph]:
    """A seq2seq model's ``encoder`` and decoder ``step`` (greedy or beam search is the
    caller's loop: start from the boundary symbol, feed each chosen symbol back)."""
    if not isinstance(model, Seq2Seq):
        raise RnnkitError("rnnkit export covers the recurrent seq2seq models; this one's decoder "
                          "is a transformer")
    c = model.config
    state_ports(model.encoder, "")                       # refuses a stateless encoder
    M = model.encoder.output_size
    A = c.attention_size if c.attention == "additive" else c.decoder_size
    memory = (Port("memory", ("batch", "source", M)), Port("keys", ("batch", "source", A)),
              Port("mask", ("batch", "source"), "bool"))
    return [
        Graph("encoder", _Encoder(model),
              (Port("inputs", ("batch", "source"), "int64", c.source_vocab),),
              (*memory, *state_ports(model.decoder, "")),
              "0-padded source ids -> the memory the decoder attends to and its first state"),
        Graph("step", _DecoderStep(model),
              (Port("inputs", ("batch",), "int64", c.target_vocab), *memory,
               *state_ports(model.decoder, "0")),
              (Port("logits", ("batch", c.target_vocab)), Port("weights", ("batch", "source")),
               *state_ports(model.decoder, "_n")),
              "the previous target symbol, the encoder's outputs and the state -> next-symbol "
              "logits, attention weights and the new state"),
    ]
