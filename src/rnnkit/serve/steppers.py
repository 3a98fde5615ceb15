"""One decoding step for every stream (lane) being served: token ids in, next-token logits out.

The decoder (:mod:`rnnkit.serve.engine`) keeps a list of lanes; between steps lanes join and
leave, and the stepper is told the new membership with :meth:`regroup` (the rows kept, in
order, then the states of the lanes that join). Three steppers, fastest first:

- :class:`StreamerStepper`, for a language model over a stacked recurrent layer (lstm, gru,
  rnn): the lanes' states live side by side in a :class:`~rnnkit.nn.streaming.Streamer` (one
  fused ``[x_t, h_{t-1}] @ W`` per layer for all lanes, buffers allocated once), one per batch
  size bucket (1, 2, 4, ...), so one step costs one small matrix product per layer whatever the
  number of lanes up to the bucket.
- :class:`StackedStepper`, for any other recurrent encoder (mingru, minlstm, a layer-normalised
  LSTM): the lanes' states stacked along their batch dimension (:mod:`rnnkit.serve.states`)
  and one ``model(tokens (n, 1), state)`` per step.
- :class:`LoopStepper`: one ``model(token (1, 1), state)`` per lane per step, as
  :func:`rnnkit.infer.generate_tokens` does for one prompt. This is "batching off", and the
  only way for the stateless baselines (their windows grow to different lengths, so they do
  not stack).

Every stepper keeps the states in the model's own layout, so a state read out of one
(:meth:`state`) continues in any other, or in ``model.forward``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.errors import RnnkitError
from rnnkit.models.encoders import MINIMAL, RECURRENT
from rnnkit.nn.layers import StackedRecurrent
from rnnkit.nn.streaming import Streamer
from rnnkit.serve.states import _map, batch_dims, select_rows, split_state, stack_states

# What a probe may read per cell, after a step (gates after their nonlinearity).
PROBES = {"lstm": ("h", "c", "i", "f", "o", "g"), "gru": ("h", "r", "z", "n"),
          "rnn_tanh": ("h",), "rnn_relu": ("h",)}
# Position of each gate among a Streamer's gate views (its fused column order, see streaming).
GATE_VIEW = {"lstm": {"i": 0, "f": 1, "o": 2, "g": 3}, "gru": {"r": 0, "z": 1, "n": 2}}


def _bucket(n: int) -> int:
    """The smallest power of two >= n: the Streamer batch size that holds n lanes."""
    return 1 << max(n - 1, 0).bit_length()


def zero_state(model: nn.Module):
    """A batch-1 state of zeros in the model's layout (what ``state=None`` means for a
    recurrent encoder)."""
    with torch.inference_mode():
        _, state = model(torch.zeros(1, 1, dtype=torch.long), None)
    return _map(torch.zeros_like, state)


class LoopStepper:
    """One forward per lane per step (no batching)."""

    probes: tuple[str, ...] = ()

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.states: list = []

    def regroup(self, keep: list[int], added: list) -> None:
        self.states = [self.states[i] for i in keep] + list(added)

    @torch.inference_mode()
    def step(self, tokens: Tensor) -> Tensor:
        """tokens (n,) -> logits (n, V): each lane through ``model`` alone."""
        rows = []
        for i, token in enumerate(tokens.tolist()):
            logits, self.states[i] = self.model(torch.tensor([[token]]), self.states[i])
            rows.append(logits[0, -1])                                   # (V,)
        return torch.stack(rows)

    def state(self, i: int):
        return self.states[i]

    def probe(self, i: int, what: str, layer: int, unit: int) -> float:
        raise RnnkitError("probes need batched decoding of an lstm, gru or rnn model")


class StackedStepper:
    """The lanes' states stacked along their batch dimension, one model call per step."""

    probes: tuple[str, ...] = ()

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.dims = batch_dims(model)
        self.zero = zero_state(model)
        self.batched = None                  # the stacked state of the lanes, or None (none)
        self.n = 0

    def regroup(self, keep: list[int], added: list) -> None:
        parts = [] if not keep else [select_rows(self.batched, self.dims, torch.tensor(keep))]
        parts += [self.zero if s is None else s for s in added]
        self.batched = stack_states(parts, self.dims) if parts else None
        self.n = len(keep) + len(added)

    @torch.inference_mode()
    def step(self, tokens: Tensor) -> Tensor:
        logits, self.batched = self.model(tokens[:, None], self.batched)   # (n, 1, V)
        return logits[:, -1]

    def state(self, i: int):
        return _map(torch.clone, split_state(self.batched, self.dims)[i])

    def probe(self, i: int, what: str, layer: int, unit: int) -> float:
        raise RnnkitError("probes need batched decoding of an lstm, gru or rnn model")


