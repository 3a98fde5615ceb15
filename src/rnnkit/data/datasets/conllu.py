"""CoNLL-U: one token per line in ten tab-separated columns, sentences separated by a blank
line, ``#`` comments (Universal Dependencies format, https://universaldependencies.org/format).

Only FORM (column 2) and UPOS (column 4) are read. Multi-word token ranges (``3-4``) and empty
nodes (``5.1``) are skipped, as UD's own evaluation does. A token line without ten columns, or
with an empty FORM or UPOS, is refused with its line number.
"""

from __future__ import annotations

import os
from pathlib import Path

from rnnkit.data.datasets.dataset import Split
from rnnkit.data.files import read_input_text
from rnnkit.errors import RnnkitError


def read_conllu(path: str | os.PathLike) -> Split:
    """Sentences as token tuples and their UPOS tag tuples."""
    path = Path(path)
    lines = read_input_text(path).splitlines()
    sentences, tags = [], []
    words: list[str] = []
    upos: list[str] = []
    for number, line in enumerate(lines + [""], start=1):
        if not line.strip():
            if words:
                sentences.append(tuple(words))
                tags.append(tuple(upos))
                words, upos = [], []
            continue
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 10:
            raise RnnkitError(f"line {number} of '{path}' has {len(cols)} tab-separated "
                              "columns; CoNLL-U needs 10")
        if "-" in cols[0] or "." in cols[0]:
            continue
        if not cols[1] or not cols[3] or cols[3] == "_":
            raise RnnkitError(f"line {number} of '{path}' has an empty FORM or UPOS")
        words.append(cols[1])
        upos.append(cols[3])
    if not sentences:
        raise RnnkitError(f"'{path}' holds no sentences")
    return Split(tuple(sentences), tuple(tags))
