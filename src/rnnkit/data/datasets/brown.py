"""The Brown corpus (Francis & Kucera 1964/1979) in its ``word/tag`` files, and the reduction of
its 80-odd tags (with their -tl, -hl, -nc, fw- and ``+`` variants, about 470 in all) to the 12
universal tags of Petrov, Das & McDonald 2012, "A Universal Part-of-Speech Tagset" (LREC).

A Brown folder holds files ``ca01`` ... ``cr09`` (genre letter a-r, file number); each non-empty
line is one sentence of space-separated ``word/tag`` tokens (``Atlanta's/np$``). The reduction
(:func:`universal_tag`) looks at the base tag: ``fw-`` (foreign word) gives ``X``; the title,
headline and citation suffixes ``-tl -hl -nc`` are dropped; of a contraction ``pps+bez`` the
first part counts; a negation ``*`` and the possessive ``$`` are dropped. The base then maps as
in ``BASE_TO_UNIVERSAL`` (modelled on the en-brown mapping that comes with Petrov et al.'s
tagset: subordinating ``cs`` is ``ADP``, ordinals ``od`` are ``ADJ``, existential ``there`` is
``DET``, ``not`` is ``ADV``). A base not in the table gives ``X``.

>>> universal_tag("np$"), universal_tag("pps+bez"), universal_tag("nn-tl"), universal_tag("``")
('NOUN', 'PRON', 'NOUN', '.')
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from rnnkit.data.datasets.dataset import Split
from rnnkit.data.files import read_input_bytes
from rnnkit.errors import RnnkitError

UNIVERSAL = ("NOUN", "VERB", "ADJ", "ADV", "PRON", "DET", "ADP", "NUM", "CONJ", "PRT", ".", "X")
FILE_NAME = re.compile(r"^c[a-r]\d\d$")

_GROUPS = {
    ".": ". , : ; ( ) -- ' '' ` `` ! ?",
    "DET": "at ap abn abx abl dt dti dts dtx wdt ex",
    "VERB": "be bed bedz beg bem ben ber bez do dod doz hv hvd hvg hvn hvz md vb vbd vbg vbn vbz",
    "CONJ": "cc",
    "ADP": "cs in",
    "NUM": "cd",
    "ADJ": "jj jjr jjs jjt od",
    "NOUN": "nn nns np nps nr nrs",
    "PRON": "pn pp ppl ppls ppo pps ppss wp wpo wps",
    "ADV": "* ql qlp rb rbr rbt rn wql wrb",
    "PRT": "rp to",
    "X": "uh nil",
}
BASE_TO_UNIVERSAL = {base: tag for tag, bases in _GROUPS.items() for base in bases.split()}


def universal_tag(brown_tag: str) -> str:
    """The universal tag of one Brown tag (see the module docstring for the rules)."""
    tag = brown_tag.lower()
    if tag.startswith("fw-"):
        return "X"
    tag = tag.split("+")[0]
    while True:
        stripped = re.sub(r"-(tl|hl|nc)$", "", tag)
        if stripped == tag:
            break
        tag = stripped
    if len(tag) > 1:
        tag = tag.rstrip("*").rstrip("$") or tag
    return BASE_TO_UNIVERSAL.get(tag, "X")


def brown_files(folder: str | os.PathLike) -> list[Path]:
    """The corpus files of a Brown folder in corpus order (ca01 ... cr09)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RnnkitError(f"Brown corpus folder '{folder}' does not exist" if not folder.exists()
                          else f"'{folder}' is a file; give the folder of Brown files")
    files = sorted(p for p in folder.iterdir() if FILE_NAME.match(p.name))
    if not files:
        raise RnnkitError(f"'{folder}' has no Brown files (named ca01 ... cr09)")
    return files


def read_brown(folder: str | os.PathLike) -> Split:
    """Every sentence of a Brown folder: word tuples and universal-tag tuples, corpus order."""
    sentences, tags = [], []
    for path in brown_files(folder):
        text = read_input_bytes(path).decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            tokens = line.split()
            if not tokens:
                continue
            words, upos = [], []
            for token in tokens:
                word, sep, tag = token.rpartition("/")
                if not sep or not word or not tag:
                    raise RnnkitError(f"line {number} of '{path}': token {token[:30]!r} is not "
                                      "word/tag")
                words.append(word)
                upos.append(universal_tag(tag))
            sentences.append(tuple(words))
            tags.append(tuple(upos))
    return Split(tuple(sentences), tuple(tags))
