"""A build lock left by a killed compile is removed (torch would wait on it forever); a fresh one,
which may belong to a compile running in another process, is left alone."""

import os
import time

from rnnkit.nn.fast import native


def test_stale_lock_is_removed_fresh_lock_is_kept(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    stale = tmp_path / "py311_cpu" / "ext_a" / "lock"
    fresh = tmp_path / "ext_b" / "lock"
    for lock in (stale, fresh):
        lock.parent.mkdir(parents=True)
        lock.write_text("")
    old = time.time() - native.STALE_LOCK_S - 60
    os.utime(stale, (old, old))

    assert native.clear_stale_lock("ext_a") == [stale]
    assert not stale.exists()
    assert "stale build lock" in capsys.readouterr().err
    assert native.clear_stale_lock("ext_b") == []
    assert fresh.exists()
    assert native.clear_stale_lock("ext_missing") == []
