"""On-disk request cache: a finished request is never sent again, across crashes and reruns.

Keys are `ChatRequest.cache_key()` (a hash of the request body), values the `ChatResult`
JSON.  SQLite in WAL mode lets several build processes share one cache file: readers never
block, writers wait up to `timeout_s` for each other.  Every `put` is its own committed
transaction, so a process killed right after `put` returns keeps the entry (WAL with
synchronous=NORMAL is durable against process crashes; only an OS crash / power cut can
drop the last few commits, and never corrupts the file).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["CacheError", "RequestCache"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created REAL NOT NULL
)
"""


class CacheError(RuntimeError):
    """The cache file cannot be used (corrupt, not a database, locked, closed)."""


class RequestCache:
    """A persistent `key -> dict` map backed by one SQLite file.

    Safe to share between processes (WAL) and between threads of one process (one
    connection behind a lock).  `timeout_s` is how long a write waits for another
    process's write before giving up with `CacheError`.
    """

    def __init__(self, path: str | Path, timeout_s: float = 30.0):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        if self.path.is_dir():
            raise CacheError(f"request cache {self.path}: is a directory, expected a database file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # isolation_level=None: autocommit, each statement commits on its own.
            conn = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise CacheError(f"request cache {self.path}: cannot open ({exc})") from exc
        try:
            # The first statements read the header: a corrupt or foreign file fails here.
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"could not switch to WAL journal (got {mode!r})")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(requests)")}
            if not {"key", "value"} <= columns:
                raise sqlite3.DatabaseError(f"table 'requests' has columns {sorted(columns)}, expected key/value")
        except sqlite3.Error as exc:
            conn.close()
            raise CacheError(f"request cache {self.path}: {_describe(exc)}") from exc
        self._conn = conn

    def _execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            if self._conn is None:
                raise CacheError(f"request cache {self.path}: used after close()")
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise CacheError(f"request cache {self.path}: {_describe(exc)}") from exc

    def get(self, key: str) -> dict[str, Any] | None:
        rows = self._execute("SELECT value FROM requests WHERE key = ?", (key,))
        if not rows:
            return None
        try:
            value = json.loads(rows[0][0])
        except json.JSONDecodeError as exc:
            raise CacheError(f"request cache {self.path}: entry {key} is not valid JSON ({exc})") from exc
        return value

    def put(self, key: str, value: dict[str, Any]) -> None:
        if not isinstance(value, dict):
            raise TypeError(f"request cache {self.path}: value for {key} must be a dict, got {type(value).__name__}")
        blob = json.dumps(value, ensure_ascii=False, sort_keys=True)
        self._execute(
            "INSERT OR REPLACE INTO requests (key, value, created) VALUES (?, ?, ?)", (key, blob, time.time())
        )

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(self._execute("SELECT 1 FROM requests WHERE key = ?", (key,)))

    def __len__(self) -> int:
        return int(self._execute("SELECT COUNT(*) FROM requests")[0][0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> RequestCache:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RequestCache({str(self.path)!r})"


def _describe(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"{text} (another process holds a write lock; retry later or raise timeout_s)"
    if "not a database" in text or "malformed" in text:
        return f"{text} (the file is corrupt or not a SQLite cache; move it aside to start a fresh cache)"
    return text
