"""The HTTP application: ``create_app(runs, config)`` serves trained runs of any task.

    GET  /ping                       200 once the models are loaded and their decoders run
    POST /invocations                any task's ``Task.predict`` (the SageMaker contract)
    GET  /v1/models                  the runs served
    POST /v1/generate                continue a prompt; ``"stream": true`` streams SSE events
    POST /v1/sessions                open a session; GET / DELETE /v1/sessions/{id}
    POST /v1/sessions/{id}/append    read text; the next-symbol distribution or a continuation
    GET  /                           the playground

Errors are JSON, ``{"error": {"status", "message", "field"}}``, never a traceback. The language
model endpoints live in :mod:`rnnkit.serve.lm_routes`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from rnnkit.errors import RnnkitError
from rnnkit.serve import lm_routes
from rnnkit.serve.config import ServeConfig
from rnnkit.serve.guard import Guard
from rnnkit.serve.models import Served, load_served
from rnnkit.serve.schemas import BadRequest, InvocationRequest, check_text, stops_of
from rnnkit.serve.sessions import SessionStore

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("rnnkit.serve")


class Server:
    """What the endpoints share: the settings, the runs, the sessions."""

    def __init__(self, runs: list[Path], config: ServeConfig) -> None:
        self.config = config
        self.models: dict[str, Served] = load_served(runs, config)
        self.store = SessionStore(config.state_dir, config.max_sessions)
        self.invoking = 0
        self.session_locks: dict[str, asyncio.Lock] = {}
        self.tasks: list[asyncio.Task] = []
        self.ready = False

    def model(self, name: str | None, *, lm: bool = False) -> Served:
        """The run called ``name`` (the first one served when None)."""
        if name is None:
            served = next(iter(self.models.values()))
        elif name in self.models:
            served = self.models[name]
        else:
            raise BadRequest(f"no model '{name}' is served; GET /v1/models lists them", "model",
                             status=404)
        if lm and served.decoder is None:
            raise BadRequest(f"'{served.name}' is a {served.task.name} run; this endpoint serves "
                             "language models (use POST /invocations)", "model")
        return served

    def decoders(self):
        return [s.decoder for s in self.models.values() if s.decoder is not None]

    def start(self) -> None:
        self.tasks = [asyncio.create_task(d.run(), name=f"decoder {d.model.__class__.__name__}")
                      for d in self.decoders()]
        self.ready = True

    async def stop(self) -> None:
        """Let the decoders finish what is in flight, then fold the session log in."""
        self.ready = False
        for decoder in self.decoders():
            decoder.stop()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=self.config.drain_seconds)
        self.store.close()


def create_app(runs: list[Path], config: ServeConfig = ServeConfig()) -> FastAPI:
    server = Server(runs, config)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        server.start()
        yield
        await server.stop()

    app = FastAPI(title="rnnkit", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.server = server
    app.add_middleware(Guard, config=config)
    _error_handlers(app)
    app.include_router(lm_routes.router)

    @app.get("/ping")
    def ping():
        alive = server.ready and not any(t.done() for t in server.tasks)
        return JSONResponse({"status": "ok" if alive else "unavailable",
                             "models": list(server.models)}, status_code=200 if alive else 503)

    @app.get("/v1/models")
    def models():
        return {"object": "list", "data": [s.info() for s in server.models.values()]}

    @app.post("/invocations")
    async def invocations(body: InvocationRequest):
        served = server.model(body.model)
        inputs = _inputs(body.inputs, config, served.task.served_inputs)
        options = _options(served, body.parameters, config)
        if server.invoking >= config.max_invocations:
            raise BadRequest("the server is busy; try again", status=503)
        server.invoking += 1
        try:
            outputs = await asyncio.to_thread(served.task.predict, served.model, served.codec,
                                              inputs, **options)
        finally:
            server.invoking -= 1
        return {"model": served.name, "task": served.task.name, "outputs": outputs}

    @app.get("/")
    def playground():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _inputs(inputs, config: ServeConfig, kind: str) -> list:
    """The request's inputs: texts (or a tagger's token lists), or series objects for a
    forecast run; never file names, which ``rnnkit predict`` reads but a server must not."""
    items = [inputs] if isinstance(inputs, (str, dict)) else inputs
    if not items:
        raise BadRequest("inputs is empty: give a text or a list of them", "inputs")
    if len(items) > config.max_inputs:
        raise BadRequest(f"at most {config.max_inputs} inputs per request, got {len(items)}",
                         "inputs")
    for item in items:
        if kind == "series":
            if not isinstance(item, dict) or len(item.get("values") or ()) + \
                    len(item.get("covariates") or ()) > config.max_prompt_chars:
                raise BadRequest('a forecast run takes series: {"id": ..., "values": [numbers]'
                                 ', "covariates": [[numbers], ...]}', "inputs")
        elif isinstance(item, str):
            check_text(item, config, "an input")
        elif not isinstance(item, list) or len(item) > config.max_prompt_chars:
            raise BadRequest("an input is a text, or a list (a tagger's tokens, a time-series "
                             "classifier's (T, C) rows)", "inputs")
    return items


# Range checks of predict's keyword options (the name, what they must be, the check).
OPTION_RANGES = {
    "temperature": ("in [0, max temperature]", lambda v, c: 0 <= v <= c.max_temperature),
    "top_k": ("a positive integer", lambda v, c: isinstance(v, int) and v >= 1),
    "top_p": ("in (0, 1]", lambda v, c: 0 < v <= 1),
    "seed": ("an integer in [0, 2^63)", lambda v, c: isinstance(v, int) and 0 <= v < 2 ** 63),
    "length": ("an integer in [0, max length]",
               lambda v, c: isinstance(v, int) and 0 <= v <= c.max_length),
    "max_length": ("an integer in [1, max length]",
                   lambda v, c: isinstance(v, int) and 1 <= v <= c.max_length),
    "top": ("an integer >= 0", lambda v, c: isinstance(v, int) and v >= 0),
    "beam": ("an integer in [1, 16]", lambda v, c: isinstance(v, int) and 1 <= v <= 16),
    "nbest": ("an integer in [1, 16]", lambda v, c: isinstance(v, int) and 1 <= v <= 16),
    "length_penalty": ("in [0, 5]", lambda v, c: 0 <= v <= 5),
    "stop": ("a list of strings", lambda v, c: stops_of(v, c) is not None),
    "attention": ("true or false", lambda v, c: isinstance(v, bool)),
    "horizon": ("an integer in [1, max length]",
                lambda v, c: isinstance(v, int) and 1 <= v <= c.max_length),
    "samples": ("an integer in [1, 1000]", lambda v, c: isinstance(v, int) and 1 <= v <= 1000),
}
# predict's options that name files: rnnkit predict's, never the server's.
FILE_OPTIONS = {"series", "out"}


def _options(served: Served, parameters: dict, config: ServeConfig) -> dict:
    """``parameters`` checked against the keyword options of the run's ``predict``."""
    takes = [name for name, p in inspect.signature(served.task.predict).parameters.items()
             if p.kind is inspect.Parameter.KEYWORD_ONLY and name != "emit"
             and name not in FILE_OPTIONS]
    for name, value in parameters.items():
        if name not in takes:
            raise BadRequest(f"parameter '{name}' does not apply to a {served.task.name} run "
                             f"(it takes: {', '.join(takes) or 'none'})", name)
        what, ok = OPTION_RANGES[name]
        if isinstance(value, bool) != (name == "attention") or not _holds(ok, value, config):
            raise BadRequest(f"{name} must be {what}, got {value!r}", name)
    return parameters


def _holds(ok, value, config) -> bool:
    try:
        return bool(ok(value, config))
    except (TypeError, BadRequest):
        return False


def _error_handlers(app: FastAPI) -> None:
    def answer(status: int, message: str, field: str | None = None, headers=None):
        return JSONResponse({"error": {"status": status, "message": message, "field": field}},
                            status_code=status, headers=headers)

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, e: BadRequest):
        return answer(e.status, e.message, e.field,
                      {"Retry-After": "1"} if e.status in (429, 503) else None)

    @app.exception_handler(RnnkitError)
    async def rnnkit_error(request: Request, e: RnnkitError):
        return answer(422, str(e))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body") or None
        if where is None:
            return answer(422, "the body must be a JSON object (Content-Type: application/json)")
        return answer(422, f"{where}: {first.get('msg', 'invalid request')}", where)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException):
        return answer(e.status_code, str(e.detail))

    @app.exception_handler(Exception)
    async def internal(request: Request, e: Exception):
        log.exception("internal error on %s", request.url.path)
        return answer(500, "internal error (the server's log has the details)")
