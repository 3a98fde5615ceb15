"""What every request passes before it reaches an endpoint: the bearer token (compared in
constant time) and the body size (read whole, at most ``max_body_bytes``). A plain ASGI
middleware, so streamed responses go through it untouched."""

from __future__ import annotations

import hmac
import json

from rnnkit.serve.config import ServeConfig

def error_body(status: int, message: str, field: str | None = None) -> bytes:
    return json.dumps({"error": {"status": status, "message": message, "field": field}}) \
        .encode()


async def _answer(send, status: int, message: str, headers: list | None = None) -> None:
    body = error_body(status, message)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


def _public(path: str) -> bool:
    """No token for the health check and the playground's files (its calls carry one)."""
    return path in ("/ping", "/") or path.startswith("/static/")


class Guard:
    """401 without the right ``Authorization: Bearer TOKEN``; 413 for a body too large."""

    def __init__(self, app, config: ServeConfig) -> None:
        self.app = app
        self.max_body = config.max_body_bytes
        self.expected = None if config.token is None else \
            b"Bearer " + config.token.encode("utf-8")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if self.expected is not None and not _public(scope["path"]):
            given = headers.get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                return await _answer(send, 401, "a valid bearer token is required",
                                     [(b"www-authenticate", b"Bearer")])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            return await _answer(send, 413, f"the request body is larger than "
                                            f"{self.max_body:,} bytes")
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body:
                return await _answer(send, 413, f"the request body is larger than "
                                                f"{self.max_body:,} bytes")
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()
        return await self.app(scope, replay, send)
