"""rnnkit's compiled time loops: built on first use, optional, with the Python loops as fallback.

The explicit-BPTT GRU (:mod:`rnnkit.nn.explicit_gru`) runs its forward and backward time loops
either in Python, one torch op at a time, or in ``csrc/gru_loops.cpp``, which fuses each step's
elementwise work into one vectorised pass split over the batch (docs/benchmarks.md has what that
gains). The C++ file is compiled with ``torch.utils.cpp_extension.load`` the first time it is
needed (a C++ compiler and ``ninja`` are required: ``pip install ninja``; about a minute, once per
machine, cached under torch's extension directory) for this machine's vector width as torch
reports it (AVX-512, AVX2 or plain). Where it cannot be built, rnnkit says so once on stderr and
runs the Python loops, which compute the same numbers.

``RNNKIT_NATIVE=0`` in the environment, or :func:`set_enabled(False) <set_enabled>`, turns the
compiled loops off; :func:`main` (``make setup`` runs it) builds them ahead of time and reports.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from types import ModuleType

import torch

SOURCE = Path(__file__).with_name("csrc") / "gru_loops.cpp"

_FLAGS = {
    "AVX512": ["-DCPU_CAPABILITY=AVX512", "-DCPU_CAPABILITY_AVX512", "-mavx512f", "-mavx512bw",
               "-mavx512vl", "-mavx512dq", "-mfma"],
    "AVX2": ["-DCPU_CAPABILITY=AVX2", "-DCPU_CAPABILITY_AVX2", "-mavx2", "-mfma", "-mf16c"],
}

_state: dict[str, object] = {"module": None, "tried": False, "error": None, "enabled": None}


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
    if _state["enabled"] is not None:
        return bool(_state["enabled"])
    return os.environ.get("RNNKIT_NATIVE", "1").strip().lower() not in ("0", "false", "no", "off")


def set_enabled(flag: bool | None) -> None:
    """Turn the compiled loops on or off for this process; None goes back to ``RNNKIT_NATIVE``."""
    _state["enabled"] = flag


def _build_name() -> str:
    """An extension name unique to the source, flags, torch and Python, so a changed file or a
    different machine never loads a stale build."""
    key = hashlib.sha256()
    key.update(SOURCE.read_bytes())
    key.update(" ".join(compile_flags()).encode())
    key.update(f"{torch.__version__} {sys.version_info[:2]}".encode())
    return f"rnnkit_gru_loops_{key.hexdigest()[:16]}"


def _ninja_on_path() -> None:
    """torch looks for ``ninja`` on PATH; a venv's ``bin`` (where ``pip install ninja`` puts it)
    is not on PATH when the venv's python is run by its full name."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def is_built() -> bool:
    """Whether this machine already has a build of the current source and flags."""
    from torch.utils import cpp_extension

    name = _build_name()
    root = Path(cpp_extension.get_default_build_root())
    return any(root.glob(f"*/{name}/{name}*.so")) or any(root.glob(f"{name}/{name}*.so"))


def build(*, verbose: bool = False) -> ModuleType:
    """Compile (or load the cached build of) the GRU loops; raises on failure."""
    from torch.utils import cpp_extension

    _ninja_on_path()
    if not is_built():
        print("rnnkit: compiling the GRU time loops for this machine (once, about 30 s)",
              file=sys.stderr, flush=True)
    return cpp_extension.load(name=_build_name(), sources=[str(SOURCE)],
                              extra_cflags=compile_flags(), extra_ldflags=["-fopenmp"],
                              verbose=verbose)


def gru_loops() -> ModuleType | None:
    """The compiled GRU loops, or None when turned off or unavailable (said once on stderr)."""
    if not enabled():
        return None
    if not _state["tried"]:
        _state["tried"] = True
        try:
            _state["module"] = build()
        except Exception as error:  # noqa: BLE001 - any build failure means: use Python loops
            reason = str(error).strip().splitlines()
            _state["error"] = reason[0] if reason else type(error).__name__
            print(f"rnnkit: compiled GRU loops unavailable ({_state['error']}); "
                  "using the Python loops (same results, slower)", file=sys.stderr)
    return _state["module"]  # type: ignore[return-value]


def supports(*tensors: torch.Tensor | None) -> bool:
    """Whether the compiled loops take these tensors: CPU, float32 or float64."""
    return all(t is None or (t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64))
               for t in tensors)


def main() -> int:
    """Build now and say where, or why not (exit status 1: rnnkit will use the Python loops)."""
    try:
        module = build(verbose=False)
    except Exception as error:  # noqa: BLE001
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        print(f"rnnkit: could not build the compiled GRU loops ({reason}); rnnkit will use "
              "the Python loops", file=sys.stderr)
        return 1
    print(f"rnnkit: compiled GRU loops ready ({capability()}): {module.__file__}")
    return 0
