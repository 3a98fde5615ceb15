"""Stream generated text to the terminal, shared by ``train`` (its closing sample) and
``generate``."""

from __future__ import annotations

import sys

from rnnkit.errors import RnnkitError
from rnnkit.data import CharTokenizer
from rnnkit.infer import SamplingConfig, generate_tokens, load
from rnnkit.infer.stopping import GenerationLimits, StopWatcher


def print_sample(run, *, prompt: str, length: int, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None,
                 seed: int | None = None, stop: tuple[str, ...] = ()) -> str | None:
    """Print ``prompt`` and then each generated character as soon as it is drawn.

    Generation ends after ``length`` characters, or at the first of the ``stop`` strings (not
    printed; see :mod:`rnnkit.infer.stopping`). Returns the stop string that ended it, or None.
    """
    model, tokenizer = load(run)
    if not prompt:
        raise RnnkitError("the prompt is empty; give at least one character with --prompt")
    unknown = tokenizer.unknown_symbols(prompt)
    if unknown:
        shown = " ".join(repr(c) for c in unknown)
        if isinstance(tokenizer, CharTokenizer):
            raise RnnkitError(f"the prompt has characters the model never saw in training: "
                              f"{shown}")
        print(f"rnnkit: note: words outside the vocabulary are read as <unk>: {shown}",
              file=sys.stderr)
    sampling = SamplingConfig(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
    watcher = StopWatcher(GenerationLimits(max_length=length, stop=tuple(stop)).stop)
    out = sys.stdout
    word_gap = not isinstance(tokenizer, CharTokenizer) and not prompt[-1].isspace()
    out.write(prompt + (" " if word_gap else ""))
    for token in generate_tokens(model, tokenizer.encode(prompt), length, sampling):
        out.write(watcher.feed(tokenizer.piece(token)))
        out.flush()
        if watcher.stopped is not None:
            break
    out.write(watcher.finish() + "\n")
    return watcher.stopped
