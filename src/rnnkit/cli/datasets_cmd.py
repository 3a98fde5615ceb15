"""``rnnkit datasets``: the built-in data set names with size, task, provenance and whether the
package that ships each is installed (and the command that installs it if not)."""

from __future__ import annotations

import argparse
import textwrap

from rnnkit.data.datasets import BUILTINS, brown_dir, installed
from rnnkit.data.datasets.pairs import GETTEXT_DIR
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


def run(args: argparse.Namespace) -> int:
    for b in BUILTINS.values():
        ok = _available(b.name, b.package)
        print(f"builtin:{b.name:<9} {b.task:<8} {'installed' if ok else 'not installed'}")
        for label, text in (("data", b.size), ("split", b.split), ("licence", b.licence),
                            ("source", b.provenance)):
            print(textwrap.fill(text, 96, initial_indent=f"    {label + ':':<9}",
                                subsequent_indent=" " * 13))
        if not ok:
            print(textwrap.fill(b.install, 96, initial_indent=f"    {'install:':<9}",
                                subsequent_indent=" " * 13))
    return 0
