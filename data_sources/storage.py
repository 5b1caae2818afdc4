"""Which store a deployment uses: `LIQSCOPE_DB` is a SQLite file path (the embedded default) or a
`postgresql://` URL (a shared server). Callers get a `LiquidationStore` and never look at which."""

from __future__ import annotations

import threading
from pathlib import Path

from data_sources import store as sqlite_store
from data_sources.dburl import is_url
from data_sources.pgstore import PostgresStore
from data_sources.store import LiquidationStore, SqliteStore

_shared: dict[str, PostgresStore] = {}
_shared_lock = threading.Lock()


def connect(target: str | Path) -> LiquidationStore:
    """A new store for `target`, migrated to the current schema; the caller closes it. Raises StoreError."""
    return PostgresStore(str(target)) if is_url(target) else SqliteStore(target)


def exists(target: str | Path) -> bool:
    """Whether there is a store to read: a SQLite file someone created, or any database URL."""
    return is_url(target) or Path(target).exists()


def open_store(target: str | Path) -> LiquidationStore:
    """The process-wide store for `target` (one SQLite connection per file, one pool per URL)."""
    if not is_url(target):
        return sqlite_store.open_store(target)
    with _shared_lock:
        if str(target) not in _shared:
            _shared[str(target)] = PostgresStore(str(target))
        return _shared[str(target)]
