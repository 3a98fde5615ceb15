"""Every endpoint of ``rnnkit serve`` through FastAPI's test client: runs of every task, the
SageMaker contract, generation (whole and streamed), sessions, probes, the bearer token, and
the bad requests (a JSON error with the right status, never a traceback)."""

import json
import warnings

import pytest

with warnings.catch_warnings():              # starlette's note about httpx2, not ours
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from rnnkit.serve import ServeConfig, create_app
from rnnkit.tasks import TASKS, load


SERIES = {"id": "s1", "values": [100.0 + 20 * ((t % 12) < 6) + t % 3 for t in range(24)]}
INPUTS = {"lm": "elma", "classify": "great day", "tag": "the cat", "seq2seq": "abc",
          "condgen": "tr", "forecast": SERIES, "lm-mingru": "elma", "lm-transformer": "elma"}


@pytest.fixture(scope="module")
def client(every_task, tmp_path_factory):
    runs = [every_task[name] for name in INPUTS]
    app = create_app(runs, ServeConfig(state_dir=str(tmp_path_factory.mktemp("state")),
                                       max_sessions=5))
    with TestClient(app) as c:
        yield c


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status
    assert "Traceback" not in response.text
    return body["error"]["message"]


def test_ping_and_the_models_list_name_every_run_of_every_task(client, every_task):
    assert client.get("/ping").json()["status"] == "ok"
    models = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
    assert set(models) == {every_task[name].name for name in INPUTS}
    models["lm"] = models[every_task["lm"].name]
    assert {m["task"] for m in models.values()} == set(TASKS)
    assert models["lm"]["decoding"] == "StreamerStepper"
    assert models["lm"]["probes"] == ["h", "c", "i", "f", "o", "g"]
    assert models["lm-mingru"]["decoding"] == "StackedStepper"
    assert models["lm-transformer"]["decoding"] == "LoopStepper"
    assert models["classify"]["generate"] is False


@pytest.mark.parametrize("name", list(INPUTS))
def test_invocations_answer_every_task_through_its_predict(client, every_task, name):
    parameters = {"seed": 3} if name.startswith("lm") or name in ("condgen", "forecast") else {}
    if name.startswith("lm"):
        parameters["length"] = 12
    if name == "forecast":
        parameters["samples"] = 20
    r = client.post("/invocations", json={"model": every_task[name].name,
                                          "inputs": [INPUTS[name]],
                                          "parameters": parameters})
    assert r.status_code == 200, r.text
    body = r.json()
    task = body["task"]
    model, codec = load(every_task[name])
    expected = TASKS[task].predict(model, codec, [INPUTS[name]], **parameters)
    assert body["outputs"] == json.loads(json.dumps(expected))
    key = {"lm": "text", "condgen": "text", "classify": "probabilities", "tag": "tags",
           "seq2seq": "outputs", "forecast": "quantiles"}[task]
    assert key in body["outputs"][0]


def test_invocations_take_seq2seq_beam_and_refuse_what_a_task_does_not_take(client, every_task):
    r = client.post("/invocations", json={"model": "seq2seq", "inputs": "abc",
                                          "parameters": {"beam": 3, "nbest": 2}})
    assert r.status_code == 200 and len(r.json()["outputs"][0]["outputs"]) == 2
    message = error_of(client.post("/invocations", json={
        "model": "classify", "inputs": ["x y"], "parameters": {"beam": 2}}), 422)
    assert "'beam' does not apply to a classify run (it takes: top)" in message
    for parameters in ({"temperature": -1}, {"length": 10 ** 7}, {"top_p": 0}, {"seed": "x"},
                       {"top_k": True}):
        error_of(client.post("/invocations", json={"inputs": ["elma"],
                                                   "parameters": parameters}), 422)
    error_of(client.post("/invocations", json={"inputs": []}), 422)
    error_of(client.post("/invocations", json={"inputs": ["x"] * 65}), 422)
    error_of(client.post("/invocations", json={"model": "nope", "inputs": ["x"]}), 404)


def test_a_served_forecast_equals_the_forecast_of_the_same_series_from_a_file(
        client, every_task, tmp_path):
    csv = tmp_path / "h.csv"
    csv.write_text("id,time,value\n" + "".join(f"s1,{2000 + t // 12}-{t % 12 + 1:02d},{v}\n"
                                               for t, v in enumerate(SERIES["values"])))
    model, codec = load(every_task["forecast"])
    from_file = TASKS["forecast"].predict(model, codec, [], series=str(csv), seed=5, samples=30,
                                          horizon=3)
    r = client.post("/invocations", json={"model": "forecast", "inputs": SERIES,
                                          "parameters": {"seed": 5, "samples": 30,
                                                         "horizon": 3}})
    assert r.status_code == 200, r.text
    assert r.json()["outputs"] == json.loads(json.dumps(from_file))
    assert len(r.json()["outputs"][0]["median"]) == 3


