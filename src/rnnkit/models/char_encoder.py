"""Character encoder: a word's characters -> one vector, for rare and unseen words.

    chars (N, W) -> embedding (N, W, E_c) -> recurrent encoder, bidirectional (N, W, D*H_c)
      -> max over the word's real characters (N, D*H_c)

Words are encoded from their spelling, so suffixes (``-ly``, ``-ed``, ``-lar``) and
capitalisation reach the tagger even for a word never seen in training (Ling et al. 2015,
"Finding Function in Form"; Lample et al. 2016, "Neural Architectures for Named Entity
Recognition", sec. 4.1; Plank et al. 2016, "Multilingual POS tagging with bi-LSTMs").
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.models.encoders import RECURRENT, build_encoder
from rnnkit.nn.traced import is_exporting


class CharEncoder(nn.Module):
    """Embeds characters and max-pools a (bi)directional encoder's outputs over each word."""

    def __init__(self, cell: str, vocab_size: int, embed_size: int, hidden_size: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size, padding_idx=0)
        self.rnn = build_encoder(cell, embed_size, hidden_size, 1,
                                 bidirectional=cell in RECURRENT)
        self.output_size = self.rnn.output_size

    def forward(self, chars: Tensor) -> Tensor:
        """chars (N, W) ids, 0 = padding, each row at least one character -> (N, D*H_c)."""
        lengths = (chars != 0).sum(1).clamp(min=1)                          # (N,)
        if not is_exporting():       # a traced graph keeps every column: W is not a value there
            chars = chars[:, :int(lengths.max())]
        W = chars.shape[1]
        out, _ = self.rnn(self.embed(chars), lengths=lengths.cpu())         # (N, W, D*H_c)
        real = torch.arange(W, device=chars.device)[None, :] < lengths[:, None]
        return out.masked_fill(~real[..., None], float("-inf")).amax(1)     # (N, D*H_c)
