"""Coinalyze (free API key): per-exchange liquidation history as long/short USD buckets.

The key travels only in the `api_key` header and is never logged or shown.
Exchange codes and per-exchange symbols are resolved at runtime from
`/exchanges` and `/future-markets`, never hard-coded. Times are UNIX SECONDS.
Intraday intervals keep only ~1,500 points upstream, so the finest interval
whose retention still reaches the window's start is used. 40 calls/min per key:
429s carry `Retry-After`, which the HTTP layer honours.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from data_sources.base import NoCoverage, Query
from data_sources.http import BadPayload, UnknownSymbol, Upstream
from data_sources.schema import EXCHANGE_NAMES, conform, empty

NAME = "Coinalyze"
RETAINED_POINTS = 1500
INTERVALS: tuple[tuple[str, int], ...] = (
    ("1min", 60),
    ("5min", 300),
    ("15min", 900),
    ("30min", 1800),
    ("1hour", 3600),
    ("2hour", 7200),
    ("4hour", 14400),
    ("6hour", 21600),
    ("12hour", 43200),
    ("daily", 86400),
)


def interval_for(start: pd.Timestamp, now: pd.Timestamp) -> tuple[str, int]:
    """The finest interval whose ~1,500 retained points still reach back to `start`."""
    for name, seconds in INTERVALS[:-1]:
        if (now - start).total_seconds() <= seconds * RETAINED_POINTS:
            return name, seconds
    return INTERVALS[-1]


def parse_liquidations(raw: Any, asset: str, exchange: str) -> pd.DataFrame:
    """`[{"symbol", "history": [{"t": seconds, "l": long USD, "s": short USD}]}]` -> bucket rows.

    A bucket becomes one row per non-zero side at the bucket's start, with `usd`
    set and `price`/`qty` unknown (NaN): totals and charts use it, the
    largest-liquidations table skips it.
    """
    if not isinstance(raw, list):
        raise BadPayload(f"{NAME} sent an unexpected answer for liquidation history (expected a list).")
    rows = []
    for entry in raw:
        for point in entry.get("history", []):
            for key, side in (("l", "long"), ("s", "short")):
                usd = float(point.get(key) or 0.0)
                if usd > 0:
                    rows.append({"ts": int(point["t"]) * 1000, "side": side, "usd": usd})
    if not rows:
        return empty("liquidations")
    frame = pd.DataFrame(rows)
    frame["ts"] = pd.to_datetime(frame["ts"], unit="ms", utc=True)
    frame["exchange"], frame["asset"] = exchange, asset
    frame["price"] = frame["qty"] = float("nan")
    return conform("liquidations", frame)


class CoinalyzeClient:
    """Liquidation history per exchange from Coinalyze."""

    def __init__(self, base_url: str, key: str, timeout: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.upstream = Upstream(NAME, base_url, "LIQSCOPE_COINALYZE_URL", timeout, headers={"api_key": key})
        self._symbols: dict[tuple[str, str], str] | None = None
        self._lock = threading.Lock()

    def symbol(self, asset: str, exchange: str) -> str:
        """The Coinalyze symbol of the asset's USDT perpetual on `exchange`, resolved from the API."""
        with self._lock:
            if self._symbols is None:
                codes = {row["name"].lower(): row["code"] for row in self.upstream.get_json("/exchanges", {})}
                by_code = {code: name for name, code in codes.items()}
                self._symbols = {}
                for market in self.upstream.get_json("/future-markets", {}):
                    name = by_code.get(market.get("exchange"))
                    if name and market.get("is_perpetual") and market.get("quote_asset") == "USDT":
                        self._symbols.setdefault((market["base_asset"], name), market["symbol"])
            symbols = self._symbols
        found = symbols.get((asset, EXCHANGE_NAMES[exchange].lower()))
        if found is None:
            raise UnknownSymbol(f"{NAME} lists no {asset} USDT perpetual on {EXCHANGE_NAMES[exchange]}.")
        return found

    def liquidations(self, query: Query) -> tuple[pd.DataFrame, str]:
        """Bucketed long/short USD liquidations in [start, end), and the interval used."""
        now = pd.Timestamp(self.clock(), unit="s", tz="UTC")
        if query.start >= now:
            raise NoCoverage(f"{NAME} has no liquidations after now.")
        interval, _seconds = interval_for(query.start, now)
        params = {
            "symbols": self.symbol(query.asset, query.exchange),
            "interval": interval,
            "from": int(query.start.timestamp()),
            "to": int(min(query.end, now).timestamp()) - 1,
            "convert_to_usd": "true",
        }
        frame = parse_liquidations(self.upstream.get_json("/liquidation-history", params), query.asset, query.exchange)
        return frame[(frame["ts"] >= query.start) & (frame["ts"] < query.end)].reset_index(drop=True), interval
