"""Load a trained run in one call: ``model, tokenizer = rnnkit.load("runs/demo")``.

For a classifier or tagger run the second item is its codec (vocabulary, label set,
normalisation; :mod:`rnnkit.data.codec`): ``model, codec = rnnkit.load("runs/tweets")`` and
``codec.labels.labels`` are the class names. For a conditional generator it is
``(symbols, conditions)``, for a seq2seq run ``(source symbols, target symbols)``
(:mod:`rnnkit.infer.generator_load`).

Everything needed is in ``model.safetensors`` itself (its metadata holds the task, the model
config and the vocabulary), so the file alone is enough; a run folder or the file's path both
work.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from rnnkit.data.tokenizers import Tokenizer, tokenizer_from_dict
from rnnkit.data.codec import Codec, codec_from_dict
from rnnkit.errors import RnnkitError
from rnnkit.models import LanguageModel, LMConfig
from rnnkit.train.checkpoint import MODEL_FILE, load_checkpoint_meta, load_model_weights
from rnnkit.train.task_job import model_from_config
from rnnkit.infer.generator_load import GENERATORS, generator_from_meta


def _build(meta: dict, where: Path) -> tuple[nn.Module, Tokenizer | Codec]:
    task = meta.get("task")
    if task in ("classify", "tag"):
        return model_from_config(task, meta["model"]), codec_from_dict(meta["codec"])
    if task in GENERATORS:
        return generator_from_meta(task, meta, where)
    if task != "lm":
        raise RnnkitError(f"'{where}' holds a {task!r} model, which this version cannot load")
    try:
        config = LMConfig(**meta["model"])
    except (TypeError, KeyError) as e:
        raise RnnkitError(f"'{where}' has a model config this version does not know ({e})") \
            from None
    return LanguageModel(config), tokenizer_from_dict(meta["tokenizer"])


def load(run: str | Path, *, device: str = "cpu") -> tuple[nn.Module, Tokenizer | Codec]:
    """The trained model (in eval mode, on ``device``) and its tokenizer (language model) or
    codec (classifier, tagger) from a run folder."""
    run_dir = Path(run)
    if run_dir.is_file() and run_dir.name == MODEL_FILE:
        run_dir = run_dir.parent
    if not run_dir.exists():
        raise RnnkitError(f"run folder '{run_dir}' does not exist")
    if not run_dir.is_dir():
        raise RnnkitError(f"'{run_dir}' is not a run folder")
    model, tokenizer = _build(load_checkpoint_meta(run_dir), run_dir / MODEL_FILE)
    load_model_weights(run_dir, model)
    return model.to(device).eval(), tokenizer
