"""Every perpetual each venue lists, and the units its prices and sizes are in.

One request per venue, refreshed daily, cached, and kept as a last good copy when a
refresh fails. Each venue module (`data_sources/venues/<id>.py`) reads its own listing
(`fetch_listing(upstream)`, a pure `parse_listing` of the payload) and documents its units.

A row (`Instrument`) has `exchange`, `symbol` (the venue's own), `asset` (the base coin
without a multiplier: PEPE for `1000PEPEUSDT`, `SHIB1000USDT` and `PEPE-USDT-SWAP`),
`margin` (linear or inverse), `quote`, `contract_size` (coins per unit of the venue's size
for linear, USD per contract for inverse), `multiplier` (coins per quoted unit: price /
multiplier is USD per coin) and `status` (trading, pending, suspended, settling, closed,
or the venue's own word, lowercased). `units.to_usd_units` applies them.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import pandas as pd
from cachetools import TLRUCache

from data_sources.base import Instrument, NoCoverage, SourceError
from data_sources.http import Upstream
from data_sources.schema import EXCHANGE_NAMES, EXCHANGES
from data_sources.settings import Settings
from data_sources.venues import BY_ID

REFRESH_SECONDS = 24 * 3600.0
RETRY_SECONDS = 300.0
STABLE_QUOTES = frozenset({"USDT", "USDC"})

log = logging.getLogger("liqscope.instruments")

# A base name scaled by a power of ten, as a prefix (`1000PEPE`, `10000SATS`) or Bybit's suffix (`SHIB1000`).
SCALED_PREFIX = re.compile(r"^(10{3,})(\D.*)$")
SCALED_SUFFIX = re.compile(r"^(.*\D)(10{3,})$")
# What the power-of-ten rule cannot tell: base names checked by hand -> (asset, coins per quoted unit).
IRREGULAR_BASES: dict[str, tuple[str, float]] = {
    "1MBABYDOGE": ("BABYDOGE", 1_000_000.0),  # Binance: "1M" is one million
    "1INCH": ("1INCH", 1.0),  # a real ticker that starts with a digit
}


COLUMNS = [f.name for f in fields(Instrument)]


def split_base(name: str) -> tuple[str, float]:
    """A venue's base name -> (asset, coins per quoted unit): `1000PEPE` -> (PEPE, 1000), `1INCH` -> (1INCH, 1)."""
    if name in IRREGULAR_BASES:
        return IRREGULAR_BASES[name]
    if match := SCALED_PREFIX.match(name):
        return match.group(2), float(match.group(1))
    if match := SCALED_SUFFIX.match(name):
        return match.group(1), float(match.group(2))
    return name, 1.0


def parsed(exchange: str, rows: Iterable[Any], parse: Callable[[dict], Instrument | None]) -> list[Instrument]:
    """Parse each row; a row the venue sent without usable fields is logged and skipped, not fatal."""
    out: dict[str, Instrument] = {}
    for row in rows:
        try:
            instrument = parse(row)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            symbol = (row.get("symbol") or row.get("instId")) if isinstance(row, dict) else None
            log.warning("%s listed %s without usable fields (%s); skipped.", EXCHANGE_NAMES[exchange], symbol, error)
            continue
        if instrument is not None:
            out[instrument.symbol] = instrument
    return list(out.values())


@dataclass(frozen=True)
class Listing:
    """One venue's perpetuals as fetched at `fetched_at` (epoch seconds); `error` says why a later
    refresh failed when this is the last good copy."""

    exchange: str
    instruments: tuple[Instrument, ...]
    fetched_at: float
    error: str | None = None
    by_symbol: Mapping[str, Instrument] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_symbol", {i.symbol: i for i in self.instruments})

    def age(self, now: float) -> float:
        """Seconds since the listing was fetched."""
        return now - self.fetched_at


