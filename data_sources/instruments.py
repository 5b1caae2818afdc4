"""Every perpetual each venue lists, and the units its prices and sizes are in.

One request per venue, refreshed daily, cached, and kept as a last good copy when a
refresh fails. Parsing is a pure function of each listing's payload:

Binance USD-M  `GET /fapi/v1/exchangeInfo` -> `symbols[]`; kept: `contractType == "PERPETUAL"`
               quoted in USDT or USDC. Prices are per one `baseAsset` and sizes in `baseAsset`
               units, so a `1000PEPE` base means "per 1,000 PEPE" and "thousands of PEPE".
OKX            `GET /api/v5/public/instruments?instType=SWAP` -> `data[]`; kept: `ctType`
               linear settled in USDT or USDC (sizes in contracts of `ctVal` x `ctMult`
               `ctValCcy`), and inverse (sizes in contracts of `ctVal` USD, e.g. 100 for
               `BTC-USD-SWAP`). Prices are per one coin of `instFamily`'s base.
Bybit          `GET /v5/market/instruments-info?category=linear&limit=1000`, following
               `nextPageCursor` until it is empty -> `result.list[]`; kept: `LinearPerpetual`
               quoted in USDT or USDC. Prices and sizes are per `baseCoin` unit (`SHIB1000`:
               per 1,000 SHIB). Bybit lists only `Trading` symbols unless asked otherwise.

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

from data_sources import binance, bybit, okx
from data_sources.base import Instrument, NoCoverage, SourceError
from data_sources.http import BadPayload, Upstream
from data_sources.schema import EXCHANGE_NAMES, EXCHANGES
from data_sources.settings import URL_SETTINGS, Settings

BINANCE_LISTING = "/fapi/v1/exchangeInfo"
OKX_LISTING = "/api/v5/public/instruments"
BYBIT_LISTING = "/v5/market/instruments-info"
BYBIT_PAGE_LIMIT = 1000
BYBIT_MAX_PAGES = 20
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
STATUSES: dict[str, dict[str, str]] = {
    "binance": {
        "TRADING": "trading",
        "PENDING_TRADING": "pending",
        "PRE_SETTLE": "settling",
        "SETTLING": "settling",
        "PRE_DELIVERING": "settling",
        "DELIVERING": "settling",
        "DELIVERED": "closed",
        "CLOSE": "closed",
    },
    "okx": {"live": "trading", "preopen": "pending", "suspend": "suspended"},
    "bybit": {"Trading": "trading", "PreLaunch": "pending", "Delivering": "settling", "Closed": "closed"},
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


def _status(exchange: str, raw: str) -> str:
    return STATUSES[exchange].get(raw, raw.lower())


def _parsed(exchange: str, rows: Iterable[Any], parse: Callable[[dict], Instrument | None]) -> list[Instrument]:
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


def parse_binance(raw: Any) -> list[Instrument]:
    """`GET /fapi/v1/exchangeInfo` -> USDT/USDC perpetuals; sizes in `baseAsset` units (`1000PEPE`: thousands)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("symbols"), list):
        raise BadPayload(f"{binance.NAME} sent an unexpected answer for exchangeInfo (no symbols list).")

    def parse(row: dict) -> Instrument | None:
        if row["contractType"] != "PERPETUAL" or row["quoteAsset"] not in STABLE_QUOTES:
            return None
        asset, multiplier = split_base(row["baseAsset"])
        status = _status("binance", row["status"])
        return Instrument("binance", row["symbol"], asset, "linear", row["quoteAsset"], multiplier, multiplier, status)

    return _parsed("binance", raw["symbols"], parse)


