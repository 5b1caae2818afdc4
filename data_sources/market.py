"""The cached read path pages use: one dataset for many assets x exchanges.

`load` fans a window out to the active source per (asset, exchange), keeps what
answered, records what failed and why, and caches the combined panel (TTL,
bounded) so reruns of the same view cost nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pandas as pd
from cachetools import TTLCache

from data_sources.base import MarketSource, Query, SourceError
from data_sources.schema import EXCHANGE_NAMES, Dataset, empty

PANEL_TTL_SECONDS = 600


@dataclass(frozen=True)
class SourceStatus:
    """Who answered a panel's data, who failed and why, and when it was fetched."""

    source: str
    simulated: bool
    answered: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]
    fetched_at: pd.Timestamp

    @property
    def ok(self) -> bool:
        """True when at least one exchange answered."""
        return bool(self.answered)


@dataclass(frozen=True)
class Panel:
    """A normalized frame for a set of assets x exchanges, with its status."""

    frame: pd.DataFrame
    status: SourceStatus


_cache: TTLCache = TTLCache(maxsize=256, ttl=PANEL_TTL_SECONDS)
_lock = threading.Lock()


def _fetch_panel(
    source: MarketSource,
    dataset: Dataset,
    assets: tuple[str, ...],
    exchanges: tuple[str, ...],
    start: pd.Timestamp,
    end: pd.Timestamp,
    interval: str,
) -> Panel:
    frames: list[pd.DataFrame] = []
    answered: list[str] = []
    failures: dict[str, str] = {}
    for exchange in exchanges:
        for asset in assets:
            try:
                frame = source.fetch(dataset, Query(asset, exchange, start, end, interval))
            except SourceError as error:
                failures.setdefault(EXCHANGE_NAMES.get(exchange, exchange), str(error))
                continue
            frames.append(frame)
            if exchange not in answered:
                answered.append(exchange)
    frames = [f for f in frames if not f.empty]
    frame = pd.concat(frames, ignore_index=True) if frames else empty(dataset)
    status = SourceStatus(
        source=source.name,
        simulated=source.simulated,
        answered=tuple(answered),
        failed=tuple(failures.items()),
        fetched_at=pd.Timestamp.now(tz="UTC"),
    )
    return Panel(frame=frame, status=status)


def load(
    source: MarketSource,
    dataset: Dataset,
    assets: tuple[str, ...],
    exchanges: tuple[str, ...],
    start: pd.Timestamp,
    end: pd.Timestamp,
    interval: str,
) -> Panel:
    """The panel for `dataset` over [start, end); cached, never raises SourceError.

    The returned frame is shared with the cache: treat it as read-only.
    """
    key = (source.name, dataset, assets, exchanges, start, end, interval)
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    panel = _fetch_panel(source, dataset, assets, exchanges, start, end, interval)
    with _lock:
        _cache[key] = panel
    return panel


def clear_cache() -> None:
    """Drop every cached panel (tests, and the settings page's refresh)."""
    with _lock:
        _cache.clear()
