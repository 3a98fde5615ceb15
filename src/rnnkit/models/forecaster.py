"""Probabilistic forecaster: a recurrent encoder over a scaled window, with a likelihood head
(DeepAR: Salinas et al. 2020, "DeepAR: Probabilistic forecasting with autoregressive recurrent
networks") or a direct multi-horizon quantile head (MQ-RNN: Wen et al. 2017).

Input windows are (B, L + H, C) arrays of :mod:`rnnkit.data.windows` (scaled value, observed,
log scale, series index, covariates). Per step t the network reads

    likelihood head:  [v_{t-1}, o_{t-1}, 0.1 log s, e_id, x_t]   -> encoder -> theta_t (P)
    quantile head:    [v_t, o_t, 0.1 log s, e_id, x_t], t < L   -> encoder -> h_{L-1}
                      [h_{L-1}, v_0 .. v_{L-1}, x_L .. x_{L+H-1}] -> MLP -> H x Q quantiles

so the likelihood head is trained with teacher forcing over the whole window (every step
predicts the next value, as DeepAR) and forecasts by ancestral sampling: S paths, each feeding
its own draws back in (:meth:`Forecaster.sample_paths`). The quantile head outputs all H
horizons at once; the context values also reach its MLP directly (a linear autoregressive path
beside the recurrent state, as LSTNet's highway: Lai et al. 2018), which lets it pick up a
season in tens rather than hundreds of steps; its outputs are sorted, so the quantiles never cross (sorting permutes the
gradients with the values).

>>> import torch
>>> model = Forecaster(ForecasterConfig(horizon=3, context=5, hidden_size=8, num_layers=1))
>>> raw, _ = model(torch.zeros(2, 8, 4))
>>> raw.shape                     # one Student-t (mu, sigma, nu) per step
torch.Size([2, 8, 3])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data.windows import FIXED_CHANNELS, INDEX, LOG_SCALE, OBSERVED, VALUE
from rnnkit.errors import RnnkitError
from rnnkit.models.encoders import build_encoder, check_cell
from rnnkit.models.likelihoods import LIKELIHOODS, likelihood_named

HEADS = ("likelihood", "quantile")
# The levels a forecast reports: the deciles (the CRPS approximation of the metrics) and the
# ends of the 80% and 95% intervals.
QUANTILES = (0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.975)


@dataclass(frozen=True)
class ForecasterConfig:
    """Sizes and choices of a forecaster."""

    horizon: int                   # H: steps forecast at once
    context: int                   # L: past steps read before the forecast start
    num_covariates: int = 0        # K: known covariates per step
    num_series: int = 0            # training series (rows of the id embedding)
    id_embed: int = 0              # width of a learned per-series embedding (0: none)
    cell: str = "lstm"             # an encoder name (models.encoders)
    hidden_size: int = 64          # state size per layer
    num_layers: int = 2            # stacked layers
    dropout: float = 0.1           # between stacked layers and before the head
    head: str = "likelihood"       # "likelihood" (DeepAR, sample paths) or "quantile" (direct)
    likelihood: str = "student_t"  # gaussian, student_t or negbin (likelihood head)
    quantiles: tuple[float, ...] = QUANTILES  # levels of the quantile head
    deseasonalize: bool = False    # read and forecast series / seasonal index (data.seasonal)
    period: int = 1                # the series' seasonal period (the data set's)
    scale_points: int = 0          # scale windows by their last N context points (0: all L)

    def __post_init__(self) -> None:
        check_cell(self.cell)
        for name in ("horizon", "context", "hidden_size", "num_layers", "period"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise RnnkitError(f"{name} must be a positive integer, got {value!r}")
        if self.head not in HEADS:
            raise RnnkitError(f"unknown head {self.head!r}; choose one of {', '.join(HEADS)}")
        likelihood_named(self.likelihood)
        if not isinstance(self.scale_points, int) or not 0 <= self.scale_points <= self.context:
            raise RnnkitError(f"scale_points must be in 0 .. context ({self.context}), got "
                              f"{self.scale_points!r}")
        if self.id_embed and not self.num_series:
            raise RnnkitError("an id embedding needs the number of training series")
        if not 0.0 <= self.dropout < 1.0:
            raise RnnkitError(f"dropout must be in [0, 1), got {self.dropout!r}")
        object.__setattr__(self, "quantiles", tuple(float(q) for q in self.quantiles))


class Forecaster(nn.Module):
    """Encoder + likelihood or quantile head over scaled windows."""

    def __init__(self, config: ForecasterConfig) -> None:
        super().__init__()
        self.config = c = config
        self.embed = nn.Embedding(c.num_series + 1, c.id_embed) if c.id_embed else None
        features = 3 + c.id_embed + c.num_covariates
        self.rnn = build_encoder(c.cell, features, c.hidden_size, c.num_layers,
                                 dropout=c.dropout)
        self.drop = nn.Dropout(c.dropout)
        size = self.rnn.output_size
        if c.head == "likelihood":
            self.likelihood = LIKELIHOODS[c.likelihood]
            self.out = nn.Linear(size, self.likelihood.num_params)
        else:
            q = len(c.quantiles)
            width = size + c.context + c.horizon * c.num_covariates
            self.out = nn.Sequential(nn.Linear(width, size),
                                     nn.ReLU(), nn.Linear(size, c.horizon * q))
            self.register_buffer("levels", torch.tensor(c.quantiles), persistent=False)

    def features(self, x: Tensor, *, shift: bool) -> Tensor:
        """Per-step network inputs (B, T, F) of windows ``x`` (B, T, C); ``shift`` reads the
        previous step's value and observed flag (the autoregressive input)."""
        value, observed = x[..., VALUE], x[..., OBSERVED]
        if shift:
            value = F.pad(value, (1, 0))[:, :-1]
            observed = F.pad(observed, (1, 0))[:, :-1]
        parts = [value.unsqueeze(-1), observed.unsqueeze(-1), 0.1 * x[..., LOG_SCALE:LOG_SCALE + 1]]
        if self.embed is not None:
            index = x[..., INDEX].long()
            index = torch.where((index >= 0) & (index < self.config.num_series), index + 1, 0)
            parts.append(self.embed(index))                  # row 0: an unknown series
        parts.append(x[..., FIXED_CHANNELS:])
        return torch.cat(parts, -1)

    def forward(self, x: Tensor, state=None) -> tuple[Tensor, object]:
        """Likelihood head: raw parameters (B, T, P) of each step's value given the steps
        before it. Quantile head: scaled quantiles (B, H, Q) of the H steps after the context."""
        c = self.config
        if c.head == "likelihood":
            out, state = self.rnn(self.features(x, shift=True), state)        # (B, T, D)
            return self.out(self.drop(out)), state
        out, state = self.rnn(self.features(x[:, :c.context], shift=False), state)
        last = self.drop(out[:, -1])                                           # (B, D)
        past = x[:, :c.context, VALUE]                                         # (B, L)
        future = x[:, c.context:, FIXED_CHANNELS:].flatten(1)                  # (B, H*K)
        raw = self.out(torch.cat([last, past, future], -1)).view(len(x), c.horizon, -1)
        return torch.sort(raw, dim=-1).values, state                          # (B, H, Q)

    @torch.no_grad()
    def sample_paths(self, x: Tensor, samples: int, horizon: int | None = None) -> Tensor:
        """(B, S, H') sample paths in the series' units after windows ``x`` (B, L + H, C)
        whose future values are unknown; H' = ``horizon`` (default H) may exceed H when the
        window carries no covariates."""
        c = self.config
        horizon = horizon or c.horizon
        if c.head != "likelihood":
            raise RnnkitError("sample paths come from a likelihood head; a quantile head "
                              "gives quantiles (Forecaster.forward)")
        if horizon > c.horizon and c.num_covariates:
            raise RnnkitError(f"the covariates cover {c.horizon} steps; cannot forecast "
                              f"{horizon}")
        b, t = len(x), c.context
        rep = x.repeat_interleave(samples, 0)                                  # (B*S, L+H, C)
        if horizon > c.horizon:                                                # extend the window
            rep = torch.cat([rep, rep[:, -1:].expand(-1, horizon - c.horizon, -1)], 1)
        rep = rep.clone()
        scale = torch.exp(rep[:, 0, LOG_SCALE])                               # (B*S,)
        raw, state = self._advance(rep[:, :t + 1], None, 0)
        paths = []
        for h in range(horizon):
            draw = self.likelihood.sample(raw, scale)                          # (B*S,)
            paths.append(draw)
            if h + 1 == horizon:
                break
            rep[:, t + h, VALUE] = draw / scale
            rep[:, t + h, OBSERVED] = 1.0
            raw, state = self._advance(rep[:, t + h:t + h + 2], state, 1)
        return torch.stack(paths, -1).view(b, samples, horizon)

    def _advance(self, x: Tensor, state, start: int) -> tuple[Tensor, object]:
        """Run the likelihood head over the steps ``start:`` of ``x`` (the steps before give the
        autoregressive inputs); the last step's raw parameters (B, P) and the state."""
        out, state = self.rnn(self.features(x, shift=True)[:, start:], state)
        return self.out(self.drop(out[:, -1])), state
