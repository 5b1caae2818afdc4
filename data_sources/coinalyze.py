"""Coinalyze (free API key): per-exchange liquidation history as long/short USD buckets.

The key travels only in the `api_key` header and is never logged or shown.
Exchange codes and per-exchange symbols are resolved at runtime from
`/exchanges` and `/future-markets`, never hard-coded. Times are UNIX SECONDS.
Intraday intervals keep only ~1,500 points upstream, so the finest interval
whose retention still reaches the window's start is used. 40 calls/min per key,
each symbol of a request counting as a call (`budgets`): concurrent queries for the
same endpoint and window are gathered into one request of up to 20 symbols.
429s carry `Retry-After`, which the HTTP layer honours.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from data_sources.base import NoCoverage, Query, SourceError, from_ms
from data_sources.http import BadPayload, UnknownSymbol, Upstream
from data_sources.intervals import INTERVAL_SECONDS
from data_sources.schema import EXCHANGE_NAMES, conform, empty

NAME = "Coinalyze"
RETAINED_POINTS = 1500
BATCH_SYMBOLS = 20
GATHER_SECONDS = 0.1
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


def interval_for(start: pd.Timestamp, now: pd.Timestamp, at_least: int = 60) -> tuple[str, int]:
    """The finest interval of at least `at_least` seconds whose ~1,500 retained points reach back to `start`."""
    for name, seconds in INTERVALS[:-1]:
        if seconds >= at_least and (now - start).total_seconds() <= seconds * RETAINED_POINTS:
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
    frame["ts"] = from_ms(frame["ts"])
    frame["exchange"], frame["asset"] = exchange, asset
    frame["price"] = frame["qty"] = float("nan")
    return conform("liquidations", frame)


def _history(raw: Any, what: str) -> list[dict]:
    if not isinstance(raw, list):
        raise BadPayload(f"{NAME} sent an unexpected answer for {what} (expected a list).")
    return [point for entry in raw for point in entry.get("history", [])]


def parse_ratios(raw: Any, asset: str, exchange: str) -> pd.DataFrame:
    """`long-short-ratio-history` points `{t, r, l, s}`: account shares, in percent or fractions.

    Field meanings are undocumented (UNCONFIRMED), so shares are taken from `l`/`s`
    when they sum to 100 or to 1, and from the ratio `r` otherwise.
    """
    points = _history(raw, "long/short ratio history")
    if not points:
        return empty("ratios")
    frame = pd.DataFrame(points)
    frame["ts"] = from_ms(pd.to_numeric(frame["t"]) * 1000)
    long_, short = pd.to_numeric(frame.get("l")), pd.to_numeric(frame.get("s"))
    total = long_ + short
    from_ratio = pd.to_numeric(frame["r"]) / (1 + pd.to_numeric(frame["r"]))
    frame["long_share"] = (long_ / total).where((total - 100).abs().lt(1) | (total - 1).abs().lt(0.01), from_ratio)
    frame["short_share"] = 1 - frame["long_share"]
    frame["ratio"] = frame["long_share"] / frame["short_share"]
    frame["exchange"], frame["asset"], frame["kind"] = exchange, asset, "accounts"
    return conform("ratios", frame)


def parse_open_interest(raw: Any, asset: str, exchange: str) -> pd.DataFrame:
    """`open-interest-history` (convert_to_usd) OHLC points `{t, o, h, l, c}`: the close is the USD value."""
    points = _history(raw, "open-interest history")
    if not points:
        return empty("open_interest")
    frame = pd.DataFrame(points)
    frame["ts"] = from_ms(pd.to_numeric(frame["t"]) * 1000)
    frame["usd"] = pd.to_numeric(frame["c"])
    frame["exchange"], frame["asset"] = exchange, asset
    return conform("open_interest", frame)


@dataclass
class _Batch:
    """Symbols gathered for one request; its answer (or error) once `done` is set."""

    symbols: list[str]
    done: threading.Event = field(default_factory=threading.Event)
    answer: Any = None
    error: SourceError | None = None


class CoinalyzeClient:
    """Liquidation history per exchange from Coinalyze."""

    def __init__(self, base_url: str, key: str, timeout: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.upstream = Upstream(NAME, base_url, "LIQSCOPE_COINALYZE_URL", timeout, headers={"api_key": key})
        self._symbols: dict[tuple[str, str], str] | None = None
        self._lock = threading.Lock()
        self._open: dict[tuple, _Batch] = {}
        self._batch_lock = threading.Lock()

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

    def _get(self, path: str, query: Query) -> tuple[Any, str]:
        now = pd.Timestamp(self.clock(), unit="s", tz="UTC")
        if query.start >= now:
            raise NoCoverage(f"{NAME} has no data after now.")
        interval, _seconds = interval_for(query.start, now, INTERVAL_SECONDS[query.interval])
        params = {
            "interval": interval,
            "from": int(query.start.timestamp()),
            "to": int(min(query.end, now).timestamp()) - 1,
            "convert_to_usd": "true",
        }
        return self._batched(path, params, self.symbol(query.asset, query.exchange)), interval

    def _batched(self, path: str, params: dict[str, Any], symbol: str) -> Any:
        """`path`'s answer for `symbol`, from one request shared with concurrent callers of the same `params`.

        The first caller gathers for GATHER_SECONDS (or until BATCH_SYMBOLS), then asks
        for every gathered symbol at once; each caller keeps its own symbol's entries.
        """
        key = (path, tuple(sorted(params.items())))
        with self._batch_lock:
            batch = self._open.get(key)
            gathers = batch is None
            if batch is None:
                batch = self._open[key] = _Batch([])
            if symbol not in batch.symbols:
                batch.symbols.append(symbol)
            if len(batch.symbols) >= BATCH_SYMBOLS:
                del self._open[key]
        if gathers:
            time.sleep(GATHER_SECONDS)
            with self._batch_lock:
                if self._open.get(key) is batch:
                    del self._open[key]
            try:
                batch.answer = self.upstream.get_json(path, {"symbols": ",".join(batch.symbols), **params})
            except SourceError as error:
                batch.error = error
            finally:
                batch.done.set()
        batch.done.wait()
        if batch.error is not None:
            raise type(batch.error)(str(batch.error))
        if not isinstance(batch.answer, list):
            return batch.answer
        return [entry for entry in batch.answer if isinstance(entry, dict) and entry.get("symbol") == symbol]

    @staticmethod
    def _window(frame: pd.DataFrame, query: Query) -> pd.DataFrame:
        return frame[(frame["ts"] >= query.start) & (frame["ts"] < query.end)].reset_index(drop=True)

    def liquidations(self, query: Query) -> tuple[pd.DataFrame, str]:
        """Bucketed long/short USD liquidations in [start, end), and the interval used."""
        raw, interval = self._get("/liquidation-history", query)
        return self._window(parse_liquidations(raw, query.asset, query.exchange), query), interval

    def ratios(self, query: Query) -> pd.DataFrame:
        """Account long/short ratio history (the fallback where an exchange's own history ends)."""
        raw, _ = self._get("/long-short-ratio-history", query)
        return self._window(parse_ratios(raw, query.asset, query.exchange), query)

    def open_interest(self, query: Query) -> pd.DataFrame:
        """Open-interest history in USD (the fallback where an exchange's own history ends)."""
        raw, _ = self._get("/open-interest-history", query)
        return self._window(parse_open_interest(raw, query.asset, query.exchange), query)
