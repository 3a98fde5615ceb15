"""The language-model endpoints: generation (whole or streamed as Server-Sent Events) and
sessions. Both submit a :class:`~rnnkit.serve.engine.Lane` to the model's decoder and read its
events from an asyncio queue, so every request shares the decoder's batched steps."""

from __future__ import annotations

import asyncio
import json
from typing import AsyncIterator

import torch
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse

from rnnkit.serve.engine import Lane
from rnnkit.serve.models import Served
from rnnkit.serve.schemas import (AppendRequest, BadRequest, GenerateRequest, SessionRequest,
                                  check_text, probe_of, sampling_of)
from rnnkit.tasks.lm_use import check_prompt

router = APIRouter()


def _ids(served: Served, text: str) -> list[int]:
    check_prompt(served.codec, text)       # a character never seen: 422, in one line
    ids = served.codec.encode(text).tolist()
    if not ids:
        raise BadRequest("the text has no symbol the model reads", "text")
    return ids


def _submit(served: Served, lane: Lane) -> Lane:
    lane.queue = asyncio.Queue()
    if not served.decoder.submit(lane):
        raise BadRequest(f"'{served.name}' is decoding {served.decoder.max_lanes} streams; "
                         "try again", status=503)
    return lane


async def _events(lane: Lane) -> AsyncIterator[dict]:
    """The lane's events up to its last; leaving early (a client gone) cancels it."""
    try:
        while True:
            event = await lane.queue.get()
            last = event["type"] != "token"
            yield event
            if last:
                return
    finally:
        lane.cancel()


def _failed(event: dict) -> None:
    if event["type"] == "error":
        raise RuntimeError(event["message"])


def distribution(served: Served, logits: torch.Tensor, top: int) -> list[dict]:
    """The ``top`` most probable next symbols, most probable first."""
    p = torch.softmax(logits.float(), -1)
    values, ids = p.topk(min(top, p.numel()))
    return [{"symbol": served.codec.decode([i]), "id": i, "p": v}
            for v, i in zip(values.tolist(), ids.tolist())]


def _summary(done: dict) -> dict:
    return {k: done[k] for k in ("stopped", "tokens", "prompt_tokens", "ttft_ms", "total_ms")}


@router.post("/v1/generate")
async def generate(body: GenerateRequest, request: Request):
    server = request.app.state.server
    served = server.model(body.model, lm=True)
    check_text(body.prompt, server.config, "prompt")
    sampling, stop = sampling_of(body, server.config)
    lane = _submit(served, Lane(feed=_ids(served, body.prompt), length=body.length,
                                sampling=sampling, stop=stop,
                                probe=probe_of(body.probe, served.info())))
    if body.stream:
        return EventSourceResponse(_sse(lane), ping=0)
    values = []
    async for event in _events(lane):
        _failed(event)
        if "value" in event:
            values.append(event["value"])
    out = {"model": served.name, "prompt": body.prompt, "text": event["text"],
           **_summary(event)}
    if lane.probe is not None:
        out["values"] = values
    return out


async def _sse(lane: Lane) -> AsyncIterator[bytes]:
    """One ``token`` event per generated token, then ``done`` (or ``error``), each encoded
    here in one go (the JSON data has no line break, so it is one ``data:`` line)."""
    async for event in _events(lane):
        kind = event["type"]
        if kind == "done":
            data = {"rest": event["rest"], "text": event["text"], **_summary(event)}
        else:
            data = {k: v for k, v in event.items() if k != "type"}
        yield f"event: {kind}\r\ndata: {json.dumps(data, ensure_ascii=False)}\r\n\r\n".encode()


@router.post("/v1/sessions", status_code=201)
async def open_session(body: SessionRequest, request: Request):
    server = request.app.state.server
    served = server.model(body.model, lm=True)
    session = await asyncio.to_thread(server.store.create, served.name)
    if session is None:
        raise BadRequest(f"{server.config.max_sessions:,} sessions are open; delete one first",
                         status=429)
    return session.info()


async def _session(server, session_id: str):
    session = await asyncio.to_thread(server.store.get, session_id)
    if session is None:
        raise BadRequest("no such session", "id", status=404)
    return session


@router.get("/v1/sessions/{session_id}")
async def get_session(session_id: str, request: Request, top: int = 10):
    server = request.app.state.server
    session = await _session(server, session_id)
    out = session.info()
    if session.logits is not None and session.model in server.models:
        out["distribution"] = distribution(server.models[session.model], session.logits,
                                           max(1, min(top, 1000)))
    return out


@router.delete("/v1/sessions/{session_id}", status_code=204)
async def delete_session(session_id: str, request: Request):
    server = request.app.state.server
    if not await asyncio.to_thread(server.store.delete, session_id):
        raise BadRequest("no such session", "id", status=404)
    server.session_locks.pop(session_id, None)
    return Response(status_code=204)


@router.post("/v1/sessions/{session_id}/append")
async def append(session_id: str, body: AppendRequest, request: Request):
    """Read ``text`` (then generate ``length`` tokens, which the session reads too): the
    next-symbol distribution after everything read, and the continuation if one was asked."""
    server = request.app.state.server
    check_text(body.text, server.config, "text")
    sampling, stop = sampling_of(body, server.config)
    if not 1 <= body.top <= 1000:
        raise BadRequest(f"top must be in [1, 1000], got {body.top}", "top")
    await _session(server, session_id)      # 404 before a lock is made for an unknown id
    lock = server.session_locks.setdefault(session_id, asyncio.Lock())
    async with lock:                        # appends to one session run in order
        session = await _session(server, session_id)
        served = server.models.get(session.model)
        if served is None:
            raise BadRequest(f"the session's model '{session.model}' is not served now",
                             status=410)
        lane = _submit(served, Lane(feed=_ids(served, body.text), length=body.length,
                                    sampling=sampling, stop=stop, state=session.state,
                                    keep_state=True))
        async for event in _events(lane):
            _failed(event)
        session.state, session.logits = event["state"], event["logits"]
        session.symbols += event["prompt_tokens"] + event["tokens"]
        await asyncio.to_thread(server.store.save, session)
    out = {**session.info(), "distribution": distribution(served, session.logits, body.top)}
    if body.length:
        out.update(text=event["text"], stopped=event["stopped"], tokens=event["tokens"])
    return JSONResponse(out)
