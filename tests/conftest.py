"""Shared fixtures: a tiny text and a tiny trained run, made by the tests themselves."""

import random

import pytest
import torch

from rnnkit.cli.main import main

WORDS = "elma kırmızıdır armut sarıdır gökyüzü mavidir deniz derindir".split()


def run_cli(capsys, *argv):
    """Exit code, stdout and stderr of one CLI call (argparse's own exits included)."""
    try:
        code = main(list(argv))
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def make_text(n_lines: int = 300, seed: int = 0) -> str:
    rng = random.Random(seed)
    return "\n".join(" ".join(rng.choice(WORDS) for _ in range(6)) for _ in range(n_lines)) + "\n"


@pytest.fixture(scope="session")
def tiny_text(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "tiny.txt"
    path.write_text(make_text(), encoding="utf-8")
    return path


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread; extra threads only contend on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY_FLAGS = ["--hidden", "16", "--embed", "8", "--layers", "1", "--seq-len", "16",
              "--batch-size", "4", "--steps", "6", "--eval-every", "3",
              "--checkpoint-every", "3", "--no-progress"]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_text):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    assert main(["train", "--data", str(tiny_text), "--out", str(out), *TINY_FLAGS]) == 0
    return out


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tiny tensors run fastest on one thread, and the suite shares 2 cores with its runner."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def compiled_loops_fixture(kind):
    """A fixture turning rnnkit's compiled ``kind`` loops on for one test, skipped where they
    cannot be built here."""
    from rnnkit.nn.fast import native

    @pytest.fixture
    def fixture():
        native.set_enabled(True)
        if native.loops(kind) is None:
            native.set_enabled(None)
            pytest.skip(f"compiled {kind} loops unavailable: {native.error(kind)}")
        yield
        native.set_enabled(None)
    return fixture


compiled_gru = compiled_loops_fixture("gru")
compiled_lstm = compiled_loops_fixture("lstm")


@pytest.fixture
def python_loops():
    """rnnkit's compiled loops off for one test: the Python loops run."""
    from rnnkit.nn.fast import native
    native.set_enabled(False)
    yield
    native.set_enabled(None)


# Tiny runs of every task for the serving tests (tests/serve_fixtures.py), built once.
from serve_fixtures import every_task  # noqa: E402,F401