class StreamerStepper:
    """A language model over a :class:`StackedRecurrent` stepped by Streamers, one per batch
    size bucket; lanes occupy the first rows of the current bucket's Streamer."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.rnn = model.rnn
        self.kind = self.rnn.config.cell
        self.probes = PROBES[self.kind]
        self.streamers: dict[int, Streamer] = {}
        self.inputs: dict[int, Tensor] = {}          # per bucket: x_t (S, E), rows >= n zero
        self.current: Streamer | None = None
        self.n = 0

    @staticmethod
    def fits(model: nn.Module) -> bool:
        rnn = getattr(model, "rnn", None)
        return (isinstance(rnn, StackedRecurrent) and not rnn.config.bidirectional
                and not rnn.config.layer_norm and rnn.config.cell in PROBES)

    def _streamer(self, size: int) -> Streamer:
        if size not in self.streamers:
            self.streamers[size] = Streamer(self.rnn, size)
            with torch.inference_mode():
                self.inputs[size] = self.model.embed.weight.new_zeros(
                    size, self.rnn.config.input_size)                     # (S, E)
        return self.streamers[size]

    def _parts(self):
        """The current lanes' (h,) or (h, c), each (L, n, H), as copies."""
        s = self.current
        with torch.inference_mode():
            h = torch.stack([v[:self.n] for v in s.states])
            return (h, torch.stack([c[:self.n] for c in s.c])) if self.kind == "lstm" else (h,)

    def regroup(self, keep: list[int], added: list) -> None:
        n = len(keep) + len(added)
        with torch.inference_mode():
            parts = []
            if keep:
                rows = torch.tensor(keep)
                parts.append(tuple(p.index_select(1, rows) for p in self._parts()))
            for state in added:
                if state is None:
                    parts.append(None)
                else:
                    parts.append(state if isinstance(state, tuple) else (state,))
            self.n = n
            if n == 0:
                self.current = None
                return
            streamer = self._streamer(_bucket(n))
            streamer.reset()
            row = 0
            for part in parts:
                width = 1 if part is None else part[0].shape[1]
                if part is not None:
                    for l in range(len(streamer.states)):
                        streamer.states[l][row:row + width].copy_(part[0][l])
                        if self.kind == "lstm":
                            streamer.c[l][row:row + width].copy_(part[1][l])
                row += width
            self.current = streamer

    @torch.inference_mode()
    def step(self, tokens: Tensor) -> Tensor:
        """tokens (n,) -> logits (n, V); the rows past n of the bucket step on zeros, unread."""
        streamer, n = self.current, self.n
        x = self.inputs[streamer.batch_size]
        x[:n] = self.model.embed(tokens)                                 # (n, E)
        y = streamer.step(x)                                             # (S, H)
        return self.model.head(y[:n])                                    # (n, V)

    def state(self, i: int):
        s = self.current
        with torch.inference_mode():
            h = torch.stack([v[i:i + 1] for v in s.states])              # (L, 1, H)
            if self.kind == "lstm":
                return h, torch.stack([c[i:i + 1] for c in s.c])
            return h

    def probe(self, i: int, what: str, layer: int, unit: int) -> float:
        """The value of unit ``unit`` of ``what`` (h, c or a gate) in layer ``layer`` for lane
        ``i`` at the last step."""
        s = self.current
        if what == "h":
            return float(s.states[layer][i, unit])
        if what == "c":
            return float(s.c[layer][i, unit])
        return float(s.gate_views[layer][GATE_VIEW[self.kind][what]][i, unit])


def stepper_for(model: nn.Module, batched: bool):
    """The fastest stepper that serves ``model`` (a LoopStepper when ``batched`` is False)."""
    if not batched:
        return LoopStepper(model)
    if StreamerStepper.fits(model):
        return StreamerStepper(model)
    cell = getattr(getattr(model, "config", None), "cell", None)
    if cell in RECURRENT or cell in MINIMAL:
        return StackedStepper(model)
    return LoopStepper(model)
