"""One rnnkit process per run folder: the second is refused in one line, and a holder that exits
or is killed releases the folder."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from rnnkit.errors import RnnkitError
from rnnkit.train.run_lock import RunLock

HOLD = """
    import sys, time
    from rnnkit.train.run_lock import RunLock
    with RunLock(sys.argv[1]):
        print("locked", flush=True)
        sys.stdin.readline()   # hold until told to go
"""


def _holder(run_dir):
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(HOLD), str(run_dir)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_process_is_refused_until_the_first_exits(tmp_path):
    run = tmp_path / "run"
    proc = _holder(run)
    try:
        with pytest.raises(RnnkitError) as e:
            RunLock(run).acquire()
        assert str(e.value) == (f"run folder '{run}' is in use by another rnnkit process "
                                f"(pid {proc.pid})")
    finally:
        proc.communicate("go\n", timeout=60)
    with RunLock(run) as lock:
        assert lock.held
    assert not lock.held


def test_a_killed_holder_releases_the_folder(tmp_path):
    proc = _holder(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    with RunLock(tmp_path):
        pass


def test_a_second_lock_in_the_same_process_is_refused(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(RnnkitError, match=f"pid {os.getpid()}"):
            RunLock(tmp_path).acquire()
    with RunLock(tmp_path):  # released on exit, even though .lock stays
        assert (tmp_path / ".lock").read_text() == f"{os.getpid()}\n"


def test_a_symlink_as_lock_file_is_refused_not_followed(tmp_path):
    target = tmp_path / "victim.txt"
    target.write_text("precious")
    run = tmp_path / "run"
    run.mkdir()
    (run / ".lock").symlink_to(target)
    with pytest.raises(RnnkitError, match=r"^cannot lock run folder '.*': its .lock is a symlink$"):
        RunLock(run).acquire()
    assert target.read_text() == "precious"
