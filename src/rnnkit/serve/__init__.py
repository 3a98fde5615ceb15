"""Serving trained runs over HTTP (``rnnkit serve``): FastAPI endpoints, a batched decoder for
language models, sessions persisted in SQLite, and a playground page. Needs the ``serve`` extra
(``pip install 'rnnkit[serve]'``)."""

from rnnkit.serve.app import create_app
from rnnkit.serve.config import ServeConfig

__all__ = ["ServeConfig", "create_app"]
