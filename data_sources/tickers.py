"""Every perpetual's open interest on a venue in ONE request, to rank the top N coins of a view.

Bybit    `GET /v5/market/tickers?category=linear` -> `result.list[]`: `symbol`, `openInterestValue` (USD).
OKX      `GET /api/v5/public/open-interest?instType=SWAP` -> `data[]`: `instId`, `oiUsd` (USD).
Binance  has no all-symbol open-interest endpoint (`/fapi/v1/openInterest` takes one symbol), so
         `GET /fapi/v1/ticker/24hr` (weight 40) -> `[]`: `symbol`, `quoteVolume` (USDT traded over 24 h)
         is its documented proxy. Volume and open interest are never added together: Binance's volume
         ranks only when no venue with open interest is selected.

Symbols become coins through the venue's instrument listing (`instruments.Listing.by_symbol`), so
`1000PEPEUSDT`, `SHIB1000USDT` and `PEPE-USDT-SWAP` all count for PEPE; a symbol the listing does not
hold as a trading perpetual (a dated future, a delisted coin) is skipped. The parsers are pure.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cachetools import TTLCache

from data_sources.base import Instrument, SourceError
from data_sources.http import BadPayload, Upstream
from data_sources.instruments import Listing
from data_sources.schema import ASSETS, EXCHANGE_NAMES
from data_sources.universe import Ranking, rank
from data_sources.venues import bybit, okx

BYBIT_TICKERS = "/v5/market/tickers"
OKX_OPEN_INTEREST = "/api/v5/public/open-interest"
BINANCE_TICKERS = "/fapi/v1/ticker/24hr"
PATHS = {"binance": BINANCE_TICKERS, "okx": OKX_OPEN_INTEREST, "bybit": BYBIT_TICKERS}
PARAMS: dict[str, dict[str, str]] = {"binance": {}, "okx": {"instType": "SWAP"}, "bybit": {"category": "linear"}}
MEASURES = {"binance": "24 h volume", "okx": "open interest", "bybit": "open interest"}
TICKER_TTL_SECONDS = 300.0


def _per_coin(
    rows: Iterable[Any], listing: Mapping[str, Instrument], symbol_key: str, usd_key: str
) -> dict[str, float]:
    """USD per coin, summed over the coin's trading perpetuals; unusable rows are skipped."""
    out: dict[str, float] = {}
    for row in rows:
        if not isinstance(row, dict):
            continue
        instrument = listing.get(row.get(symbol_key))
        try:
            usd = float(row.get(usd_key))
        except (TypeError, ValueError):
            continue
        if instrument is None or not instrument.trading or not math.isfinite(usd) or usd < 0:
            continue
        out[instrument.asset] = out.get(instrument.asset, 0.0) + usd
    return out


def parse_bybit(raw: Any, listing: Mapping[str, Instrument]) -> dict[str, float]:
    """Bybit linear tickers -> open interest per coin, USD (`openInterestValue`)."""
    return _per_coin(bybit.result(raw, "tickers")["list"], listing, "symbol", "openInterestValue")


def parse_okx(raw: Any, listing: Mapping[str, Instrument]) -> dict[str, float]:
    """OKX swap open interest -> open interest per coin, USD (`oiUsd`)."""
    return _per_coin(okx.data(raw, "open interest"), listing, "instId", "oiUsd")


def parse_binance(raw: Any, listing: Mapping[str, Instrument]) -> dict[str, float]:
    """Binance 24 h tickers -> USDT volume per coin (`quoteVolume`): a proxy for open interest."""
    if not isinstance(raw, list):
        raise BadPayload("Binance sent an unexpected answer for ticker/24hr (expected a list).")
    return _per_coin(raw, listing, "symbol", "quoteVolume")


PARSERS = {"binance": parse_binance, "okx": parse_okx, "bybit": parse_bybit}


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
        self._fresh: TTLCache[str, dict[str, float]] = TTLCache(maxsize=len(PATHS), ttl=ttl, timer=clock)
        self._last_good: dict[str, dict[str, float]] = {}
        self._fetching = {exchange: threading.Lock() for exchange in PATHS}
        self._lock = threading.Lock()

    def measures(self, exchange: str) -> dict[str, float]:
        """USD per coin on `exchange` (open interest; Binance: 24 h volume); raises SourceError."""
        cached = self._cached(exchange)
        if cached is not None:
            return cached
        with self._fetching[exchange]:  # concurrent misses share one request
            cached = self._cached(exchange)
            if cached is not None:
                return cached
            try:
                raw = self._upstreams[exchange].get_json(PATHS[exchange], PARAMS[exchange])
                values = PARSERS[exchange](raw, self._listing(exchange).by_symbol)
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

    def _cached(self, exchange: str) -> dict[str, float] | None:
        with self._lock:
            return self._fresh.get(exchange)

    def top(self, exchanges: tuple[str, ...], n: int) -> Ranking:
        """The `n` coins with the most open interest summed over the selected venues that publish it; Binance's
        24 h volume ranks only when it is the one venue selected. The majors when no venue answered."""
        venues = [e for e in exchanges if MEASURES.get(e) == "open interest"] or [e for e in exchanges if e in PATHS]
        measures: dict[str, dict[str, float]] = {}
        notes: list[str] = []
        for exchange in venues:
            try:
                measures[exchange] = self.measures(exchange)
            except SourceError as error:
                notes.append(f"{EXCHANGE_NAMES[exchange]}'s tickers did not answer: {error}")
        if not measures:
            return Ranking(ASSETS[:n], "the majors (no venue's tickers answered)", tuple(notes))
        kind = MEASURES[next(iter(measures))]
        basis = f"{kind} on {', '.join(EXCHANGE_NAMES[e] for e in measures)}"
        if "binance" in exchanges and kind == "open interest":
            basis += " (Binance publishes no all-symbol open interest)"
        elif kind != "open interest":
            basis += ", a proxy: Binance publishes no all-symbol open interest"
        return Ranking(rank(measures, n), basis, tuple(notes))
