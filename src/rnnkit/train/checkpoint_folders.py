"""Where checkpoints live on disk, and how one appears, replaces the last, and goes away.

Layout of a run folder::

    checkpoints/step-00000050/   one complete checkpoint (the files of rnnkit.train.checkpoint)
    checkpoints/step-00000100/   the newest one
    model.safetensors            a hard link to (or a copy of) the newest checkpoint's weights

Rules, each step of which is atomic on a POSIX file system:

- a checkpoint is written into a temporary sibling ``.step-00000100.tmp-<random>``, every file
  and the folder fsynced, then renamed to ``step-00000100`` in one ``os.rename``: a folder with
  a ``step-`` name is complete, or was damaged after the fact (never half-written by a save);
- a save of a step that already has a folder (the final save repeats the last periodic one)
  swaps the new folder in with one ``renameat2(RENAME_EXCHANGE)``; where the file system
  cannot, the old folder is renamed aside first (a kill between the two renames then resumes
  from the checkpoint before);
- only then is the root ``model.safetensors`` (what inference loads) replaced;
- then the folders are pruned: the new one and the newest complete one before it are kept;
  older ones, damaged ones, and any with a higher step (left by a timeline the run was resumed
  away from) are removed, each renamed aside before it is deleted;
- temporaries older than :data:`~rnnkit.data.atomic.STALE_AFTER_S` (a killed save's) are
  deleted at the next save.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Callable

from rnnkit.data.atomic import (create_file, exchange, fsync_dir, new_temp_dir, new_temp_file,
                                remove_stale_temps, seal_file)

CHECKPOINTS_DIR = "checkpoints"  # the folder of step folders inside a run folder
KEEP = 2  # complete checkpoints kept: the newest and the one before it
_STEP = re.compile(r"^step-(\d+)$")

__all__ = ["CHECKPOINTS_DIR", "KEEP", "is_complete", "link_root", "prune", "publish_step",
           "remove_all", "step_folders", "step_name"]


def step_name(step: int) -> str:
    """``step-00000050``: 8 digits, more when the step needs them."""
    return f"step-{step:08d}"


def step_folders(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, folder) of every ``checkpoints/step-N`` folder, newest first."""
    root = run_dir / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    found = []
    for entry in os.scandir(root):
        match = _STEP.match(entry.name)
        if match and entry.is_dir(follow_symlinks=False):
            found.append((int(match.group(1)), Path(entry.path)))
    return sorted(found, reverse=True)


def is_complete(folder: Path, names: tuple[str, ...]) -> bool:
    """Every one of ``names`` is a regular file in ``folder`` (not that each is readable)."""
    return all((folder / name).is_file() and not (folder / name).is_symlink() for name in names)


def publish_step(run_dir: Path, step: int, writers: dict[str, Callable[[Path], None]]) -> Path:
    """Write ``checkpoints/step-N`` atomically: ``writers[name](path)`` writes each file into a
    temporary folder, which becomes ``step-N`` in one rename. Returns the folder."""
    root = run_dir / CHECKPOINTS_DIR
    root.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(run_dir)
    remove_stale_temps(root)
    final = root / step_name(step)
    tmp, old = new_temp_dir(final), None
    try:
        for name, write in writers.items():
            path = tmp / name
            mode = create_file(path)
            write(path)
            seal_file(path, mode)
        fsync_dir(tmp)
        if final.is_dir() and not final.is_symlink() and exchange(tmp, final):
            old = tmp  # the old folder now sits at the temporary name
        else:
            old = _move_aside(final) if final.exists() or final.is_symlink() else None
            os.rename(tmp, final)
    except BaseException:
        if old is not None and old != tmp and not final.exists():
            os.rename(old, final)  # put the old folder back where the new one failed
        shutil.rmtree(tmp, ignore_errors=True)  # unpublished, or the old one swapped out
        raise
    fsync_dir(root)
    if old is not None:
        _delete(old)
    return final


def link_root(folder: Path, name: str, run_dir: Path) -> Path:
    """Make ``run_dir/name`` the file ``folder/name`` in one ``os.replace``: a hard link where
    the file system allows one, else a copy. A symlink at ``run_dir/name`` is replaced."""
    target = run_dir / name
    tmp, _ = new_temp_file(target)
    tmp.unlink()
    try:
        try:
            os.link(folder / name, tmp)
        except OSError:  # no hard links here (some network and FAT file systems)
            shutil.copyfile(folder / name, tmp)
            seal_file(tmp, (folder / name).stat().st_mode & 0o777)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(run_dir)
    return target


def prune(run_dir: Path, newest: int, names: tuple[str, ...]) -> None:
    """Keep ``step-newest`` and the :data:`KEEP` - 1 newest complete folders before it; remove
    every other step folder (older, incomplete, or from a step after ``newest``)."""
    kept = 0
    for step, folder in step_folders(run_dir):
        if step <= newest and kept < KEEP and is_complete(folder, names):
            kept += 1
            continue
        _delete(_move_aside(folder))


def remove_all(run_dir: Path) -> None:
    """Remove ``checkpoints/`` whole: renamed aside first, so that no step folder outlives a
    kill part-way through the deletion."""
    root = run_dir / CHECKPOINTS_DIR
    if root.is_symlink():
        root.unlink()
    elif root.exists():
        _delete(_move_aside(root))


def _move_aside(path: Path) -> Path:
    """Rename ``path`` to a temporary name beside it (one rename) and return that name."""
    aside = new_temp_dir(path)
    aside.rmdir()
    os.rename(path, aside)
    fsync_dir(path.parent)
    return aside


def _delete(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)
