"""Using a trained language model: continue prompts (``predict``, ``generate``, streamed),
score a text again (``evaluate``), and the batch ``rnnkit diagnose`` reads."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from rnnkit.data import CharTokenizer, eval_windows, read_text
from rnnkit.data.lm_corpus import TEST_NAMES, read_test_text
from rnnkit.data.word_tokenizer import words_of
from rnnkit.errors import RnnkitError
from rnnkit.infer import SamplingConfig, generate_tokens
from rnnkit.infer.stopping import GenerationLimits, StopWatcher
from rnnkit.tasks.flags import add_sampling_flags, generation_length, positive_int
from rnnkit.train.loop import evaluate_loss
from rnnkit.train.losses import lm_loss
from rnnkit.train.run_folder import from_saved
from rnnkit.typed import config_from


def add_predict_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--length", type=generation_length, metavar="N",
                   help="tokens to generate after each prompt (500)")
    add_sampling_flags(p)


def check_prompt(tokenizer, prompt: str) -> None:
    """Refuse an empty prompt or (characters) one with symbols the model never saw; words
    outside the vocabulary are announced and read as <unk>."""
    if not prompt:
        raise RnnkitError("the prompt is empty; give at least one character")
    unknown = tokenizer.unknown_symbols(prompt)
    if unknown:
        shown = " ".join(repr(c) for c in unknown)
        if isinstance(tokenizer, CharTokenizer):
            raise RnnkitError(f"the prompt has characters the model never saw in training: "
                              f"{shown}")
        print(f"rnnkit: note: words outside the vocabulary are read as <unk>: {shown}",
              file=sys.stderr)


def predict(model, tokenizer, inputs: list[str], *, length: int = 500,
            temperature: float = 0.8, top_k: int | None = None, top_p: float | None = None,
            seed: int | None = None, stop: tuple[str, ...] | list[str] | None = None,
            emit: Callable[[str], None] | None = None) -> list[dict]:
    """Continue each prompt by ``length`` tokens or until a ``stop`` string (not shown):
    ``{"prompt", "text", "stopped", "tokens"}`` per prompt. ``emit(piece)`` receives the text
    as it is drawn (streaming); a word model's pieces are words with their spaces."""
    for prompt in inputs:
        check_prompt(tokenizer, prompt)
    sampling = SamplingConfig(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
    outputs = []
    for prompt in inputs:
        watcher = StopWatcher(GenerationLimits(max_length=max(length, 1),
                                               stop=tuple(stop or ())).stop)
        tokens = 0
        for token in generate_tokens(model, tokenizer.encode(prompt), length, sampling):
            tokens += 1
            piece = watcher.feed(tokenizer.piece(token))
            if emit is not None and piece:
                emit(piece)
            if watcher.stopped is not None:
                break
        rest = watcher.finish()
        if emit is not None and rest:
            emit(rest)
        outputs.append({"prompt": prompt, "text": watcher.text, "stopped": watcher.stopped,
                        "tokens": tokens})
    return outputs


def add_generate_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prompt", help="text to continue (default: a newline)")
    p.add_argument("--length", type=generation_length, metavar="N",
                   help="tokens to generate (500)")
    add_sampling_flags(p)


def stream(model, tokenizer, prompt: str, **options) -> dict:
    """Print ``prompt`` and then each generated piece as soon as it is drawn."""
    check_prompt(tokenizer, prompt)
    out = sys.stdout
    word_gap = not isinstance(tokenizer, CharTokenizer) and not prompt[-1].isspace()
    out.write(prompt + (" " if word_gap else ""))
    result = predict(model, tokenizer, [prompt],
                     emit=lambda piece: (out.write(piece), out.flush()), **options)[0]
    out.write("\n")
    return result


def generate(run_dir: Path, options: dict, *, loaded: tuple | None = None) -> int:
    from rnnkit.tasks.loading import load
    model, tokenizer = loaded or load(run_dir)
    options = dict(options)
    stream(model, tokenizer, options.pop("prompt", "\n"), **options)
    return 0


def sample_prompt(tokenizer) -> str:
    """A newline when the model has seen one, else a symbol it has seen (a text without line
    breaks still gets its closing sample)."""
    if not tokenizer.unknown_symbols("\n"):
        return "\n"
    return tokenizer.decode([tokenizer.vocab_size - 1])


def report(result, spec, describe) -> int:
    """The closing lines of ``rnnkit train lm``: validation and test figures, a sample."""
    from rnnkit.tasks.loading import load
    data = spec.data
    minutes, seconds = divmod(result.seconds, 60)
    loss = result.evaluation["loss"]
    tokens = result.trained * data.batch_size * data.seq_len
    print(f"validation: {describe(loss, data.level)} (loss {loss:.4f} nats) after "
          f"{result.steps} steps; {int(minutes)} min {seconds:.0f} s, "
          f"{tokens / max(result.seconds, 1e-9):,.0f} tokens/s")
    if result.test is not None:
        print(f"test ({TEST_NAMES[data.data]}): {describe(result.test['loss'], data.level)} "
              f"(loss {result.test['loss']:.4f} nats)")
    print(f"run folder: {result.run_dir}")
    print("sample:")
    model, tokenizer = load(result.run_dir)
    stream(model, tokenizer, sample_prompt(tokenizer),
           length=300 if data.level == "char" else 60, temperature=0.8, seed=0)
    return 0 if loss == loss and abs(loss) != float("inf") else 2


def add_evaluate_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", metavar="FILE", help="score this text instead")
    p.add_argument("--split", choices=("validation", "test"),
                   help="a built-in text's validation tail (default) or its test part (the "
                        "unseen play of builtin:shakespeare, PTB's test set)")
    p.add_argument("--seq-len", type=positive_int, metavar="T", help=argparse.SUPPRESS)


def evaluate(run_dir: Path, config: dict, options: dict, describe) -> int:
    from rnnkit.tasks.lm import LMDataConfig, eval_lanes, split_texts
    from rnnkit.tasks.loading import load
    model, tokenizer = load(run_dir)
    data = from_saved(LMDataConfig, config, "data", run_dir)
    level = data.level
    unit = "characters" if level == "char" else "words"
    if options.get("data") is not None:
        if options.get("split") is not None:
            raise RnnkitError("give --data FILE or --split, not both")
        text, where = read_text(options["data"]), options["data"]
    elif options.get("split") == "test":
        text = read_test_text(config["data"]["data"])
        if text is None:
            raise RnnkitError(f"{config['data']['data']} has no test part; --split test applies "
                              "to the built-in texts (give --data FILE to score other text)")
        where = "test split"
    else:
        text, where = split_texts(data)[1], "validation split"
    unknown = set(tokenizer.unknown_symbols(text))
    if unknown:
        symbols = text if level == "char" else words_of(text)
        count = sum(s in unknown for s in symbols)
        print(f"rnnkit: warning: {count:,} {unit} ({len(unknown)} distinct) are not in the "
              "vocabulary and count as the unknown symbol", file=sys.stderr)
    ids = tokenizer.encode(text)
    if len(ids) < 2:
        raise RnnkitError(f"'{where}' is too short to evaluate (needs at least 2 {unit})")
    seq_len = options.get("seq_len") or data.seq_len     # the windows and lanes of training's
    lanes = eval_lanes(data, len(ids), seq_len)           # own evaluation, so the figures agree
    result = evaluate_loss(model, lm_loss, eval_windows(ids, lanes, seq_len))
    print(f"{where}: {describe(result['loss'], level)} "
          f"({result['tokens']:,} {unit}, loss {result['loss']:.4f} nats)")
    return 0


def add_diagnose_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seq-len", type=positive_int, metavar="T", help="timesteps (the run's)")


def diagnosis_batch(config: dict, model, tokenizer, batch_size: int, options: dict):
    """The first window of the run's validation text: ``batch_size`` lanes of T tokens."""
    from rnnkit.tasks.lm import LMDataConfig, split_texts
    data = config_from(LMDataConfig, config["data"], "the run's data settings")
    seq_len = options.get("seq_len") or data.seq_len
    ids = tokenizer.encode(split_texts(data)[1])
    lanes = min(batch_size, max(1, (len(ids) - 1) // seq_len))
    return next(iter(eval_windows(ids, lanes, seq_len))), lm_loss, "language model"
