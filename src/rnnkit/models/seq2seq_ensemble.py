"""Several trained seq2seq models decoding as one (an ensemble).

At every decoder step each member reads its own encoding of the source and its own state, and the
ensemble's next-symbol distribution is the weighted geometric mean of the members'
(a product of experts, renormalised):

.. math::
    \\log p(y_t \\mid y_{<t}, x) = \\sum_k w_k \\log p_k(y_t \\mid y_{<t}, x) - \\log Z_t

which is what NMT and G2P systems usually average (Sutskever et al. 2014 ensembled five LSTMs;
Toshniwal & Livescu 2016 report about 2 points of G2P WER from ensembles). The ensemble has the
``encode`` / ``step`` interface of :class:`~rnnkit.models.seq2seq.Seq2Seq`, so greedy decoding and
beam search (:mod:`rnnkit.models.seq2seq_search`) run it unchanged; the attention weights it
reports are the first member's.

>>> import torch
>>> from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
>>> members = [Seq2Seq(Seq2SeqConfig(source_vocab=9, target_vocab=7)) for _ in range(2)]
>>> ensemble = Seq2SeqEnsemble(members)
>>> enc = ensemble.encode(torch.tensor([[4, 5, 6]]))
>>> logp, state, weights = ensemble.step(torch.tensor([2]), enc.state, enc)
>>> logp.shape, weights.shape
(torch.Size([1, 7]), torch.Size([1, 3]))
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from rnnkit.errors import RnnkitError
from rnnkit.models.seq2seq import Encoded, Seq2Seq


@dataclass
class EnsembleEncoded:
    """Each member's encoding of the same source."""

    parts: list[Encoded]

    @property
    def state(self) -> tuple:
        """The members' initial decoder states, one entry per member."""
        return tuple(part.state for part in self.parts)

    def repeat(self, k: int) -> "EnsembleEncoded":
        """Each source k times in a row (for k beams), in every member."""
        return EnsembleEncoded([part.repeat(k) for part in self.parts])


class Seq2SeqEnsemble(nn.Module):
    """Members with the same source and target vocabularies; ``weights`` (default equal) are
    normalised to sum to 1."""

    def __init__(self, members: list[Seq2Seq], weights: list[float] | None = None) -> None:
        super().__init__()
        if not members:
            raise RnnkitError("an ensemble needs at least one model")
        for m in members:
            if not isinstance(m, Seq2Seq):
                raise RnnkitError(f"an ensemble takes recurrent seq2seq models, not "
                                  f"{type(m).__name__}")
        first = members[0].config
        for m in members[1:]:
            if (m.config.source_vocab, m.config.target_vocab) != \
                    (first.source_vocab, first.target_vocab):
                raise RnnkitError("the ensemble's models have different vocabularies; they "
                                  "must be trained on the same data")
        weights = [1.0] * len(members) if weights is None else list(weights)
        if len(weights) != len(members) or min(weights) <= 0:
            raise RnnkitError(f"an ensemble needs one positive weight per model, got {weights}")
        self.members = nn.ModuleList(members)
        total = sum(weights)
        self.weights = [w / total for w in weights]
        self.config = first

    def encode(self, source: Tensor) -> EnsembleEncoded:
        """source (B, S) ids -> every member's :class:`~rnnkit.models.seq2seq.Encoded`."""
        return EnsembleEncoded([m.encode(source) for m in self.members])

    def step(self, y_prev: Tensor, state: tuple, enc: EnsembleEncoded
             ) -> tuple[Tensor, tuple, Tensor]:
        """One step of every member: y_prev (B,) -> (log-probabilities (B, V), the members'
        states, the first member's attention weights (B, S))."""
        steps = [m.step(y_prev, s, e) for m, s, e in zip(self.members, state, enc.parts)]
        mixed = sum(w * logits.log_softmax(-1)                             # (B, V)
                    for w, (logits, _, _) in zip(self.weights, steps))
        return mixed.log_softmax(-1), tuple(s for _, s, _ in steps), steps[0][2]


def ensemble_of(models: list[Seq2Seq]) -> Seq2Seq | Seq2SeqEnsemble:
    """One model as itself, several as an equal-weight :class:`Seq2SeqEnsemble`."""
    return models[0] if len(models) == 1 else Seq2SeqEnsemble(models)


__all__ = ["EnsembleEncoded", "Seq2SeqEnsemble", "ensemble_of"]
