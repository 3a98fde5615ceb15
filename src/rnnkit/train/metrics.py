"""Metrics as JSON lines, and a learning-curve plot drawn from them.

One record per line, appended and flushed as training goes, so a crashed or interrupted run
keeps every line written before it stopped and a resumed run appends to the same file. Each
line goes out in one ``write()``, never through a symlink; a line torn by a kill or a power
cut can only be the last one, which readers drop with a warning and the next append cuts off
(:func:`append_line`). The trainer writes two kinds of record (see ``rnnkit.train.loop``)::

    {"kind": "train", "step": 10, "loss": 2.1, "loss_avg": 2.3, "grad_norm": 0.8, ...}
    {"kind": "eval",  "step": 200, "loss": 1.9, "tokens": 65536, ...}

Non-finite numbers are written as ``null`` so every line is strict JSON.
"""

from __future__ import annotations

import errno
import json
import math
import os
from pathlib import Path

from rnnkit.data.datasets.announce import warn
from rnnkit.data.files import check_stat, read_input_bytes
from rnnkit.data.text import atomic_write
from rnnkit.errors import RnnkitError

LN2 = math.log(2.0)  # nats per bit: bits-per-character = loss / LN2


class MetricsLog:
    """Appends one JSON object per line to ``path`` (created with its folder if missing),
    through :func:`append_line`: never through a symlink, each line in one ``write()``, and a
    torn last line left by a killed run repaired before the first append."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tail_checked = False

    def write(self, record: dict) -> None:
        """Append ``record`` as one line and flush it to the OS."""
        line = json.dumps(_strict(record), allow_nan=False, ensure_ascii=False)
        append_line(self.path, line, repair_tail=not self._tail_checked)
        self._tail_checked = True


def append_line(path: str | os.PathLike, line: str, *, repair_tail: bool = True) -> None:
    """Append ``line`` plus a newline to the JSON-lines file ``path`` in one ``write()``.

    Rules: ``path`` is created 0644-like if missing; a symlink or anything but a regular file
    at ``path`` is refused in one RnnkitError line (``O_NOFOLLOW``, so a planted link cannot
    redirect the append); with ``repair_tail`` a last line that a killed writer left torn (not
    JSON) is cut off first, with one warning, so it never becomes a corrupt middle line; a
    short write (disk full) is undone and raised as OSError.
    """
    path = Path(path)
    data = (line + "\n").encode("utf-8")
    fd = _open_append(path)
    try:
        if repair_tail:
            _repair_tail(fd, path)
        before = os.fstat(fd).st_size
        written = os.write(fd, data)
        if written != len(data):
            os.ftruncate(fd, before)
            raise OSError(errno.ENOSPC, f"only {written} of {len(data)} bytes written", str(path))
    finally:
        os.close(fd)


def _open_append(path: Path) -> int:
    flags = (os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK
             | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as e:
        if path.is_symlink():
            raise RnnkitError(f"refusing to append to '{path}': it is a symlink") from None
        raise RnnkitError(f"cannot append to '{path}': {e.strerror or e}") from None
    try:
        check_stat(path, os.fstat(fd), "log file", size_limit=False)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _repair_tail(fd: int, path: Path) -> None:
    """Cut a torn last non-blank line (not JSON) off the file open as ``fd``; end a whole last
    line that lacks its newline with one."""
    pos, tail = os.fstat(fd).st_size, b""
    while pos > 0:  # read backwards until the tail holds the start of the last line
        lo = max(0, pos - (1 << 16))
        tail, pos = os.pread(fd, pos - lo, lo) + tail, lo
        if b"\n" in tail.rstrip():
            break
    body = tail.rstrip()
    if not body:
        return
    cut = body.rfind(b"\n") + 1  # where the last line starts in tail (0: at pos)
    if _parses(body[cut:]):
        if not tail.endswith(b"\n"):
            os.write(fd, b"\n")
        return
    os.ftruncate(fd, pos + cut)
    warn(f"'{path}': cut off a torn last line left by an interrupted run before appending")


def _parses(line: bytes) -> bool:
    try:
        json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return False
    return True


def _strict(x: object) -> object:
    """Replace NaN/Inf floats by None, recursively, so the line is strict JSON."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _strict(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_strict(v) for v in x]
    return x


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """All records of a metrics file, in order.

    A last line that is not JSON (a run killed mid-write, a power cut) is dropped with one
    ``rnnkit: warning:`` line; a bad line anywhere else raises RnnkitError naming the line.
    Blank lines are skipped. The file must be a regular file (not a FIFO, not a device).
    """
    path = Path(path)
    lines = read_input_bytes(path, what="metrics file").split(b"\n")
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    records = []
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            if index == last:
                warn(f"'{path}': dropped its last line {index + 1}, cut short by an "
                     "interrupted write")
                break
            raise RnnkitError(f"line {index + 1} of metrics file '{path}' is not JSON") from None
    return records


def plot_learning_curve(
    records: list[dict],
    png_path: str | os.PathLike,
    *,
    bpc: bool = False,
    title: str = "learning curve",
) -> Path:
    """Draw training loss (or bits per character) and validation points against step, with the
    pre-clip gradient norm on a second, log-scale panel; write ``png_path`` atomically.

    ``bpc=True`` divides losses in nats by ln 2 (a character LM's bits per character).
    """
    import matplotlib

    matplotlib.use("Agg")  # files only, no display; set before pyplot is imported
    import matplotlib.pyplot as plt

    scale, unit = (1.0 / LN2, "bits per char") if bpc else (1.0, "loss (nats)")
    train = [r for r in records if r.get("kind") == "train"]
    evals = [r for r in records if r.get("kind") == "eval" and r.get("loss") is not None]

    def series(rows: list[dict], key: str) -> tuple[list, list]:
        pairs = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
        return [s for s, _ in pairs], [v for _, v in pairs]

    fig, (ax_loss, ax_grad) = plt.subplots(
        2, 1, figsize=(8, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    steps, loss = series(train, "loss_avg" if any("loss_avg" in r for r in train) else "loss")
    ax_loss.plot(steps, [v * scale for v in loss], label="train", linewidth=1)
    steps, loss = series(evals, "loss")
    ax_loss.plot(steps, [v * scale for v in loss], "o-", label="validation", markersize=4)
    ax_loss.set_ylabel(unit)
    ax_loss.set_title(title)
    ax_loss.grid(alpha=0.3)
    ax_loss.legend()
    steps, norm = series(train, "grad_norm")
    if any(v > 0 for v in norm):
        ax_grad.semilogy(steps, norm, linewidth=1)
    ax_grad.set_ylabel("grad norm (pre-clip)")
    ax_grad.set_xlabel("step")
    ax_grad.grid(alpha=0.3)
    fig.tight_layout()
    try:
        return atomic_write(png_path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    finally:
        plt.close(fig)
