"""Tiny trained runs of every task for the serving tests, and a real ``rnnkit serve`` process
on a free loopback port."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnnkit.cli.main import main

from task_fixtures import seasonal_csv, write_conllu, write_csv

NAMES = {"tr": ["Ayşe", "Mehmet", "Elif", "Emre", "Zeynep", "Burak", "Deniz", "Özge"],
         "fi": ["Aino", "Eino", "Väinö", "Sanna", "Jukka", "Tiina", "Onni", "Kaisa"]}

TINY = ["--hidden", "8", "--embed", "4", "--steps", "2", "--no-progress"]
SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="session")
def every_task(tmp_path_factory, tiny_run, tiny_text):
    """{task: run folder} for lm (the conftest's tiny run), classify, tag, seq2seq, condgen,
    forecast, and lm-mingru / lm-transformer (decoded by stacked states / one forward per
    stream)."""
    root = tmp_path_factory.mktemp("serve_runs")
    csv = write_csv(root / "reviews.csv", n=40)
    conllu = write_conllu(root / "t.conllu", n=30)
    names = root / "names.csv"
    names.write_text("text,label\n" + "\n".join(f"{n},{k}" for k, ns in NAMES.items()
                                               for n in ns) + "\n", encoding="utf-8")
    pairs = root / "pairs.tsv"
    pairs.write_text("".join(f"{w}\t{w[::-1]}\n" for w in ("abc", "bca", "cab", "acb", "bac",
                                                          "cba", "aab", "bba")),
                     encoding="utf-8")
    out = {"lm": tiny_run}
    jobs = [("classify", ["classify", "--data", str(csv)]),
            ("tag", ["tag", "--data", str(conllu)]),
            ("condgen", ["condgen", "--data", str(names)]),
            ("seq2seq", ["seq2seq", "--data", str(pairs)]),
            ("forecast", ["forecast", "--data", str(seasonal_csv(root / "s.csv", n_series=4,
                                                                 length=30)),
                          "--horizon", "4", "--context", "8", "--samples", "20"])]
    for cell in ("mingru", "transformer"):
        jobs.append((f"lm-{cell}", ["lm", "--data", str(tiny_text), "--cell", cell,
                                    "--seq-len", "16", "--batch-size", "4"]))
    for name, argv in jobs:
        out[name] = root / name
        assert main(["train", *argv, "--out", str(out[name]), *TINY]) == 0
    return out


def child_env(**extra) -> dict:
    """The environment of a server process: this checkout's sources first."""
    env = dict(os.environ, PYTHONPATH=f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
               PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


class ServerProcess:
    """``rnnkit serve ARGS --port 0`` (or a given command) as a child; ``url`` once it listens."""

    def __init__(self, argv: list[str], env: dict | None = None, timeout: float = 60) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env or child_env())
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if "http://" in line or not line:
                break
        if "http://" not in line:
            self.proc.kill()
            raise AssertionError(f"the server did not start: {line!r} "
                                 f"{self.proc.stderr.read()[-2000:]}")
        self.url = line.strip().split()[-1]
        assert self.url.startswith("http://127.0.0.1:")

    @classmethod
    def serve(cls, *args: str) -> "ServerProcess":
        return cls([sys.executable, "-m", "rnnkit.cli.main", "serve", *args,
                    "--host", "127.0.0.1", "--port", "0"])

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout=30)
        finally:
            self.proc.stdout.close()
            self.proc.stderr.close()
