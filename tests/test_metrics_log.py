"""metrics.jsonl survives a kill mid-line, and appends never follow a planted symlink."""

import json
import os

import pytest

from rnnkit.errors import RnnkitError
from rnnkit.train.metrics import MetricsLog, append_line, read_metrics

WHOLE = '{"kind": "train", "step": 1}\n{"kind": "train", "step": 2}\n'


@pytest.mark.parametrize("torn", ['{"kind": "tra', '{"kind": "eval", "lo\n', "\x00\x00\x00",
                                  '{"kind": "tr\u00e9'.encode()[:-1].decode("latin-1")],
                         ids=["cut", "cut-with-newline", "zero-filled", "cut-in-a-character"])
def test_a_torn_last_line_is_dropped_with_one_warning(tmp_path, capsys, torn):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(WHOLE.encode() + torn.encode("latin-1"))
    assert [r["step"] for r in read_metrics(path)] == [1, 2]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"rnnkit: warning: '{path}': dropped its last")


def test_the_appender_cuts_a_torn_tail_before_appending(tmp_path, capsys):
    path = tmp_path / "metrics.jsonl"
    path.write_text(WHOLE + '{"kind": "tra')
    log = MetricsLog(path)
    log.write({"kind": "train", "step": 3})
    log.write({"kind": "train", "step": 4})
    assert path.read_text() == (WHOLE + '{"kind": "train", "step": 3}\n'
                                '{"kind": "train", "step": 4}\n')
    assert "cut off a torn last line" in capsys.readouterr().err
    assert [r["step"] for r in read_metrics(path)] == [1, 2, 3, 4]
    assert capsys.readouterr().err == ""


def test_a_whole_last_line_without_its_newline_is_kept(tmp_path, capsys):
    path = tmp_path / "metrics.jsonl"
    path.write_text(WHOLE.rstrip("\n"))
    assert len(read_metrics(path)) == 2
    MetricsLog(path).write({"step": 3})
    assert [r["step"] for r in read_metrics(path)] == [1, 2, 3]
    assert capsys.readouterr().err == ""


def test_a_corrupt_middle_line_is_still_an_error(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\nnot json\n{"step": 3}\n')
    with pytest.raises(RnnkitError, match=r"^line 2 of metrics file '.*' is not JSON$"):
        read_metrics(path)


def test_each_record_is_one_write(tmp_path, monkeypatch):
    writes = []
    real = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: writes.append(data) or real(fd, data))
    log = MetricsLog(tmp_path / "m.jsonl")
    log.write({"kind": "eval", "loss": float("nan"), "text": "ğüş"})
    assert writes == ['{"kind": "eval", "loss": null, "text": "ğüş"}\n'.encode()]


@pytest.mark.parametrize("name", ["metrics.jsonl", "gradient_flow.jsonl"])
def test_an_append_never_follows_a_symlink(tmp_path, name):
    target = tmp_path / "victim.txt"
    target.write_text("precious\n")
    (tmp_path / name).symlink_to(target)
    with pytest.raises(RnnkitError, match=f"^refusing to append to '.*{name}': it is a symlink$"):
        MetricsLog(tmp_path / name).write({"step": 1})
    with pytest.raises(RnnkitError, match="it is a symlink"):
        append_line(tmp_path / name, json.dumps({"step": 1}))
    assert target.read_text() == "precious\n"
    (tmp_path / "dangling.jsonl").symlink_to(tmp_path / "created-by-nobody")
    with pytest.raises(RnnkitError, match="it is a symlink"):
        append_line(tmp_path / "dangling.jsonl", "{}")
    assert not (tmp_path / "created-by-nobody").exists()


def test_an_append_to_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "metrics.jsonl")
    with pytest.raises(RnnkitError, match="is a FIFO"):
        MetricsLog(tmp_path / "metrics.jsonl").write({"step": 1})
