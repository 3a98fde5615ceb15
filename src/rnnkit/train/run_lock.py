"""One rnnkit process per run folder: an exclusive lock on ``run_dir/.lock``.

Two trainings writing one run folder would interleave their checkpoints and metrics. The
first takes the lock; any other gets one RnnkitError line naming the holder's pid::

    with RunLock(run_dir):
        train(...)

Rules:

- the lock is ``fcntl.flock(LOCK_EX | LOCK_NB)`` on ``run_dir/.lock`` (created if missing, the
  folder too): it never waits, and the kernel releases it when the holder exits or is killed,
  so a crashed run never leaves a stale lock;
- ``.lock`` is opened with ``O_NOFOLLOW``: a symlink planted there is refused, never followed;
- the holder writes its pid into ``.lock``; the file itself stays after release (deleting it
  would let a process locking the old file and one locking a new file both hold "the" lock);
- a lock is per open file: a second ``RunLock`` on the same folder is refused even in the
  same process. A child started with ``fork`` shares its parent's lock until it exits.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from rnnkit.data.files import check_stat
from rnnkit.errors import RnnkitError

LOCK_FILE = ".lock"  # inside the run folder


class RunLock:
    """Context manager holding the exclusive lock of one run folder (see the module rules)."""

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        """Take the lock or raise RnnkitError in one line; returns self."""
        if self._fd is not None:
            raise RnnkitError(f"run folder '{self.run_dir}' is already locked by this RunLock")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags, 0o666)
        except OSError as e:
            why = f"its {LOCK_FILE} is a symlink" if self.path.is_symlink() else e.strerror or e
            raise RnnkitError(f"cannot lock run folder '{self.run_dir}': {why}") from None
        try:
            check_stat(self.path, os.fstat(fd), "lock file", size_limit=False)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise RnnkitError(f"run folder '{self.run_dir}' is in use by another rnnkit process "
                              f"(pid {holder})") from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the lock up (closing the file releases it); a no-op when not held."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _read_pid(fd: int) -> str:
    """The holder's pid as written in the lock file, or '?' while it is still being written."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return "?"
    return text if text.isdigit() else "?"
