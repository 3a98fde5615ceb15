"""Inputs are regular files of bounded size, checked before a byte is read; atomic_write
gives whole files with open()'s mode and never writes through a symlink."""

import csv
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors.torch import save_file

from rnnkit.data.datasets.conllu import read_conllu
from rnnkit.data.datasets.csv_format import read_labelled_csv
from rnnkit.data.datasets.pairs import read_pairs_tsv
from rnnkit.data.datasets.ts_format import read_ts
from rnnkit.data.files import MAX_DATA_ENV, check_input_file, read_input_bytes
from rnnkit.data.text import atomic_write, read_text
from rnnkit.errors import RnnkitError

READERS = [read_text, read_input_bytes, check_input_file, read_labelled_csv, read_ts,
           read_conllu, read_pairs_tsv]


def _in_subprocess(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that must finish in ``timeout`` seconds: a read
    that blocks (a FIFO) or never ends (/dev/zero) fails the test instead of hanging it."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ})


@pytest.mark.parametrize("reader", [r.__name__ for r in READERS])
def test_a_fifo_is_refused_without_blocking(tmp_path, reader):
    fifo = tmp_path / "data.txt"
    os.mkfifo(fifo)
    module = {r.__name__: r.__module__ for r in READERS}[reader]
    result = _in_subprocess(f"""
        from {module} import {reader}
        from rnnkit.errors import RnnkitError
        try:
            {reader}({str(fifo)!r})
        except RnnkitError as e:
            print(e)
    """, timeout=120)
    assert result.stdout.strip() == f"data file '{fifo}' is a FIFO (named pipe), not a regular file"


def test_dev_zero_is_refused_before_reading(tmp_path):
    result = _in_subprocess("""
        from rnnkit.data.text import read_text
        from rnnkit.errors import RnnkitError
        try:
            read_text("/dev/zero")
        except RnnkitError as e:
            print(e)
    """)
    assert result.stdout.strip() == \
        "data file '/dev/zero' is a character device, not a regular file"


@pytest.mark.parametrize("reader", READERS)
def test_a_directory_is_refused(tmp_path, reader):
    with pytest.raises(RnnkitError, match=r"is a directory, not a regular file$"):
        reader(tmp_path)


@pytest.mark.parametrize("reader", READERS)
def test_a_missing_file_is_named(tmp_path, reader):
    with pytest.raises(RnnkitError, match=r"^data file '.*nope.txt' does not exist$"):
        reader(tmp_path / "nope.txt")


@pytest.mark.parametrize("reader", READERS)
def test_the_size_limit_comes_from_the_environment(tmp_path, monkeypatch, reader):
    path = tmp_path / "big.txt"
    path.write_text("label,text\n" + "a,b\n" * 300)
    monkeypatch.setenv(MAX_DATA_ENV, "1000")
    with pytest.raises(RnnkitError) as e:
        reader(path)
    assert str(e.value) == (f"data file '{path}' is 1.2 KiB, over the 1000 bytes limit for one "
                            f"file (set {MAX_DATA_ENV} to raise it)")
    monkeypatch.setenv(MAX_DATA_ENV, "2000")
    check_input_file(path)


def test_a_bad_size_limit_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text("abc")
    monkeypatch.setenv(MAX_DATA_ENV, "lots")
    with pytest.raises(RnnkitError, match=f"^{MAX_DATA_ENV}='lots' is not a positive number"):
        read_text(tmp_path / "a.txt")


def test_a_symlink_to_a_regular_file_is_read(tmp_path):
    (tmp_path / "real.txt").write_text("hello\n")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    assert read_text(tmp_path / "link.txt") == "hello\n"


def test_a_csv_field_over_pythons_default_limit_is_read(tmp_path):
    long_text = "x" * 300_000  # csv's default field limit is 131072 characters
    (tmp_path / "long.csv").write_text(f'label,text\npos,"{long_text}"\nneg,short\n')
    before = csv.field_size_limit()
    split = read_labelled_csv(tmp_path / "long.csv")
    assert split.inputs == (long_text, "short") and csv.field_size_limit() == before


def test_atomic_write_gives_open_s_mode_even_to_a_0600_writer(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "w.safetensors",
                     lambda tmp: save_file({"a": torch.zeros(2)}, tmp))  # writes 0600 itself
        atomic_write(tmp_path / "t.txt", lambda tmp: tmp.write_text("x"))
    finally:
        os.umask(old)
    for name in ("w.safetensors", "t.txt"):
        assert oct((tmp_path / name).stat().st_mode & 0o777) == "0o644", name
    os.umask(0o077)
    try:
        atomic_write(tmp_path / "private.txt", lambda tmp: tmp.write_text("x"))
    finally:
        os.umask(old)
    assert oct((tmp_path / "private.txt").stat().st_mode & 0o777) == "0o600"


def test_atomic_write_replaces_a_symlink_instead_of_writing_through_it(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("precious")
    (tmp_path / "out.txt").symlink_to(target)
    atomic_write(tmp_path / "out.txt", lambda tmp: tmp.write_text("new"))
    assert target.read_text() == "precious"
    assert not (tmp_path / "out.txt").is_symlink() and (tmp_path / "out.txt").read_text() == "new"


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_atomic_write_leaves_no_temporary_after_an_error(tmp_path, error):
    path = tmp_path / "out.txt"
    atomic_write(path, lambda tmp: tmp.write_text("first"))

    def fail(tmp):
        tmp.write_text("half")
        raise error

    with pytest.raises(type(error)):
        atomic_write(path, fail)
    assert path.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
