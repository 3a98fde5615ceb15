"""The argument parser of every rnnkit command: its errors are one line, exit status 2, and a
flag given where it does not apply is named with the commands that do take it."""

from __future__ import annotations

import argparse
import sys
from typing import Callable


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are one line (no usage block), and which takes
    no abbreviated flags (``--top`` must not silently become ``--top-k``)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    # Set by the command that builds the parser: flags -> where they apply (a short phrase).
    owners: Callable[[list[str]], str] | None = None

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")

    def refuse_extras(self, extras: list[str]) -> None:
        """One line for arguments no flag of this parser took (``parse_known_args``' rest)."""
        flags = [e.split("=")[0] for e in extras if e.startswith("-")]
        if not flags:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        owner = self.owners(flags) if self.owners else ""
        verb = "does" if len(flags) == 1 else "do"
        self.error(f"{', '.join(flags)} {verb} not apply to {self.prog}"
                   + (f" ({owner})" if owner else "") + f"; see {self.prog} --help")


def parse(parser: Parser, argv: list[str]) -> argparse.Namespace:
    """``parser.parse_args(argv)`` whose leftovers are refused by the innermost parser."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        getattr(args, "parser", parser).refuse_extras(extras)
    return args


def warn(message: str) -> None:
    print(f"rnnkit: note: {message}", file=sys.stderr)
