"""Likelihood heads of a probabilistic forecaster: Gaussian, Student-t, negative binomial.

A head maps the network's raw outputs ``raw (..., P)`` to a distribution's parameters (a
softplus keeps scales positive), scores observations by their negative log-likelihood, and
draws samples (Salinas et al. 2020, "DeepAR", section 3.1). The network works on series divided
by a per-series ``scale`` s (the mean absolute value of the context); a head maps back:

    gaussian     y ~ N(s mu, (s sigma)^2)
                 -log p = log(s sigma) + log sqrt(2 pi) + (y - s mu)^2 / (2 (s sigma)^2)
    student_t    y ~ t_nu(s mu, s sigma), nu = 2 + softplus(.) > 2 (a finite variance)
                 -log p = -lgamma((nu+1)/2) + lgamma(nu/2) + log(sqrt(nu pi) s sigma)
                          + (nu+1)/2 log(1 + ((y - s mu) / (s sigma))^2 / nu)
    negbin       y ~ NB(mean m = s mu, shape alpha = a / sqrt(s)), Var = m + alpha m^2
                 -log p = -lgamma(y + 1/alpha) + lgamma(y + 1) + lgamma(1/alpha)
                          + (1/alpha) log(1 + alpha m) - y log(alpha m / (1 + alpha m))

For the continuous heads the loss is the NLL of ``y / s`` (the data-space NLL minus log s, a
constant), so series of any size weigh alike; the negative binomial scores the counts
themselves. Each formula is written out here and tested against scipy's.

>>> import torch
>>> head = LIKELIHOODS["gaussian"]
>>> raw = torch.zeros(2, 3, head.num_params)
>>> head.nll(raw, torch.ones(2, 3), torch.ones(2, 1)).shape
torch.Size([2, 3])
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.errors import RnnkitError

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _positive(x: Tensor) -> Tensor:
    return F.softplus(x) + 1e-4


class Likelihood:
    """A distribution family with its parameter map, NLL and sampler."""

    name = ""
    num_params = 0           # P: raw outputs per step
    counts = False           # True: observations are non-negative integers

    def nll(self, raw: Tensor, y: Tensor, scale: Tensor) -> Tensor:
        """Per-element negative log-likelihood of ``y`` (data space) under ``raw``."""
        raise NotImplementedError

    def sample(self, raw: Tensor, scale: Tensor) -> Tensor:
        """One draw per element, in data space (torch's global generator)."""
        raise NotImplementedError

    def mean(self, raw: Tensor, scale: Tensor) -> Tensor:
        raise NotImplementedError


class Gaussian(Likelihood):
    name, num_params = "gaussian", 2

    def parts(self, raw: Tensor, scale: Tensor) -> tuple[Tensor, Tensor]:
        return raw[..., 0] * scale, _positive(raw[..., 1]) * scale

    def nll(self, raw: Tensor, y: Tensor, scale: Tensor) -> Tensor:
        mu, sigma = raw[..., 0], _positive(raw[..., 1])
        z = (y / scale - mu) / sigma
        return torch.log(sigma) + LOG_SQRT_2PI + 0.5 * z * z

    def sample(self, raw: Tensor, scale: Tensor) -> Tensor:
        mu, sigma = self.parts(raw, scale)
        return mu + sigma * torch.randn_like(mu)

    def mean(self, raw: Tensor, scale: Tensor) -> Tensor:
        return self.parts(raw, scale)[0]


class StudentT(Likelihood):
    name, num_params = "student_t", 3

    def parts(self, raw: Tensor, scale: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return raw[..., 0] * scale, _positive(raw[..., 1]) * scale, 2.0 + F.softplus(raw[..., 2])

    def nll(self, raw: Tensor, y: Tensor, scale: Tensor) -> Tensor:
        mu, sigma, nu = raw[..., 0], _positive(raw[..., 1]), 2.0 + F.softplus(raw[..., 2])
        z = (y / scale - mu) / sigma
        return (torch.lgamma(nu / 2) - torch.lgamma((nu + 1) / 2)
                + 0.5 * torch.log(nu * math.pi) + torch.log(sigma)
                + (nu + 1) / 2 * torch.log1p(z * z / nu))

    def sample(self, raw: Tensor, scale: Tensor) -> Tensor:
        mu, sigma, nu = self.parts(raw, scale)
        return mu + sigma * torch.distributions.StudentT(nu).sample()

    def mean(self, raw: Tensor, scale: Tensor) -> Tensor:
        return self.parts(raw, scale)[0]


class NegativeBinomial(Likelihood):
    name, num_params, counts = "negbin", 2, True

    def parts(self, raw: Tensor, scale: Tensor) -> tuple[Tensor, Tensor]:
        """(mean m, shape alpha) in data space (DeepAR's scaling of both)."""
        return _positive(raw[..., 0]) * scale, _positive(raw[..., 1]) / torch.sqrt(scale)

    def nll(self, raw: Tensor, y: Tensor, scale: Tensor) -> Tensor:
        m, alpha = self.parts(raw, scale)
        r = 1.0 / alpha
        return (torch.lgamma(r) + torch.lgamma(y + 1) - torch.lgamma(y + r)
                + r * torch.log1p(alpha * m) - y * (torch.log(alpha * m) - torch.log1p(alpha * m)))

    def sample(self, raw: Tensor, scale: Tensor) -> Tensor:
        m, alpha = self.parts(raw, scale)
        r = 1.0 / alpha
        rate = torch.distributions.Gamma(r, r / m).sample()        # Poisson-gamma mixture
        return torch.poisson(rate)

    def mean(self, raw: Tensor, scale: Tensor) -> Tensor:
        return self.parts(raw, scale)[0]


LIKELIHOODS: dict[str, Likelihood] = {h.name: h for h in (Gaussian(), StudentT(),
                                                          NegativeBinomial())}


def likelihood_named(name: str) -> Likelihood:
    if name not in LIKELIHOODS:
        raise RnnkitError(f"unknown likelihood {name!r}; choose one of {', '.join(LIKELIHOODS)}")
    return LIKELIHOODS[name]


def pinball(y: Tensor, q: Tensor, levels: Tensor) -> Tensor:
    """Quantile (pinball) loss per element: ``y (..., 1)`` or ``(...)``, ``q (..., Q)``,
    ``levels (Q,)``; ``max(tau (y - q), (tau - 1)(y - q))`` (Koenker & Bassett 1978)."""
    diff = y.unsqueeze(-1) - q
    return torch.maximum(levels * diff, (levels - 1) * diff)
