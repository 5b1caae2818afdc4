"""The venue registry: one line per venue. Everything venue-specific lives in its module.

A venue module (`data_sources/venues/<id>.py`, shape in its docstring and in the modules below) supplies:
`ID`, `NAME`, `URL_SETTING`, `DEFAULT_URL`, optionally `WS_SETTING`/`DEFAULT_WS` and `STREAM` (a
`streams.StreamProtocol` subclass taking `(url, instruments, assets)`), `BUDGETS` (rows of `(path, limit,
seconds, per instrument?, source)` or `budgets.Budget`s), `fetch_listing(upstream)`, `probe(upstream)`,
`adapter(base_url, timeout, resolve)`, `classify` (or None), `LIQUIDATION_HISTORY` (how far back its REST
liquidations reach, or None), `LIQUIDATION_NOTE` and `LOWER_BOUND` (coverage sentences, or None).

Modules are imported on first use (`Venue.module`), so this registry is importable from `schema` and
`settings` without import cycles. Adding a venue = its module, one line in `VENUES`, its fake and its tests.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Venue:
    """One venue: its lowercase id (the `exchange` column), its display name and its module's dotted path."""

    id: str
    name: str
    path: str

    @property
    def module(self) -> ModuleType:
        """The venue's module (imported on first use)."""
        return importlib.import_module(self.path)

    def get(self, attribute: str) -> object:
        """The module's `attribute`, or None where the venue has none (a stream, a lower bound...)."""
        return getattr(self.module, attribute, None)


VENUES: tuple[Venue, ...] = (
    Venue("binance", "Binance", "data_sources.venues.binance"),
    Venue("okx", "OKX", "data_sources.venues.okx"),
    Venue("bybit", "Bybit", "data_sources.venues.bybit"),
    Venue("gate", "Gate", "data_sources.venues.gate"),
    Venue("bitget", "Bitget", "data_sources.venues.bitget"),
    Venue("hyperliquid", "Hyperliquid", "data_sources.venues.hyperliquid"),
)
BY_ID: dict[str, Venue] = {venue.id: venue for venue in VENUES}
