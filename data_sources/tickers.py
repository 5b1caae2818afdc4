"""Every perpetual's open interest on a venue in ONE request, to rank the top N coins of a view.

Each venue module names its all-symbol snapshot as `TICKERS` (a `Tickers`: the one request, what it measures,
the pure parser), e.g. Bybit `GET /v5/market/tickers` (`openInterestValue`, USD), Gate `GET
/api/v4/futures/usdt/tickers` (`total_size` contracts x `quanto_multiplier` x `mark_price`), Hyperliquid
`POST /info {"type":"metaAndAssetCtxs"}`. Binance has no all-symbol open-interest endpoint, so its 24 h
quote volume is a documented proxy; volume and open interest are never added together: a volume ranks only
when no venue with open interest is selected. A venue without `TICKERS` does not rank.

Symbols become coins through the venue's instrument listing (`instruments.Listing.by_symbol`), so
`1000PEPEUSDT`, `SHIB1000USDT` and `PEPE-USDT-SWAP` all count for PEPE; a symbol the listing does not
hold as a trading perpetual (a dated future, a delisted coin) is skipped.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache

from data_sources.base import Instrument, SourceError
from data_sources.http import Upstream, each_venue
from data_sources.instruments import Listing
from data_sources.schema import ASSETS, EXCHANGE_NAMES
from data_sources.units import to_usd_units
from data_sources.universe import Ranking, rank
from data_sources.venues import BY_ID

OPEN_INTEREST = "open interest"
TICKER_TTL_SECONDS = 300.0


@dataclass(frozen=True)
class Tickers:
    """A venue's all-symbol snapshot: `request(upstream)` makes the one request, `parse(raw, listing by
    symbol)` gives USD per coin (pure; BadPayload on an unexpected shape), `measure` names what it counts."""

    measure: str
    request: Callable[[Upstream], Any]
    parse: Callable[[Any, Mapping[str, Instrument]], dict[str, float]]


def usd_per_coin(
    rows: Iterable[Any], listing: Mapping[str, Instrument], symbol_key: str, usd_key: str
) -> dict[str, float]:
    """USD per coin from rows holding a USD value (`usd_key`), summed over the coin's trading perpetuals;
    unusable rows are skipped."""
    return _summed(rows, listing, symbol_key, lambda row, _: float(row.get(usd_key)))


def usd_per_coin_units(
    rows: Iterable[Any], listing: Mapping[str, Instrument], symbol_key: str, price_key: str, size_key: str
) -> dict[str, float]:
    """USD per coin from rows holding a price and a size in the venue's units (contracts, 1000x coins):
    `units.to_usd_units` makes them USD, as for every other series; unusable rows are skipped."""
    return _summed(
        rows, listing, symbol_key, lambda row, instrument: to_usd_units(instrument, row[price_key], row[size_key]).usd
    )


def _summed(
    rows: Iterable[Any], listing: Mapping[str, Instrument], symbol_key: str, usd: Callable[[dict, Instrument], float]
) -> dict[str, float]:
    out: dict[str, float] = {}
    for row in rows:
        if not isinstance(row, dict):
            continue
        instrument = listing.get(row.get(symbol_key))
        if instrument is None or not instrument.trading:
            continue
        try:
            value = usd(row, instrument)
        except (KeyError, TypeError, ValueError):
            continue
        if not math.isfinite(value) or value < 0:
            continue
        out[instrument.asset] = out.get(instrument.asset, 0.0) + value
    return out


def _tickers(exchange: str) -> Tickers | None:
    found = BY_ID[exchange].get("TICKERS") if exchange in BY_ID else None
    return found if isinstance(found, Tickers) else None


class TickerBoard:
    """Each venue's USD measure per coin: one request per venue, cached `ttl` seconds (thread-safe; concurrent
    misses share one request); a failed refresh serves the last good copy, and with none the venue is left out
    with its reason."""

    def __init__(
        self,
        upstreams: Mapping[str, Upstream],
        listing: Callable[[str], Listing],
        ttl: float = TICKER_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._upstreams = upstreams
        self._listing = listing
        self._fresh: TTLCache[str, dict[str, float]] = TTLCache(maxsize=len(BY_ID), ttl=ttl, timer=clock)
        self._last_good: dict[str, dict[str, float]] = {}
        self._fetching = {exchange: threading.Lock() for exchange in BY_ID}
        self._lock = threading.Lock()

    def measures(self, exchange: str) -> dict[str, float]:
        """USD per coin on `exchange` (its `Tickers.measure`); raises SourceError."""
        cached = self._cached(exchange)
        if cached is not None:
            return cached
        with self._fetching[exchange]:  # concurrent misses share one request
            cached = self._cached(exchange)
            if cached is not None:
                return cached
            try:
                tickers = _tickers(exchange)
                if tickers is None:
                    raise SourceError(f"{EXCHANGE_NAMES[exchange]} has no all-symbol snapshot.")
                raw = tickers.request(self._upstreams[exchange])
                values = tickers.parse(raw, self._listing(exchange).by_symbol)
            except SourceError:
                with self._lock:
                    last = self._last_good.get(exchange)
                if last is None:
                    raise
                values = last
            with self._lock:
                self._fresh[exchange] = values
                self._last_good[exchange] = values
            return values

    def _measured(self, exchange: str) -> tuple[dict[str, float], SourceError | None]:
        """`measures(exchange)`, or the error that kept it from being read."""
        try:
            return self.measures(exchange), None
        except SourceError as error:
            return {}, error

    def _cached(self, exchange: str) -> dict[str, float] | None:
        with self._lock:
            return self._fresh.get(exchange)

    def top(self, exchanges: tuple[str, ...], n: int) -> Ranking:
        """The `n` coins with the most open interest summed over the selected venues that publish it; a venue's
        proxy (Binance's 24 h volume) ranks only when no selected venue publishes open interest. The majors when
        no venue answered."""
        snapshots = {e: t for e in exchanges if (t := _tickers(e)) is not None}
        venues = [e for e, t in snapshots.items() if t.measure == OPEN_INTEREST] or list(snapshots)
        measures: dict[str, dict[str, float]] = {}
        notes: list[str] = []
        for exchange, (values, error) in zip(venues, each_venue(self._measured, venues), strict=True):
            if error is None:
                measures[exchange] = values
            else:
                notes.append(f"{EXCHANGE_NAMES[exchange]}'s tickers did not answer: {error}")
        if not measures:
            return Ranking(ASSETS[:n], "the majors (no venue's tickers answered)", tuple(notes))
        kind = snapshots[next(iter(measures))].measure
        basis = f"{kind} on {', '.join(EXCHANGE_NAMES[e] for e in measures)}"
        proxies = [EXCHANGE_NAMES[e] for e, t in snapshots.items() if t.measure != OPEN_INTEREST]
        if kind == OPEN_INTEREST and proxies:
            basis += f" ({', '.join(proxies)} publishes no all-symbol open interest)"
        elif kind != OPEN_INTEREST:
            basis += f", a proxy: {', '.join(proxies)} publishes no all-symbol open interest"
        return Ranking(rank(measures, n), basis, tuple(notes))
