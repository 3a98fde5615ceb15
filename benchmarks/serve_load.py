"""Load on ``rnnkit serve``: aggregate generated tokens/s, time to first token and inter-token
latency at 1, 8 and 64 concurrent streams, with batched decoding on and off.

Not a test: the figures depend on the machine and its load (the client shares the machine with
the server). A bounded load generator: it starts the server itself on 127.0.0.1 (a free port),
sends only there, sends ``--rounds`` rounds of C streamed requests per concurrency C (each
``--length`` tokens), gives up after ``--timeout`` seconds, stops the server and exits.

    python benchmarks/serve_load.py [--run RUN] [--streams 1 8 64] [--length 200]

Without --run it trains the default main-job model's architecture (a 2-layer LSTM, 256 units,
characters of builtin:shakespeare) for a few steps into a temporary folder: throughput depends
on the shape, not on the training. Figures and the command: docs/serving.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HOST = "127.0.0.1"     # loopback only: this generator never sends anywhere else
PROMPT = "ROMEO:\n"


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def train_default(folder: Path) -> Path:
    run = folder / "main-job"
    subprocess.run([sys.executable, "-m", "rnnkit.cli.main", "train", "--steps", "20",
                    "--eval-every", "0", "--no-progress", "--out", str(run)], check=True,
                   stdout=subprocess.DEVNULL)
    return run


def start_server(run: Path, batched: bool, threads: int, max_streams: int):
    argv = [sys.executable, "-m", "rnnkit.cli.main", "serve", str(run), "--host", HOST,
            "--port", "0", "--threads", str(threads), "--max-streams", str(max_streams)]
    if not batched:
        argv.append("--no-batching")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if "http://" not in line:
        proc.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return proc, line.strip().split()[-1]


async def one_stream(client: httpx.AsyncClient, url: str, length: int, seed: int) -> dict:
    start = time.perf_counter()
    times = []
    body = {"prompt": PROMPT, "length": length, "temperature": 0.8, "seed": seed,
            "stream": True}
    async with client.stream("POST", f"{url}/v1/generate", json=body) as r:
        r.raise_for_status()
        event = None
        async for line in r.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
                if event == "token":
                    times.append(time.perf_counter())
            elif event == "done" and line.startswith("data:"):
                done = json.loads(line[5:])
    gaps = [b - a for a, b in zip(times, times[1:])]
    return {"tokens": done["tokens"], "ttft": times[0] - start if times else float("nan"),
            "gaps": gaps, "end": time.perf_counter()}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


async def load(url: str, streams: int, rounds: int, length: int, timeout: float,
               server_pid: int) -> dict:
    limits = httpx.Limits(max_connections=streams, max_keepalive_connections=streams)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        await one_stream(client, url, 8, 0)                              # warm up
        start, cpu, server_cpu = time.perf_counter(), time.process_time(), cpu_seconds(server_pid)
        results = []
        for r in range(rounds):
            results += await asyncio.wait_for(asyncio.gather(*[
                one_stream(client, url, length, r * streams + i) for i in range(streams)]),
                timeout)
        wall = time.perf_counter() - start
        cpu, server_cpu = time.process_time() - cpu, cpu_seconds(server_pid) - server_cpu
    tokens = sum(x["tokens"] for x in results)
    gaps = [g for x in results for g in x["gaps"]]
    ttft = [x["ttft"] for x in results]
    return {"streams": streams, "tokens": tokens, "seconds": wall, "tokens_per_s": tokens / wall,
            "ttft_p50_ms": 1e3 * percentile(ttft, 50), "ttft_p99_ms": 1e3 * percentile(ttft, 99),
            "itl_p50_ms": 1e3 * percentile(gaps, 50), "itl_p99_ms": 1e3 * percentile(gaps, 99),
            "client_cpu_us_per_token": 1e6 * cpu / tokens,
            "server_cpu_us_per_token": 1e6 * server_cpu / tokens}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a language-model run (default: train the main job's "
                                      "shape for a few steps)")
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--length", type=int, default=200, help="tokens per request (200)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds per concurrency (1)")
    parser.add_argument("--threads", type=int, default=1, help="the server's torch threads (1)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per round at most")
    parser.add_argument("--json", metavar="FILE", help="also write the figures here")
    args = parser.parse_args()
    if max(args.streams) > 256 or args.rounds > 10 or args.length > 2048:
        raise SystemExit("bounded: at most 256 streams, 10 rounds, 2048 tokens")
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(args.run) if args.run else train_default(Path(tmp))
        rows = []
        for batched in (True, False):
            proc, url = start_server(run, batched, args.threads, max(args.streams))
            try:
                for streams in args.streams:
                    row = asyncio.run(load(url, streams, args.rounds, args.length, args.timeout,
                                           proc.pid))
                    row["batched"] = batched
                    rows.append(row)
                    print(f"batched={'on ' if batched else 'off'} streams={streams:3d}  "
                          f"{row['tokens_per_s']:8.0f} tokens/s  TTFT p50 "
                          f"{row['ttft_p50_ms']:7.1f} ms p99 {row['ttft_p99_ms']:7.1f} ms  "
                          f"ITL p50 {row['itl_p50_ms']:6.2f} ms p99 {row['itl_p99_ms']:6.2f} ms  "
                          f"CPU/token: server {row['server_cpu_us_per_token']:.0f} us, "
                          f"client {row['client_cpu_us_per_token']:.0f} us",
                          flush=True)
            finally:
                proc.terminate()
                proc.wait(timeout=60)
    def row(streams, batched):
        return next(r for r in rows if r["streams"] == streams and r["batched"] == batched)
    for streams in args.streams:
        on, off = row(streams, True), row(streams, False)
        print(f"streams={streams:3d}: batched / one forward per stream = "
              f"{on['tokens_per_s'] / off['tokens_per_s']:.1f}x")
    if 1 in args.streams:
        most = max(args.streams)
        ratio = row(most, True)["tokens_per_s"] / row(1, False)["tokens_per_s"]
        print(f"streams={most:3d} batched / the requests served one at a time (1 stream, "
              f"unbatched) = {ratio:.1f}x; p99 ITL {row(most, True)['itl_p99_ms']:.1f} ms "
              "(goal: >= 8x, < 50 ms)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
