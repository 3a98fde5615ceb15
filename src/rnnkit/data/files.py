"""The checks every file rnnkit reads goes through: a regular file of a bounded size.

Rules for an input file (a user's data, or a file of a run folder):

- it must be a regular file (a symlink to one is fine): a FIFO would block the read forever, a
  device such as ``/dev/zero`` never ends, a directory is not data;
- it must be at most :func:`max_data_bytes` long (``MAX_DATA_BYTES``, 2 GiB, or the
  environment variable ``RNNKIT_MAX_DATA_BYTES``), so a wrong path cannot fill the memory;
- every refusal is one :class:`~rnnkit.errors.RnnkitError` line naming the file, raised
  before a byte is read.

:func:`read_input_bytes` opens without blocking (``O_NONBLOCK``) and checks the open file
itself, so a path swapped for a FIFO between a check and the read cannot hang rnnkit.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "t.txt"
>>> _ = p.write_text("abc")
>>> read_input_bytes(p)
b'abc'
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from rnnkit.errors import RnnkitError

MAX_DATA_BYTES = 2 * 1024**3  # the default size limit of one input file
MAX_DATA_ENV = "RNNKIT_MAX_DATA_BYTES"  # environment variable overriding MAX_DATA_BYTES

_KINDS = {  # what a non-regular file is called in messages
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def max_data_bytes() -> int:
    """The size limit of one input file: ``$RNNKIT_MAX_DATA_BYTES`` when set, else
    ``MAX_DATA_BYTES``. A value that is not a positive integer is refused in one line."""
    raw = os.environ.get(MAX_DATA_ENV)
    if raw is None or not raw.strip():
        return MAX_DATA_BYTES
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if limit <= 0:
        raise RnnkitError(f"{MAX_DATA_ENV}={raw!r} is not a positive number of bytes")
    return limit


def check_stat(path: Path, st: os.stat_result, what: str, size_limit: bool = True) -> None:
    """Refuse, in one line naming ``path``, a stat result that is not a regular file (within
    the size limit when ``size_limit``)."""
    if not stat.S_ISREG(st.st_mode):
        kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
        raise RnnkitError(f"{what} '{path}' is {kind}, not a regular file")
    if not size_limit:
        return
    limit = max_data_bytes()
    if st.st_size > limit:
        raise RnnkitError(f"{what} '{path}' is {_size(st.st_size)}, over the {_size(limit)} "
                          f"limit for one file (set {MAX_DATA_ENV} to raise it)")


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _os_error(path: Path, e: OSError, what: str) -> RnnkitError:
    if isinstance(e, FileNotFoundError):
        return RnnkitError(f"{what} '{path}' does not exist")
    return RnnkitError(f"cannot read {what} '{path}': {e.strerror or e}")


def check_input_file(path: str | os.PathLike, *, what: str = "data file",
                     size_limit: bool = True) -> Path:
    """``path`` as a Path once it is known to be an existing regular file within the size
    limit (symlinks followed); RnnkitError in one line otherwise. ``what`` names the file in
    the message ("data file", "checkpoint file", ...); ``size_limit=False`` is for files that
    are memory-mapped rather than read (safetensors weights, as large as the model)."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError as e:
        raise _os_error(path, e, what) from None
    check_stat(path, st, what, size_limit)
    return path


def read_input_bytes(path: str | os.PathLike, *, what: str = "data file") -> bytes:
    """The whole content of an input file, after the checks of :func:`check_input_file` made
    on the opened file itself (so it cannot block on a FIFO or run on forever)."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise _os_error(path, e, what) from None
    try:
        check_stat(path, os.fstat(fd), what)
        limit = max_data_bytes()
        chunks, total = [], 0
        while total <= limit:  # the file may grow after fstat; never read past the limit
            chunk = os.read(fd, min(1 << 24, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as e:
        raise _os_error(path, e, what) from None
    finally:
        os.close(fd)
    if total > limit:
        raise RnnkitError(f"{what} '{path}' grew past the {_size(limit)} limit while being read")
    return b"".join(chunks)


def read_input_text(path: str | os.PathLike, *, what: str = "data file", encoding: str = "utf-8",
                    hint: str = "") -> str:
    """The content of an input file as text: :func:`read_input_bytes`'s checks, then one-line
    errors for a binary file (a NUL byte) and for bytes that are not valid ``encoding`` (the
    offset of the first bad byte, and ``hint``). A UTF-8 byte-order mark is dropped."""
    raw = read_input_bytes(path, what=what)
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise RnnkitError(f"{what} '{path}' looks binary (NUL byte at offset {nul}); give a "
                          "text file")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        raise RnnkitError(f"{what} '{path}' is not valid {encoding} (byte 0x{raw[e.start]:02x} "
                          f"at offset {e.start})"
                          + (f"; {hint}" if hint else "")) from None
    except LookupError:
        raise RnnkitError(f"unknown encoding {encoding!r}") from None
    return text[1:] if text.startswith("\ufeff") else text
