"""Request bodies and their limits. Pydantic checks the types (an unknown field is refused);
:func:`sampling_of` and friends check the ranges against the server's :class:`ServeConfig`.
Every refusal is a :class:`BadRequest`: status 422 and one JSON line naming the field."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from rnnkit.infer.sampling import SamplingConfig
from rnnkit.serve.config import ServeConfig
from rnnkit.serve.engine import Probe


class BadRequest(Exception):
    """A request the server refuses: ``status`` and a one-line ``message`` about ``field``."""

    def __init__(self, message: str, field: str | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.message, self.field, self.status = message, field, status


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProbeSpec(Body):
    what: str = "c"
    layer: int = 0
    unit: int = 0


class Sampling(Body):
    length: int = 200
    temperature: float = 0.8
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: list[str] | str | None = None


class GenerateRequest(Sampling):
    model: str | None = None
    prompt: str
    stream: bool = False
    probe: ProbeSpec | None = None


class SessionRequest(Body):
    model: str | None = None


class AppendRequest(Sampling):
    text: str
    length: int = 0
    top: int = 10             # symbols in the next-symbol distribution returned


class InvocationRequest(Body):
    model: str | None = None
    inputs: list | str | dict | None = None
    parameters: dict = {}


def check_text(text: str, config: ServeConfig, field: str) -> None:
    if not text:
        raise BadRequest(f"{field} is empty", field)
    if len(text) > config.max_prompt_chars:
        raise BadRequest(f"{field} has {len(text):,} characters; at most "
                         f"{config.max_prompt_chars:,} are read", field)


def stops_of(stop, config: ServeConfig) -> tuple[str, ...]:
    stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
    if len(stops) > config.max_stop:
        raise BadRequest(f"at most {config.max_stop} stop strings, got {len(stops)}", "stop")
    if any(not 1 <= len(s) <= 64 for s in stops):
        raise BadRequest("a stop string has 1 to 64 characters", "stop")
    return stops


def sampling_of(req: Sampling, config: ServeConfig) -> tuple[SamplingConfig, tuple[str, ...]]:
    """The request's sampling settings and stop strings, each checked against its range."""
    if not 0 <= req.length <= config.max_length:
        raise BadRequest(f"length must be in [0, {config.max_length}], got {req.length}",
                         "length")
    t = req.temperature
    if not (math.isfinite(t) and 0 <= t <= config.max_temperature):
        raise BadRequest(f"temperature must be in [0, {config.max_temperature:g}], got {t}",
                         "temperature")
    if req.top_k is not None and not 1 <= req.top_k <= 1_000_000:
        raise BadRequest(f"top_k must be a positive integer, got {req.top_k}", "top_k")
    if req.top_p is not None and not (math.isfinite(req.top_p) and 0 < req.top_p <= 1):
        raise BadRequest(f"top_p must be in (0, 1], got {req.top_p}", "top_p")
    if req.seed is not None and not 0 <= req.seed < 2 ** 63:
        raise BadRequest(f"seed must be in [0, 2^63), got {req.seed}", "seed")
    return SamplingConfig(t, req.top_k, req.top_p, req.seed), stops_of(req.stop, config)


def probe_of(spec: ProbeSpec | None, info: dict) -> Probe | None:
    """The probe asked for, checked against what the model's decoder can read."""
    if spec is None:
        return None
    if spec.what not in info.get("probes", ()):
        have = ", ".join(info.get("probes", ())) or "nothing (it needs batched decoding of an " \
            "lstm, gru or rnn model)"
        raise BadRequest(f"probe '{spec.what}' is not available for {info['id']}; it offers "
                         f"{have}", "probe")
    if not 0 <= spec.layer < info["layers"]:
        raise BadRequest(f"probe layer must be in [0, {info['layers']})", "probe")
    if not 0 <= spec.unit < info["hidden_size"]:
        raise BadRequest(f"probe unit must be in [0, {info['hidden_size']})", "probe")
    return Probe(spec.what, spec.layer, spec.unit)