@pytest.mark.parametrize("inputs,parameters,words", [
    ([str(__file__)], {}, "takes series"),                       # a file name: never read
    ([{"id": "s1", "values": [1.0, None, 3.0] * 8}], {}, "finite numbers"),
    ([{"id": "s1", "values": []}], {}, "non-empty"),
    ([{"id": "s1", "values": [1.0] * 24, "extra": 1}], {}, "a series is"),
    ([{"id": "s1", "values": [1.0] * 24, "covariates": [[1.0]] * 28}], {}, "0 covariate"),
    ([{"id": "s1", "values": [1.0] * 3}], {}, "context"),
    ([SERIES], {"series": "/etc/passwd"}, "'series' does not apply"),
    ([SERIES], {"out": "/tmp/x.json"}, "'out' does not apply"),
    ([SERIES], {"samples": 0}, "samples must be"),
    ([SERIES], {"horizon": 10 ** 7}, "horizon must be"),
])
def test_a_forecast_run_refuses_files_and_bad_series_in_one_line(client, inputs, parameters,
                                                                  words):
    message = error_of(client.post("/invocations", json={
        "model": "forecast", "inputs": inputs, "parameters": parameters}), 422)
    assert words in message and "\n" not in message


@pytest.mark.parametrize("name", ["lm", "lm-mingru", "lm-transformer"])
def test_generate_whole_and_streamed_give_the_same_text(client, every_task, name):
    body = {"model": every_task[name].name, "prompt": "elma ", "length": 25, "seed": 7,
            "temperature": 1.0}
    whole = client.post("/v1/generate", json=body).json()
    assert whole["tokens"] == 25 and whole["prompt_tokens"] == 5 and whole["ttft_ms"] > 0
    r = client.post("/v1/generate", json={**body, "stream": True})
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [(e.split("\n")[0], json.loads(e.split("data: ", 1)[1]))
              for e in r.text.replace("\r\n", "\n").strip().split("\n\n")]
    kinds = [kind for kind, _ in events]
    assert kinds == ["event: token"] * 25 + ["event: done"]
    done = events[-1][1]
    assert "".join(d["text"] for _, d in events[:-1]) + done["rest"] == done["text"]
    assert done["text"] == whole["text"] and done["tokens"] == 25


def test_generate_stops_at_a_stop_string_and_reports_probe_values(client):
    free = client.post("/v1/generate", json={"prompt": "elma", "length": 40, "seed": 1}).json()
    stop = free["text"][5:7]
    cut = client.post("/v1/generate", json={"prompt": "elma", "length": 40, "seed": 1,
                                            "stop": [stop]}).json()
    assert cut["stopped"] == stop and cut["text"] == free["text"][:free["text"].find(stop)]
    probed = client.post("/v1/generate", json={"prompt": "elma", "length": 10, "seed": 1,
                                               "probe": {"what": "f", "layer": 0, "unit": 3}})
    values = probed.json()["values"]
    assert len(values) == 10 and all(0 < v < 1 for v in values)      # a sigmoid gate


BAD_GENERATE = [
    ({"prompt": ""}, "prompt is empty"),
    ({"prompt": "x" * 9000}, "at most"),
    ({"prompt": "elma", "length": -1}, "length"),
    ({"prompt": "elma", "length": 100000}, "length"),
    ({"prompt": "elma", "temperature": -0.5}, "temperature"),
    ({"prompt": "elma", "temperature": 99}, "temperature"),
    ({"prompt": "elma", "top_k": 0}, "top_k"),
    ({"prompt": "elma", "top_p": 1.5}, "top_p"),
    ({"prompt": "elma", "top_p": 0}, "top_p"),
    ({"prompt": "elma", "stop": [""]}, "stop"),
    ({"prompt": "elma", "stop": ["a"] * 9}, "stop"),
    ({"prompt": "elma", "seed": -1}, "seed"),
    ({"prompt": "elma", "surprise": 1}, "surprise"),
    ({"prompt": 42}, "prompt"),
    ({"prompt": "QQQ"}, "never saw"),
    ({"prompt": "elma", "model": "classify"}, "classify run"),
    ({"prompt": "elma", "model": "lm-transformer", "probe": {"what": "h"}}, "probe"),
    ({"prompt": "elma", "probe": {"what": "c", "unit": 999}}, "probe unit"),
    ({"prompt": "elma", "probe": {"what": "r"}}, "probe 'r'"),
]


@pytest.mark.parametrize("body,words", BAD_GENERATE)
def test_bad_generate_requests_get_422_and_one_json_line(client, body, words):
    assert words in error_of(client.post("/v1/generate", json=body), 422)


def test_bodies_too_large_or_not_json_are_refused_in_json(client):
    assert "larger than" in error_of(client.post("/v1/generate", content=b"x" * 70000,
                                                 headers={"content-type": "application/json"}),
                                     413)
    error_of(client.post("/v1/generate", content=b"{not json",
                         headers={"content-type": "application/json"}), 422)
    error_of(client.get("/v1/nothing"), 404)


