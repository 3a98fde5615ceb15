"""``rnnkit serve`` as a real uvicorn process on a free loopback port: the endpoints over HTTP
with tokens streamed as they are drawn, the stream limit (503) and cancelled streams freeing
their place, sessions that continue exactly after SIGKILL, SIGTERM draining the streams in
flight and folding the session log in, and the container's entry point."""

import json
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path

import httpx

from serve_fixtures import ServerProcess, child_env

ROOT = Path(__file__).resolve().parents[1]


def sse(response):
    """(event, data) pairs of a streamed response, as they arrive."""
    event = None
    for line in response.iter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            yield event, json.loads(line[5:])


def test_every_endpoint_over_http_and_the_stream_limit(every_task):
    server = ServerProcess.serve(str(every_task["lm"]), str(every_task["classify"]),
                                 "--max-streams", "2")
    lm = every_task["lm"].name
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            assert c.get("/ping").status_code == 200
            assert {m["id"] for m in c.get("/v1/models").json()["data"]} == {lm, "classify"}
            label = c.post("/invocations", json={"model": "classify", "inputs": "great day"})
            assert label.json()["outputs"][0]["label"] in ("pos", "neg")
            text = c.post("/invocations", json={"inputs": ["elma"],
                                                "parameters": {"length": 5}}).json()
            assert text["task"] == "lm" and text["outputs"][0]["tokens"] == 5
            whole = c.post("/v1/generate", json={"prompt": "elma", "length": 30, "seed": 4})
            with c.stream("POST", "/v1/generate", json={"prompt": "elma", "length": 30,
                                                       "seed": 4, "stream": True}) as r:
                events = list(sse(r))
            assert [e for e, _ in events] == ["token"] * 30 + ["done"]
            assert events[-1][1]["text"] == whole.json()["text"]
            sid = c.post("/v1/sessions", json={}).json()["id"]
            dist = c.post(f"/v1/sessions/{sid}/append", json={"text": "elma"}).json()
            assert c.get(f"/v1/sessions/{sid}").json()["distribution"] == dist["distribution"]
            assert c.delete(f"/v1/sessions/{sid}").status_code == 204
            # two long streams fill the decoder: a third is refused, 503, until one goes away
            long = {"prompt": "elma", "length": 2000, "stream": True}
            with c.stream("POST", "/v1/generate", json=long) as a:
                next(sse(a))
                with c.stream("POST", "/v1/generate", json=long) as b:
                    next(sse(b))
                    busy = c.post("/v1/generate", json={"prompt": "elma", "length": 3})
                    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
                    assert "decoding 2 streams" in busy.json()["error"]["message"]
            for _ in range(50):                  # the closed streams leave the decoder
                ok = c.post("/v1/generate", json={"prompt": "elma", "length": 3})
                if ok.status_code == 200:
                    break
                time.sleep(0.1)
            assert ok.status_code == 200
    finally:
        server.stop()


def test_sessions_continue_exactly_after_sigkill_and_sigterm_drains(every_task, tmp_path):
    state = tmp_path / "state"
    first = ServerProcess.serve(str(every_task["lm"]), "--state-dir", str(state))
    with httpx.Client(base_url=first.url, timeout=30) as c:
        sid = c.post("/v1/sessions", json={}).json()["id"]
        before = c.post(f"/v1/sessions/{sid}/append", json={"text": "elma kı", "top": 8})
    first.proc.send_signal(signal.SIGKILL)
    assert first.stop() == -signal.SIGKILL
    second = ServerProcess.serve(str(every_task["lm"]), "--state-dir", str(state))
    try:
        with httpx.Client(base_url=second.url, timeout=30) as c:
            kept = c.get(f"/v1/sessions/{sid}", params={"top": 8}).json()
            assert kept["distribution"] == before.json()["distribution"]
            after = c.post(f"/v1/sessions/{sid}/append", json={"text": "rmızı", "top": 8})
            ref = c.post("/v1/sessions", json={}).json()["id"]    # the same, never killed
            c.post(f"/v1/sessions/{ref}/append", json={"text": "elma kı"})
            same = c.post(f"/v1/sessions/{ref}/append", json={"text": "rmızı", "top": 8})
            assert after.json()["distribution"] == same.json()["distribution"]
            assert after.json()["symbols"] == 12
            # SIGTERM with a stream in flight: the stream ends normally, then the process
            with c.stream("POST", "/v1/generate", json={"prompt": "elma", "length": 1500,
                                                       "stream": True}) as r:
                events = sse(r)
                assert next(events)[0] == "token"
                second.proc.send_signal(signal.SIGTERM)
                rest = list(events)
            assert rest[-1][0] == "done" and rest[-1][1]["tokens"] == 1500
    finally:
        code = second.stop()
    assert code in (0, -signal.SIGTERM)
    wal = state / "sessions.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0                # folded in
    with sqlite3.connect(state / "sessions.db") as db:
        assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 2


def test_the_container_entry_point_serves_the_model_dir_from_the_environment(every_task):
    bin_dir = str(Path(sys.executable).parent)
    env = child_env(RNNKIT_MODEL_DIR=str(every_task["classify"]), RNNKIT_HOST="127.0.0.1",
                    RNNKIT_PORT="0", PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    server = ServerProcess(["sh", str(ROOT / "docker" / "serve"), "serve"], env=env)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            assert c.get("/ping").status_code == 200
            r = c.post("/invocations", json={"inputs": ["great day", "awful road"]})
            assert r.status_code == 200 and len(r.json()["outputs"]) == 2
    finally:
        server.stop()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ENTRYPOINT [\"/usr/local/bin/serve\"]" in dockerfile and "EXPOSE 8080" in dockerfile
    assert "RNNKIT_MODEL_DIR=/opt/ml/model" in dockerfile