def parse_okx(raw: Any) -> list[Instrument]:
    """`GET /api/v5/public/instruments?instType=SWAP` -> linear USDT/USDC swaps (contracts of `ctVal` x `ctMult`
    coins) and inverse swaps (contracts of `ctVal` USD)."""

    def parse(row: dict) -> Instrument | None:
        base, quote = (row.get("instFamily") or row["uly"]).split("-")[:2]
        asset, multiplier = split_base(base)
        size = float(row["ctVal"]) * float(row.get("ctMult") or 1)
        if row["ctType"] == "linear" and row["settleCcy"] in STABLE_QUOTES:
            coin, scale = split_base(row["ctValCcy"])
            if coin != asset:
                raise ValueError(f"ctValCcy {row['ctValCcy']} is not {asset}")
            margin, contract_size = "linear", size * scale
        elif row["ctType"] == "inverse" and row["ctValCcy"] == "USD":
            margin, contract_size = "inverse", size
        else:
            return None
        if not contract_size > 0:
            raise ValueError(f"ctVal {row['ctVal']}")
        status = _status("okx", row["state"])
        return Instrument("okx", row["instId"], asset, margin, quote, contract_size, multiplier, status)

    return _parsed("okx", okx.data(raw, "instruments"), parse)


def parse_bybit(rows: list[dict]) -> list[Instrument]:
    """`result.list` rows of `GET /v5/market/instruments-info?category=linear` (all pages) -> USDT/USDC
    perpetuals; sizes in `baseCoin` units (`SHIB1000`: thousands of SHIB)."""

    def parse(row: dict) -> Instrument | None:
        if row["contractType"] != "LinearPerpetual" or row["quoteCoin"] not in STABLE_QUOTES:
            return None
        asset, multiplier = split_base(row["baseCoin"])
        status = _status("bybit", row["status"])
        return Instrument("bybit", row["symbol"], asset, "linear", row["quoteCoin"], multiplier, multiplier, status)

    return _parsed("bybit", rows, parse)


def fetch_binance(upstream: Upstream) -> list[Instrument]:
    """Binance's listing: one request (weight 1)."""
    return parse_binance(upstream.get_json(BINANCE_LISTING, {}))


def fetch_okx(upstream: Upstream) -> list[Instrument]:
    """OKX's swap listing: one request."""
    return parse_okx(upstream.get_json(OKX_LISTING, {"instType": "SWAP"}))


def fetch_bybit(upstream: Upstream) -> list[Instrument]:
    """Bybit's linear listing, following `nextPageCursor` (sent back verbatim) until it is empty."""
    rows: list[dict] = []
    cursor = ""
    for _ in range(BYBIT_MAX_PAGES):
        params: dict[str, Any] = {"category": "linear", "limit": BYBIT_PAGE_LIMIT}
        if cursor:
            params["cursor"] = cursor
        body = bybit.result(upstream.get_json(BYBIT_LISTING, params), "instruments-info")
        rows += body["list"]
        cursor = body.get("nextPageCursor") or ""
        if not cursor or not body["list"]:
            return parse_bybit(rows)
    raise BadPayload(f"{bybit.NAME} kept paging instruments-info past {BYBIT_MAX_PAGES} pages; try again later.")


FETCHERS: dict[str, Callable[[Upstream], list[Instrument]]] = {
    "binance": fetch_binance,
    "okx": fetch_okx,
    "bybit": fetch_bybit,
}
CLASSIFIERS = {"binance": binance.classify, "okx": okx.classify, "bybit": bybit.classify}


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
                URL_SETTINGS[exchange],
                timeout,
                classify=CLASSIFIERS[exchange],
            )
            for exchange in EXCHANGES
        }
        self._cache: TLRUCache[str, Listing] = TLRUCache(
            maxsize=len(EXCHANGES), ttu=lambda _, listing, now: now + (retry if listing.error else ttl), timer=clock
        )
        self._last_good: dict[str, Listing] = {}
        self._fetching = {exchange: threading.Lock() for exchange in EXCHANGES}
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
        if exchange not in EXCHANGES:
            raise ValueError(f"Unknown exchange {exchange!r}; use one of {', '.join(EXCHANGES)}.")
        cached = None if force else self._cached(exchange)
        if cached is not None:
            return cached
        with self._fetching[exchange]:
            cached = None if force else self._cached(exchange)
            if cached is not None:
                return cached
            try:
                listing = Listing(exchange, tuple(FETCHERS[exchange](self._upstreams[exchange])), self.clock())
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
