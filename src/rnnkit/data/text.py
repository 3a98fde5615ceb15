"""Text files in and out: read training text safely, write any file atomically.

``read_text`` is the one door through which a user's text file enters rnnkit. Everything that
can be wrong with such a file (missing, a folder, empty, binary, another encoding) becomes one
:class:`~rnnkit.errors.RnnkitError` line that names the file and the fix, instead of a
``UnicodeDecodeError`` traceback from deep inside training.

``atomic_write`` lives here, at the bottom of the import graph, so that the tokenizer (data) and
the checkpoints and plots (train) share one implementation without an upward import.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "t.txt"
>>> _ = p.write_bytes(b"\\xef\\xbb\\xbfa\\r\\nb")
>>> read_text(p)
'a\\nb'
"""

from __future__ import annotations

import codecs
import os
from pathlib import Path
from typing import Callable

from rnnkit.data.atomic import fsync_dir, new_temp_file, seal_file
from rnnkit.data.files import read_input_bytes
from rnnkit.errors import RnnkitError

_BINARY_PROBE = 8192  # bytes looked at first for a NUL; the rest is checked too, just later


def read_text(path: str | os.PathLike) -> str:
    """Read a UTF-8 text file for training.

    A UTF-8 byte-order mark is dropped and Windows line ends ``\\r\\n`` become ``\\n`` so that a
    corpus saved on Windows gives the same vocabulary as the same corpus saved on Linux.

    Raises RnnkitError (one line) when the path is missing, is not a regular file (a directory,
    a FIFO, a device such as ``/dev/zero``), is over the size limit
    (:func:`~rnnkit.data.files.max_data_bytes`), is empty or only whitespace, holds a NUL byte
    (binary), or is not valid UTF-8 (the message gives the byte offset of the first bad byte
    and suggests converting the file). Nothing is read before the file passes the first checks.
    """
    path = Path(path)
    raw = read_input_bytes(path)
    if not raw:
        raise RnnkitError(f"data file '{path}' is empty")
    nul = raw.find(b"\x00", 0, _BINARY_PROBE)
    if nul < 0:
        nul = raw.find(b"\x00")
    if nul >= 0:
        raise RnnkitError(
            f"data file '{path}' looks binary (NUL byte at offset {nul}); give a UTF-8 text file"
        )
    skip = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    try:
        text = raw[skip:].decode("utf-8")
    except UnicodeDecodeError as e:
        offset = skip + e.start
        raise RnnkitError(
            f"data file '{path}' is not valid UTF-8 (byte 0x{raw[offset]:02x} at offset {offset}); "
            f"convert it to UTF-8, e.g. `iconv -f latin1 -t utf-8 in.txt > out.txt`"
        ) from None
    if not text.strip():
        raise RnnkitError(f"data file '{path}' is empty (only whitespace)")
    return text.replace("\r\n", "\n")


def atomic_write(path: str | os.PathLike, write_fn: Callable[[Path], None]) -> Path:
    """Write ``path`` so that readers see either the old file or the complete new one.

    ``write_fn(tmp)`` writes the content to ``tmp``, a fresh file ``.<name>.tmp-<random>`` in
    the same directory (same file system, so the final ``os.replace`` is an atomic rename).
    Then the file gets the mode ``open()`` would give a new file (0644 under umask 022, even if
    ``write_fn`` replaced it with a 0600 file of its own), is fsynced, renamed over ``path``,
    and the directory is fsynced. A symlink at ``path`` is replaced, never written through.
    On any error, KeyboardInterrupt included, the temporary file is removed; only a killed
    process leaves one, which :func:`~rnnkit.data.atomic.remove_stale_temps` clears later.
    Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp, mode = new_temp_file(path)
    try:
        write_fn(tmp)
        seal_file(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path
