"""Stream generated text to the terminal, shared by ``train`` (its closing sample) and
``generate``."""

from __future__ import annotations

import sys

from rnnkit.errors import RnnkitError
from rnnkit.infer import SamplingConfig, generate_tokens, load


def print_sample(run, *, prompt: str, length: int, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None,
                 seed: int | None = None) -> None:
    """Print ``prompt`` and then each generated character as soon as it is drawn."""
    model, tokenizer = load(run)
    if not prompt:
        raise RnnkitError("the prompt is empty; give at least one character with --prompt")
    unknown = tokenizer.unknown_chars(prompt)
    if unknown:
        shown = " ".join(repr(c) for c in unknown)
        raise RnnkitError(f"the prompt has characters the model never saw in training: {shown}")
    sampling = SamplingConfig(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
    out = sys.stdout
    out.write(prompt)
    for token in generate_tokens(model, tokenizer.encode(prompt), length, sampling):
        out.write(tokenizer.decode([token]))
        out.flush()
    out.write("\n")