class InstrumentRegistry:
    """The venues' listings, each fetched at most once per `ttl` (thread-safe; concurrent misses share one
    fetch). A failed refresh serves the last good listing with the reason for `retry` seconds, then tries
    again; with no good listing yet it raises the venue's SourceError."""

    def __init__(
        self,
        base_urls: Mapping[str, str],
        timeout: float = 10.0,
        ttl: float = REFRESH_SECONDS,
        retry: float = RETRY_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self._upstreams = {
            exchange: Upstream(
                EXCHANGE_NAMES[exchange],
                base_urls[exchange],
                BY_ID[exchange].module.URL_SETTING,
                timeout,
                classify=BY_ID[exchange].get("classify"),  # type: ignore[arg-type]
            )
            for exchange in base_urls
        }
        self._cache: TLRUCache[str, Listing] = TLRUCache(
            maxsize=len(EXCHANGES), ttu=lambda _, listing, now: now + (retry if listing.error else ttl), timer=clock
        )
        self._last_good: dict[str, Listing] = {}
        self._fetching = {exchange: threading.Lock() for exchange in base_urls}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> InstrumentRegistry:
        """A registry on the configured base URLs (`LIQSCOPE_*_URL`) and timeout."""
        return cls(settings.base_urls, settings.timeout)

    def _cached(self, exchange: str) -> Listing | None:
        with self._lock:
            return self._cache.get(exchange)

    def listing(self, exchange: str) -> Listing:
        """The venue's listing: cached, refreshed, or the last good copy with the failure's reason."""
        return self._listing(exchange, force=False)

    def refresh(self, exchange: str) -> Listing:
        """The venue's listing fetched now, whatever the cache holds (the recorder's periodic refresh and its
        answer to a symbol it does not know); a failure serves the last good copy with the reason."""
        return self._listing(exchange, force=True)

    def _listing(self, exchange: str, force: bool) -> Listing:
        if exchange not in self._upstreams:
            raise ValueError(f"Unknown exchange {exchange!r}; use one of {', '.join(self._upstreams)}.")
        cached = None if force else self._cached(exchange)
        if cached is not None:
            return cached
        with self._fetching[exchange]:
            cached = None if force else self._cached(exchange)
            if cached is not None:
                return cached
            try:
                listing = Listing(
                    exchange, tuple(BY_ID[exchange].module.fetch_listing(self._upstreams[exchange])), self.clock()
                )
            except SourceError as error:
                last = self._last_good.get(exchange)
                if last is None:
                    raise
                listing = replace(last, error=str(error))
            with self._lock:
                self._cache[exchange] = listing
                if listing.error is None:
                    self._last_good[exchange] = listing
            return listing

    def instrument(self, exchange: str, symbol: str) -> Instrument | None:
        """The venue's instrument `symbol` (its own spelling), or None when it does not list it."""
        return self.listing(exchange).by_symbol.get(symbol)


def pick(instruments: Iterable[Instrument], asset: str) -> Instrument | None:
    """The perpetual the app reads for `asset`: a trading linear one, USDT-quoted before USDC; None if none."""
    candidates = [i for i in instruments if i.asset == asset and i.trading and i.margin == "linear"]
    return min(candidates, key=lambda i: (i.quote != "USDT", i.multiplier != 1, i.symbol), default=None)


def not_listed(exchange: str, asset: str) -> NoCoverage:
    """'PEPE is not listed on Bybit.': a coin the venue does not trade is not covered there, not an error."""
    return NoCoverage(f"{asset} is not listed on {EXCHANGE_NAMES[exchange]}.")


def to_frame(instruments: Iterable[Instrument]) -> pd.DataFrame:
    """Rows as a frame with `COLUMNS`, sorted by exchange then symbol."""
    frame = pd.DataFrame([[getattr(i, c) for c in COLUMNS] for i in instruments], columns=COLUMNS)
    return frame.sort_values(["exchange", "symbol"], kind="stable").reset_index(drop=True)
