"""User-facing errors.

Anything a user can cause (a bad path, a bad size, a checkpoint from another model) raises
:class:`RnnkitError` with a one-line message naming the problem. The CLI prints the message and
exits with status 2; library callers can catch it like any ``ValueError``.
"""


class RnnkitError(ValueError):
    """A problem with the user's input, stated in one line."""


class Interrupted(RnnkitError):
    """Training stopped by a signal at a step boundary; ``exit_code`` is the shell's 128 + the
    signal number (130 for Ctrl-C, 143 for SIGTERM)."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


class ShapeError(RnnkitError, RuntimeError):
    """A tensor of the wrong shape given to a recurrent layer or cell: a RuntimeError, as
    ``torch.nn`` raises for the same mistake, and an RnnkitError for the CLI."""


def first_line(error: Exception) -> str:
    """The first line of ``error``'s message, or its type's name when it has none."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
