"""Stop strings and the length limit of streamed generation, shared by every generator.

A stop string may span several symbols, so a streamed symbol cannot be shown until it is
certain not to begin a stop string: :class:`StopWatcher` holds back at most
``max(len(stop)) - 1`` characters, releases the rest, and at a stop cuts the text just before
the stop string (which is not shown). An output that reaches the maximum length without its end
symbol or a stop string is *truncated*, and says so.

>>> w = StopWatcher(("\\n\\n", "END"))
>>> [w.feed(c) for c in "abEN"], w.feed("D"), w.stopped, w.text
(['', '', 'a', 'b'], '', 'END', 'ab')
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.errors import RnnkitError


@dataclass(frozen=True)
class GenerationLimits:
    """When generation ends (besides the model's own end symbol)."""

    max_length: int = 64             # symbols generated at most; reaching it marks truncation
    stop: tuple[str, ...] = ()       # end as soon as the output contains one (not shown)

    def __post_init__(self) -> None:
        if not isinstance(self.max_length, int) or self.max_length < 1:
            raise RnnkitError(f"maximum length must be a positive integer, got "
                              f"{self.max_length!r}")
        if any(not s for s in self.stop):
            raise RnnkitError("a stop string must not be empty")


@dataclass(frozen=True)
class Generated:
    """One finished output."""

    text: str                  # what was generated (without end symbol or stop string)
    truncated: bool            # True: the maximum length cut it before it ended
    stopped_by: str | None     # the stop string that ended it, if one did


class StopWatcher:
    """Feeds streamed text through the stop strings; :attr:`text` is what survives."""

    def __init__(self, stop: tuple[str, ...] = ()) -> None:
        self.stop = tuple(stop)
        self.hold = max((len(s) for s in self.stop), default=1) - 1
        self.buffer = ""           # everything generated so far
        self.shown = 0             # characters of buffer already released
        self.stopped: str | None = None

    @property
    def text(self) -> str:
        return self.buffer

    def feed(self, piece: str) -> str:
        """Add generated text; return the part that may be shown now ('' once stopped)."""
        if self.stopped is not None:
            return ""
        self.buffer += piece
        hits = [(self.buffer.find(s), s) for s in self.stop if s in self.buffer]
        if hits:
            at, self.stopped = min(hits)
            self.buffer = self.buffer[:at]
            return self._release(len(self.buffer))
        return self._release(max(self.shown, len(self.buffer) - self.hold))

    def finish(self) -> str:
        """What is still held back, at the end of generation."""
        return self._release(len(self.buffer))

    def _release(self, upto: int) -> str:
        out, self.shown = self.buffer[self.shown:upto], max(self.shown, upto)
        return out
