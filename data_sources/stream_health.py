"""One sentence per exchange about the recorder's stream, from the store's stream_health rows.

The recorder writes a row per exchange every flush (~1 s); the app reads them here and
shows the sentence next to the liquidation coverage notes. A row not rewritten for
SILENT_AFTER_MS means the recorder itself is gone (killed, crashed, host down).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from data_sources import settings, storage
from data_sources.schema import EXCHANGE_NAMES
from data_sources.store import StreamHealth

SILENT_AFTER_MS = 30_000


def age(ms: int) -> str:
    """A duration in ms as "3 s", "14 min", "2 h" or "3 d" (rounded down)."""
    seconds = max(ms, 0) // 1000
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def sentence(health: StreamHealth, now_ms: int) -> str:
    """What one exchange's recorder stream is doing, e.g. "Bybit: live, last event 3 s ago"."""
    name = EXCHANGE_NAMES.get(health.exchange, health.exchange)
    if health.state == "stopped":
        return f"{name}: recorder stopped {age(now_ms - health.updated_ms)} ago"
    if now_ms - health.updated_ms > SILENT_AFTER_MS:
        return f"{name}: recorder silent for {age(now_ms - health.updated_ms)}"
    if health.state == "recording":
        last = f"last event {age(now_ms - health.last_event_ms)} ago" if health.last_event_ms else "no event yet"
        return f"{name}: live, {last}"
    if health.state == "refused":
        return f"{name}: not recording: subscription refused ({health.message})"
    if health.state == "misconfigured":
        return f"{name}: not recording: {health.message}"
    if health.state == "crashed":
        return f"{name}: not recording: the collector crashed ({health.message}); restarting"
    if health.state == "down":
        since = f" since {age(now_ms - health.last_alive_ms)}" if health.last_alive_ms else ""
        return f"{name}: reconnecting{since} ({health.message})"
    return f"{name}: connecting, not recording yet"


def describe(exchanges: Sequence[str], now_ms: int | None = None, db_path: str | None = None) -> dict[str, str]:
    """One sentence per exchange in `exchanges` that has a store row, by exchange id.

    `now_ms` defaults to the clock, `db_path` (a SQLite file or a database URL) to LIQSCOPE_DB;
    {} when no store exists. Raises StoreError when the store cannot be read.
    """
    target = db_path or settings.load().db_path
    if not storage.exists(target):
        return {}
    rows = storage.open_store(target).stream_health()
    now = int(time.time() * 1000) if now_ms is None else now_ms
    return {exchange: sentence(rows[exchange], now) for exchange in exchanges if exchange in rows}
