"""Announced handling: one ``rnnkit: warning: ...`` line on stderr for input that was fixed up
(truncated, skipped, filled) rather than refused. Each kind of fix-up is announced once, with
its count, never once per example."""

from __future__ import annotations

import sys


def warn(message: str) -> None:
    """Print ``rnnkit: warning: message`` on stderr."""
    print(f"rnnkit: warning: {message}", file=sys.stderr)
