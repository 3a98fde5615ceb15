"""Parallel (source, references) data sets for seq2seq: CMUdict G2P, Turkish gettext, and a
user's ``.tsv`` file.

Both give a :class:`~rnnkit.data.datasets.dataset.Split` of kind ``"pairs"``: ``inputs`` are
unique source strings, ``targets`` a tuple of one or more reference outputs for each (a word
with several pronunciations, a message translated differently in two catalogues), so all
references of a source sit on the same side of the split and an output is right when it
matches any of them.

CMUdict (``cmudict/data/cmudict.dict`` of the ``cmudict`` package, 135,166 lines): a line is
``word phone phone ...``, a variant is ``word(2) ...``; 22 lines end in ``# comment``, which is
stripped. Words are kept as written (lower case, with their apostrophes, hyphens, dots and
digits); phones keep their stress digits (``AH0``), 69 symbols in all. ``stress=False`` drops
the digits (``AH0`` -> ``AH``), leaving the 39 phonemes of the published G2P benchmarks (Bisani
& Ney 2008 and the LSTM papers after it score without stress); variants that become identical
are merged.

Gettext (``/usr/share/locale/tr/LC_MESSAGES/*.mo``): the human Turkish translations of the
English messages of the installed Debian packages, read with :mod:`gettext`. Kept: singular
entries without a context whose English and Turkish are both one line of 2-80 characters;
the catalogue header is skipped.

A user's ``.tsv`` file: one ``source<TAB>reference`` per line; a source on several lines has
several references. Blank lines are skipped.
"""

from __future__ import annotations

import gettext
import random
from collections import defaultdict
from pathlib import Path

from rnnkit.data.datasets.dataset import Split
from rnnkit.data.files import read_input_text
from rnnkit.errors import RnnkitError

GETTEXT_DIR = Path("/usr/share/locale/tr/LC_MESSAGES")


def read_cmudict(path: str | Path, *, stress: bool = True) -> Split:
    """(word, pronunciations) in file order, comments stripped and variants grouped; without
    ``stress`` the phones lose their stress digits."""
    refs: dict[str, list[str]] = defaultdict(list)
    text = read_input_text(path)
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        word, *phones = line.split()
        if not phones:
            raise RnnkitError(f"{path}:{number}: a word without phones")
        if word.endswith(")") and "(" in word:
            word = word[: word.rindex("(")]
        pron = " ".join(phones if stress else (p.rstrip("012") for p in phones))
        if pron not in refs[word]:
            refs[word].append(pron)
    return Split(tuple(refs), tuple(tuple(p) for p in refs.values()))


def read_pairs_tsv(path: str | Path, *, encoding: str = "utf-8") -> Split:
    """(source, references) of ``source<TAB>reference`` lines, in file order."""
    p = Path(path)
    text = read_input_text(p, encoding=encoding)
    refs: dict[str, list[str]] = defaultdict(list)
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        source, tab, reference = line.partition("\t")
        if not tab or not source or not reference or "\t" in reference:
            raise RnnkitError(f"{p}:{number}: expected 'source<TAB>reference' (two non-empty "
                              "columns)")
        if reference not in refs[source]:
            refs[source].append(reference)
    if not refs:
        raise RnnkitError(f"'{p}' holds no pairs")
    return Split(tuple(refs), tuple(tuple(r) for r in refs.values()))


def read_gettext(folder: str | Path = GETTEXT_DIR, *, max_chars: int = 80) -> tuple[Split, list]:
    """(English message, Turkish translations) over every catalogue of ``folder``, and the
    catalogue names used."""
    folder = Path(folder)
    files = sorted(folder.glob("*.mo"))
    if not files:
        raise RnnkitError(f"no gettext catalogues (*.mo) in {folder}; install packages that "
                          "ship Turkish translations (e.g. apt-get install coreutils bash)")
    refs: dict[str, list[str]] = defaultdict(list)
    for f in files:
        with open(f, "rb") as fp:
            try:
                catalog = gettext.GNUTranslations(fp)._catalog
            except (OSError, UnicodeDecodeError):
                continue
        for source, target in catalog.items():
            if not isinstance(source, str) or not source or "\x04" in source:
                continue
            source, target = source.strip(), target.strip()
            if not (2 <= len(source) <= max_chars and 2 <= len(target) <= max_chars):
                continue
            if "\n" in source or "\n" in target:
                continue
            if target not in refs[source]:
                refs[source].append(target)
    ordered = sorted(refs)
    return Split(tuple(ordered), tuple(tuple(refs[s]) for s in ordered)), [f.stem for f in files]


def seeded_split(full: Split, test_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(kept, held_out) indices: a seeded shuffle of the sources, the first fraction held out."""
    if not 0 < test_fraction < 1:
        raise RnnkitError(f"held-out fraction must be in (0, 1), got {test_fraction}")
    order = list(range(len(full)))
    random.Random(seed).shuffle(order)
    n = round(len(order) * test_fraction)
    return sorted(order[n:]), sorted(order[:n])