def test_sessions_open_read_append_continue_and_close(client):
    opened = client.post("/v1/sessions", json={})
    assert opened.status_code == 201
    sid = opened.json()["id"]
    assert len(sid) >= 43 and sid != client.post("/v1/sessions", json={}).json()["id"]
    assert "distribution" not in client.get(f"/v1/sessions/{sid}").json()
    first = client.post(f"/v1/sessions/{sid}/append", json={"text": "elma ", "top": 4}).json()
    assert first["symbols"] == 5 and len(first["distribution"]) == 4
    assert sum(d["p"] for d in first["distribution"]) <= 1 + 1e-6
    more = client.post(f"/v1/sessions/{sid}/append",
                       json={"text": "k", "length": 6, "seed": 2}).json()
    assert more["symbols"] == 5 + 1 + 6 and more["tokens"] == 6 and len(more["text"]) == 6
    seen = client.get(f"/v1/sessions/{sid}", params={"top": 3}).json()
    assert seen["distribution"] == more["distribution"][:3] and seen["symbols"] == 12
    assert client.delete(f"/v1/sessions/{sid}").status_code == 204
    error_of(client.get(f"/v1/sessions/{sid}"), 404)
    error_of(client.post(f"/v1/sessions/{sid}/append", json={"text": "a"}), 404)
    error_of(client.delete(f"/v1/sessions/{sid}"), 404)


def test_session_appends_equal_reading_the_whole_text_at_once(client):
    def distribution(*texts):
        sid = client.post("/v1/sessions", json={}).json()["id"]
        for text in texts:
            out = client.post(f"/v1/sessions/{sid}/append", json={"text": text, "top": 5}).json()
        client.delete(f"/v1/sessions/{sid}")
        return out["distribution"]
    pieces, whole = distribution("elm", "a kır", "mızı"), distribution("elma kırmızı")
    assert [d["id"] for d in pieces] == [d["id"] for d in whole]
    assert [d["p"] for d in pieces] == pytest.approx([d["p"] for d in whole], abs=1e-5)


def test_session_limits_and_refusals(client):
    error_of(client.post("/v1/sessions", json={"model": "tag"}), 422)
    opened = [client.post("/v1/sessions", json={}) for _ in range(6)]
    assert [r.status_code for r in opened].count(429) >= 1
    refused = next(r for r in opened if r.status_code == 429)
    assert refused.headers["retry-after"] == "1" and "sessions are open" in error_of(refused, 429)
    sid = next(r for r in opened if r.status_code == 201).json()["id"]
    error_of(client.post(f"/v1/sessions/{sid}/append", json={"text": ""}), 422)
    error_of(client.post(f"/v1/sessions/{sid}/append", json={"text": "a", "top": 0}), 422)
    for r in opened:
        if r.status_code == 201:
            client.delete(f"/v1/sessions/{r.json()['id']}")


def test_sessions_survive_a_restart_of_the_app(every_task, tmp_path):
    config = ServeConfig(state_dir=str(tmp_path))
    with TestClient(create_app([every_task["lm"]], config)) as c:
        sid = c.post("/v1/sessions", json={}).json()["id"]
        c.post(f"/v1/sessions/{sid}/append", json={"text": "elma "})
        ref = c.post("/v1/sessions", json={}).json()["id"]
        c.post(f"/v1/sessions/{ref}/append", json={"text": "elma "})
        before = c.post(f"/v1/sessions/{ref}/append", json={"text": "sarı"}).json()
    assert not (tmp_path / "sessions.db-wal").exists() or \
        (tmp_path / "sessions.db-wal").stat().st_size == 0          # folded in at shutdown
    with TestClient(create_app([every_task["lm"]], config)) as c:
        after = c.post(f"/v1/sessions/{sid}/append", json={"text": "sarı"}).json()
    assert after["distribution"] == before["distribution"] and after["symbols"] == 9


def test_a_token_guards_every_endpoint_but_ping_and_the_playground(every_task):
    app = create_app([every_task["lm"]], ServeConfig(token="s3cret"))
    with TestClient(app) as c:
        assert c.get("/ping").status_code == 200
        assert c.get("/").status_code == 200 and "<html" in c.get("/").text
        assert c.get("/static/playground.js").status_code == 200
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            r = c.get("/v1/models", headers=headers)
            assert "bearer token" in error_of(r, 401)
            assert r.headers["www-authenticate"] == "Bearer"
            error_of(c.post("/invocations", json={"inputs": "elma"}, headers=headers), 401)
        ok = {"Authorization": "Bearer s3cret"}
        assert c.get("/v1/models", headers=ok).status_code == 200
        assert c.post("/v1/generate", json={"prompt": "elma", "length": 3},
                      headers=ok).status_code == 200
