"""rnnkit's compiled time loops: built on first use, optional, with the Python loops as fallback.

The explicit-BPTT GRU and LSTM (:mod:`rnnkit.nn.fast.explicit_gru`,
:mod:`rnnkit.nn.fast.explicit_lstm`, the latter with layer norm and recurrent dropout) run their
forward and backward time loops either in Python, one torch op at a time, or in
``csrc/gru_loops.cpp`` / ``csrc/lstm_loops.cpp``, which fuse each step's elementwise work (and
the layer norms) into one vectorised pass split over the batch (docs/benchmarks.md has what that
gains). Each file is compiled with
``torch.utils.cpp_extension.load`` the first time it is needed (a C++ compiler and ``ninja`` are
required: ``pip install ninja``; once per machine and source, cached under torch's extension
directory) for this machine's vector width as torch reports it (AVX-512, AVX2 or
plain). Where one cannot be built, rnnkit says so once on stderr and runs the Python loops, which
compute the same numbers.

``RNNKIT_NATIVE=0`` in the environment, or :func:`set_enabled(False) <set_enabled>`, turns the
compiled loops off; :func:`main` (``make setup`` runs it) builds them ahead of time and reports.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path
from types import ModuleType

import torch

from rnnkit.errors import first_line

SOURCES = {kind: Path(__file__).with_name("csrc") / f"{kind}_loops.cpp"
           for kind in ("gru", "lstm")}
COMMON = Path(__file__).with_name("csrc") / "loops_common.h"     # included by both

_FLAGS = {
    "AVX512": ["-DCPU_CAPABILITY=AVX512", "-DCPU_CAPABILITY_AVX512", "-mavx512f", "-mavx512bw",
               "-mavx512vl", "-mavx512dq", "-mfma"],
    "AVX2": ["-DCPU_CAPABILITY=AVX2", "-DCPU_CAPABILITY_AVX2", "-mavx2", "-mfma", "-mf16c"],
}

STALE_LOCK_S = 600.0   # no compile of these files takes this long; an older lock is stale

_override: dict[str, bool | None] = {"enabled": None}     # set_enabled's choice, or None
_builds: dict[str, dict] = {}       # per kind, once tried: {"module": ... or None, "error": ...}


def capability() -> str:
    """The vector instruction set torch dispatches to on this CPU ("AVX512", "AVX2", ...)."""
    return torch.backends.cpu.get_cpu_capability()


def compile_flags() -> list[str]:
    """C++ flags for this machine: optimisation, OpenMP (at::parallel_for is a header template
    that splits work with ``#pragma omp`` only when compiled with it, as torch itself is), and the
    vector width torch itself uses."""
    return ["-O3", "-fopenmp", *_FLAGS.get(capability(), [])]


def enabled() -> bool:
    """Whether the compiled loops may be used (``RNNKIT_NATIVE``, :func:`set_enabled`)."""
    if _override["enabled"] is not None:
        return bool(_override["enabled"])
    return os.environ.get("RNNKIT_NATIVE", "1").strip().lower() not in ("0", "false", "no", "off")


def set_enabled(flag: bool | None) -> None:
    """Turn the compiled loops on or off for this process; None goes back to ``RNNKIT_NATIVE``."""
    _override["enabled"] = flag


def _build_name(kind: str) -> str:
    """An extension name unique to the source, flags, torch and Python, so a changed file or a
    different machine never loads a stale build."""
    key = hashlib.sha256()
    key.update(SOURCES[kind].read_bytes())
    key.update(COMMON.read_bytes())
    key.update(" ".join(compile_flags()).encode())
    key.update(f"{torch.__version__} {sys.version_info[:2]}".encode())
    return f"rnnkit_{kind}_loops_{key.hexdigest()[:16]}"


def _ninja_on_path() -> None:
    """torch looks for ``ninja`` on PATH; a venv's ``bin`` (where ``pip install ninja`` puts it)
    is not on PATH when the venv's python is run by its full name."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def is_built(kind: str = "gru") -> bool:
    """Whether this machine already has a build of the current source and flags."""
    name = _build_name(kind)
    return any(any(folder.glob(f"{name}*.so")) for folder in _build_dirs(name))


def _build_dirs(name: str) -> list[Path]:
    """The folders torch may build ``name`` in (the root, or the root's per-Python subfolder)."""
    from torch.utils import cpp_extension

    root = Path(os.environ.get("TORCH_EXTENSIONS_DIR") or cpp_extension.get_default_build_root())
    return [root / name, *root.glob(f"*/{name}")]


def clear_stale_lock(name: str, *, older_than_s: float = STALE_LOCK_S) -> list[Path]:
    """Remove build locks left by a compile that was killed: torch waits on such a ``lock`` file
    forever. A lock older than any real compile is stale; a fresh one belongs to a live build
    (another process) and is left alone. Returns the locks removed."""
    removed = []
    for folder in _build_dirs(name):
        lock = folder / "lock"
        try:
            if time.time() - lock.stat().st_mtime > older_than_s:
                lock.unlink()
                removed.append(lock)
        except FileNotFoundError:
            continue
    for lock in removed:
        print(f"rnnkit: removed a stale build lock ({lock}) left by a killed compile",
              file=sys.stderr)
    return removed


def build(kind: str = "gru", *, verbose: bool = False) -> ModuleType:
    """Compile (or load the cached build of) one kind's loops; raises on failure."""
    from torch.utils import cpp_extension

    _ninja_on_path()
    clear_stale_lock(_build_name(kind))
    if not is_built(kind):
        print(f"rnnkit: compiling the {kind.upper()} time loops for this machine "
              "(once, about 30 s)", file=sys.stderr, flush=True)
    return cpp_extension.load(name=_build_name(kind), sources=[str(SOURCES[kind])],
                              extra_cflags=compile_flags(), extra_ldflags=["-fopenmp"],
                              verbose=verbose)


def loops(kind: str) -> ModuleType | None:
    """One kind's compiled loops, or None when turned off or unavailable (said once on
    stderr)."""
    if not enabled():
        return None
    if kind not in _builds:
        try:
            _builds[kind] = {"module": build(kind), "error": None}
        except Exception as error:  # noqa: BLE001 - any build failure means: use Python loops
            _builds[kind] = {"module": None, "error": first_line(error)}
            print(f"rnnkit: compiled {kind.upper()} loops unavailable ({first_line(error)}); "
                  "using the Python loops (same results, slower)", file=sys.stderr)
    return _builds[kind]["module"]


def loops_for(kind: str, *tensors: torch.Tensor | None) -> ModuleType | None:
    """One kind's compiled loops when they are available and take these tensors (CPU, float32
    or float64); else None, and the Python loops run."""
    return loops(kind) if supports(*tensors) else None


def gru_loops() -> ModuleType | None:
    """The compiled GRU loops (:func:`loops`)."""
    return loops("gru")


def lstm_loops() -> ModuleType | None:
    """The compiled LSTM loops (:func:`loops`)."""
    return loops("lstm")


def error(kind: str) -> str | None:
    """Why one kind's loops are unavailable, once tried; None if they are (or not tried)."""
    return _builds.get(kind, {}).get("error")


def supports(*tensors: torch.Tensor | None) -> bool:
    """Whether the compiled loops take these tensors: CPU, float32 or float64."""
    return all(t is None or (t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64))
               for t in tensors)


def main() -> int:
    """Build every kind now and say where, or why not (exit status 1: rnnkit will use the
    Python loops for what failed)."""
    status = 0
    for kind in SOURCES:
        try:
            module = build(kind)
        except Exception as error:  # noqa: BLE001
            print(f"rnnkit: could not build the compiled {kind.upper()} loops "
                  f"({first_line(error)}); rnnkit will use the Python loops", file=sys.stderr)
            status = 1
            continue
        print(f"rnnkit: compiled {kind.upper()} loops ready ({capability()}): {module.__file__}")
    return status
