"""The file-system steps that make a write atomic and durable: an exclusive temporary beside
the final name, the mode ``open()`` would give, fsync of files and folders, one rename (or one
exchange) into place, and the clean-up of what a killed writer left behind.

Rules:

- a temporary of ``FINAL`` is named ``.FINAL.tmp-<8 hex digits>`` in the same folder (the same
  file system, so the rename is atomic) and is created exclusively, never through a symlink;
- a finished file gets the mode a plain ``open()`` would have given it under the umask (0644
  under umask 022), whatever mode its writer used, and is fsynced before it is renamed; the
  folder is fsynced after;
- a temporary untouched for :data:`STALE_AFTER_S` belongs to no live writer and may be deleted.

:func:`rnnkit.data.text.atomic_write` writes one file this way;
:mod:`rnnkit.train.checkpoint_folders` a folder of them.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import re
import secrets
import shutil
import stat
import sys
import time
from pathlib import Path

from rnnkit.errors import RnnkitError

TEMP_MARK = ".tmp-"  # a temporary of FINAL is named .FINAL.tmp-<8 hex digits>
STALE_AFTER_S = 120.0  # a temporary untouched this long belongs to no live writer

_TEMP_PATTERNS = (
    re.compile(r"^\..+\.tmp-[0-9a-f]{8}$"),  # new_temp_file / new_temp_dir
    re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$"),  # atomic_write of rnnkit before this module
    re.compile(r"^\.tmp[A-Za-z0-9]{6}$"),  # safetensors' save_file, killed mid-write
)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_AT_FDCWD = -100  # renameat2's "relative to the working directory"
_RENAME_EXCHANGE = 2  # renameat2's flag: swap the two paths


def fsync_dir(directory: str | os.PathLike) -> None:
    """Persist the entries (renames, new files) of ``directory``; a no-op off POSIX, where
    directories cannot be opened for fsync."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_file(path: Path) -> int:
    """Create ``path`` empty and exclusively (never through a symlink, FileExistsError if
    anything is there) and return the mode ``open()`` gave it under the umask: the mode
    :func:`seal_file` restores once a writer has replaced or rewritten the file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                 0o666)  # the kernel applies the umask, as open() would
    try:
        return stat.S_IMODE(os.fstat(fd).st_mode)
    finally:
        os.close(fd)


def new_temp_file(final: Path) -> tuple[Path, int]:
    """Create ``final``'s temporary sibling ``.<name>.tmp-<random>`` with :func:`create_file`
    and return it with its mode."""
    while True:
        tmp = final.with_name(f".{final.name}{TEMP_MARK}{secrets.token_hex(4)}")
        try:
            return tmp, create_file(tmp)
        except FileExistsError:
            continue


def new_temp_dir(final: Path) -> Path:
    """Create ``final``'s temporary sibling folder ``.<name>.tmp-<random>`` with the mode
    ``mkdir`` gives under the umask."""
    while True:
        tmp = final.with_name(f".{final.name}{TEMP_MARK}{secrets.token_hex(4)}")
        try:
            tmp.mkdir(0o777)
            return tmp
        except FileExistsError:
            continue


def seal_file(path: Path, mode: int) -> None:
    """Give the regular file ``path`` (never a symlink) ``mode`` and flush it to the disk.

    Writers such as safetensors' ``save_file`` replace the file with their own 0600 temporary,
    so the mode is set again here, on the file as it now is."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise RnnkitError(f"'{path}' is not a regular file after writing it")
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temps(directory: Path, *, older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Delete the temporary files and folders a killed writer left in ``directory`` (the
    patterns of :func:`new_temp_file`, of older rnnkit versions and of safetensors), but only
    those untouched for ``older_than_s`` seconds, so a live writer's temporary is never taken.
    Returns what was removed."""
    removed = []
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if not any(p.match(entry.name) for p in _TEMP_PATTERNS):
            continue
        path = Path(entry.path)
        if now - _last_touched(path) < older_than_s:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _last_touched(path: Path) -> float:
    """Newest modification time of ``path`` and, for a folder, of its entries."""
    times = []
    for p in [path, *(path.iterdir() if path.is_dir() and not path.is_symlink() else ())]:
        try:
            st = p.lstat()
        except OSError:
            continue
        times.append(st.st_mtime)
    return max(times, default=0.0)


def exchange(a: Path, b: Path) -> bool:
    """Swap the two existing paths ``a`` and ``b`` in one atomic step (Linux
    ``renameat2(RENAME_EXCHANGE)``). False, changing nothing, where the system or the file
    system cannot; the caller then falls back to two renames."""
    swap = _renameat2()
    if swap is None:
        return False
    if swap(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EPERM, errno.EXDEV):
        return False  # not supported here
    raise OSError(err, os.strerror(err), str(a), None, str(b))


@functools.cache
def _renameat2():
    """glibc's renameat2, or None (not Linux, or glibc before 2.28)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn
