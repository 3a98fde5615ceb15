"""Sessions: a language model's state kept between requests, on disk, O(1) per session.

A recurrent model summarises everything it has read in a fixed-size state (an LSTM's (h, c):
2 L H numbers), so a session that has read a million symbols costs what one that has read ten
costs; a transformer would keep (or recompute) a cache that grows with the text. Each session
is one row of a SQLite database in WAL mode (``sessions.db`` in ``--state-dir``)::

    id (unguessable, 32 bytes of randomness) | model | symbols read | created | updated
    | state (safetensors bytes: the state's tensors, never pickle)
    | logits (safetensors bytes: the next-symbol logits after the last symbol read)

Every append commits before it answers, so a server killed with SIGKILL and started again reads
the same bytes and continues every session exactly. ``synchronous=NORMAL`` is enough for that:
in WAL mode a commit is in the operating system's hands once written, and only a power cut
could lose the last ones.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from rnnkit.serve.states import state_from_bytes, state_to_bytes

DB_FILE = "sessions.db"
SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    symbols INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    state BLOB,
    logits BLOB
)
"""


@dataclass
class Session:
    id: str
    model: str
    symbols: int              # symbols read so far (text appended and generated)
    created: float            # unix time
    updated: float
    state: object = None      # the model's state (batch 1), None before the first append
    logits: torch.Tensor | None = None   # (V,) next-symbol logits, None before the first append

    def info(self) -> dict:
        return {"id": self.id, "model": self.model, "symbols": self.symbols,
                "created": self.created, "updated": self.updated}


def new_id() -> str:
    """256 random bits, URL-safe: unguessable, so an id is the session's capability."""
    return secrets.token_urlsafe(32)


class SessionStore:
    """The sessions of one server, in ``state_dir/sessions.db`` (``:memory:`` without a
    folder: sessions then end with the process)."""

    def __init__(self, state_dir: str | Path | None, max_sessions: int) -> None:
        self.max_sessions = max_sessions
        if state_dir is None:
            self.path = ":memory:"
        else:
            Path(state_dir).mkdir(parents=True, exist_ok=True)
            self.path = str(Path(state_dir) / DB_FILE)
        self.lock = threading.Lock()
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(SCHEMA)

    def count(self) -> int:
        with self.lock:
            return self.db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]

    def create(self, model: str) -> Session | None:
        """A new empty session, or None when ``max_sessions`` are open."""
        now = time.time()
        session = Session(new_id(), model, 0, now, now)
        with self.lock:
            if self.db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] \
                    >= self.max_sessions:
                return None
            self.db.execute("INSERT INTO sessions (id, model, symbols, created, updated) "
                            "VALUES (?, ?, 0, ?, ?)", (session.id, model, now, now))
        return session

    def get(self, session_id: str) -> Session | None:
        with self.lock:
            row = self.db.execute("SELECT id, model, symbols, created, updated, state, logits "
                                  "FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            return None
        state = None if row[5] is None else state_from_bytes(row[5])
        logits = None if row[6] is None else load_tensors(row[6])["logits"]
        return Session(*row[:5], state=state, logits=logits)

    def save(self, session: Session) -> None:
        """Write the session's state, logits and count (one transaction, committed)."""
        session.updated = time.time()
        logits = save_tensors({"logits": session.logits.detach().contiguous().cpu()})
        with self.lock:
            self.db.execute("UPDATE sessions SET symbols = ?, updated = ?, state = ?, "
                            "logits = ? WHERE id = ?",
                            (session.symbols, session.updated, state_to_bytes(session.state),
                             logits, session.id))

    def delete(self, session_id: str) -> bool:
        with self.lock:
            return self.db.execute("DELETE FROM sessions WHERE id = ?",
                                   (session_id,)).rowcount > 0

    def close(self) -> None:
        """Fold the write-ahead log into the database and close it (at shutdown)."""
        with self.lock:
            if self.path != ":memory:":
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.db.close()
