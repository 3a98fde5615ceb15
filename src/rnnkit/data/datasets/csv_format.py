"""Labelled text in CSV: one example per row, the text and the label in named columns.

The first row names the columns (RFC 4180, Python's ``csv`` dialect "excel"). Problems become
one line: a missing file, a missing column (the message lists the columns there are), a row
with an empty label (its line number), a file that is not in the given encoding. Rows whose
text is empty or only spaces, and blank lines, are skipped and announced with their count.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
>>> _ = p.write_text("label,text\\npos,great\\n\\nneg,awful\\n")
>>> read_labelled_csv(p, "text", "label").targets
('pos', 'neg')
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import sys
from pathlib import Path
from typing import Iterator

from rnnkit.data.datasets.announce import warn
from rnnkit.data.datasets.dataset import Split
from rnnkit.data.files import read_input_text
from rnnkit.errors import RnnkitError


def read_labelled_csv(path: str | os.PathLike, text_column: str = "text",
                      label_column: str = "label", *, encoding: str = "utf-8") -> Split:
    """Texts and labels from a CSV file with a header row."""
    path = Path(path)
    text = read_input_text(path, encoding=encoding,
                           hint="give its encoding with --encoding, e.g. --encoding latin-1")
    with _fields_up_to(len(text)):
        return _parse(path, csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")),
                      text_column, label_column)


@contextlib.contextmanager
def _fields_up_to(n: int) -> Iterator[None]:
    """Let one CSV field be as long as the whole file (``n`` characters, already bounded by the
    input size limit) instead of ``csv``'s 128 KiB default; the old limit is restored after."""
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, min(n + 1, sys.maxsize)))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _parse(path: Path, reader, text_column: str, label_column: str) -> Split:
    try:
        return _rows(path, reader, text_column, label_column)
    except csv.Error as e:
        raise RnnkitError(f"line {reader.line_num} of '{path}' is not valid CSV ({e})") from None


def _rows(path: Path, reader, text_column: str, label_column: str) -> Split:
    header = next(reader, None)
    if not header:
        raise RnnkitError(f"'{path}' is empty: a CSV needs a header row naming its columns")
    header = [h.strip() for h in header]
    missing = [c for c in (text_column, label_column) if c not in header]
    if missing:
        raise RnnkitError(f"'{path}' has no column {', '.join(map(repr, missing))}; its columns "
                          f"are {', '.join(map(repr, header))} (choose with --text-column and "
                          "--label-column)")
    t, y = header.index(text_column), header.index(label_column)
    texts, labels, blank, empty_text = [], [], 0, 0
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            blank += 1
            continue
        if len(row) <= max(t, y):
            raise RnnkitError(f"line {line} of '{path}' has {len(row)} fields, fewer than the "
                              f"{len(header)} columns of the header")
        label = row[y].strip()
        if not label:
            raise RnnkitError(f"line {line} of '{path}' has an empty label in column "
                              f"{label_column!r}")
        if not row[t].strip():
            empty_text += 1
            continue
        texts.append(row[t])
        labels.append(label)
    if blank:
        warn(f"'{path}': skipped {blank} empty line(s)")
    if empty_text:
        warn(f"'{path}': skipped {empty_text} row(s) with an empty text")
    if not texts:
        raise RnnkitError(f"'{path}' has no labelled rows")
    return Split(tuple(texts), tuple(labels))
