"""Stop training cleanly on SIGINT (Ctrl-C) and SIGTERM (a scheduler, ``kill``, a container stop).

Inside :class:`StopRequest` a signal only sets a flag; the training loop asks it between steps,
so a step is never cut in half: the checkpoint written on the way out holds the weights,
optimizer, RNG and data position of one step boundary, and the resumed run continues exactly
as an uninterrupted one would. A second signal while stopping is noted and ignored (the save in
progress finishes; writes are atomic anyway). Outside the main thread signals cannot be caught,
and Ctrl-C falls back to ``KeyboardInterrupt``.
"""

from __future__ import annotations

import signal
import sys
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)
NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


class StopRequest:
    """``with StopRequest() as stop: ... stop.signum`` (None until a signal arrives)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict = {}

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame) -> None:
        if self.signum is None:
            self.signum = signum
            print(f"\nrnnkit: {NAMES.get(signum, signum)}: stopping after this step and saving "
                  "a checkpoint", file=sys.stderr)
        else:
            print("rnnkit: already stopping; the checkpoint is being saved", file=sys.stderr)

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    @property
    def requested(self) -> bool:
        return self.signum is not None
