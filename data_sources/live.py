"""The live source: the public, key-free REST APIs of Binance, OKX and Bybit."""

from __future__ import annotations

import pandas as pd

from data_sources import storage
from data_sources.base import NoCoverage, Query, SourceError
from data_sources.binance import BinanceAdapter
from data_sources.bybit import BybitAdapter
from data_sources.coinalyze import CoinalyzeClient
from data_sources.http import Upstream
from data_sources.intervals import INTERVAL_SECONDS
from data_sources.okx import LIQUIDATION_HISTORY, OkxAdapter
from data_sources.schema import EXCHANGE_NAMES, Dataset, conform
from data_sources.settings import Settings
from data_sources.store import LiquidationStore, StoreError

PROBE_PATHS = {"binance": "/fapi/v1/time", "okx": "/api/v5/public/time", "bybit": "/v5/market/time"}
EVENT_WINDOW = pd.Timedelta(days=7)
LOWER_BOUND = {"binance": "at most 1 event per symbol per second", "okx": "at most 1 order per contract per second"}


def within(ts: pd.Series, intervals: list[tuple[pd.Timestamp, pd.Timestamp]]) -> pd.Series:
    """True where `ts` falls inside any of the [start, end) intervals."""
    mask = pd.Series(False, index=ts.index)
    for start, end in intervals:
        mask |= (ts >= start) & (ts < end)
    return mask


def _clock(ts: pd.Timestamp) -> str:
    return f"{ts:%Y-%m-%d %H:%M}" if ts.second == 0 else f"{ts:%Y-%m-%d %H:%M:%S}"


def recorded(store: LiquidationStore, query: Query) -> pd.DataFrame:
    """Recorded liquidations: individual events for windows up to a week; per-bar sums from the rollups beyond."""
    if query.end - query.start <= EVENT_WINDOW:
        return store.events(query.asset, query.exchange, query.start, query.end)
    step = INTERVAL_SECONDS[query.interval] * 1000
    return store.buckets(query.asset, query.exchange, query.start, query.end, step)


def recorded_note(exchange: str, intervals: list[tuple[pd.Timestamp, pd.Timestamp]]) -> str | None:
    """ "OKX: recorded 2025-05-08 00:00 to 2025-05-09 12:00 UTC, 1 gap" for merged intervals; None if none."""
    if not intervals:
        return None
    first, last = intervals[0][0], intervals[-1][1]
    gaps = len(intervals) - 1
    gap_text = f", {gaps} gap{'s' if gaps != 1 else ''}" if gaps else ", no gaps"
    return f"{EXCHANGE_NAMES[exchange]}: recorded {_clock(first)} to {_clock(last)} UTC{gap_text}"


def lower_bound(exchange: str, note: str) -> str:
    """`note` with the stream's lower-bound caveat for venues that throttle their liquidation stream."""
    return f"{note} · lower bound ({LOWER_BOUND[exchange]})" if exchange in LOWER_BOUND else note


class LiveSource:
    """Dispatches each query to its exchange's adapter."""

    name = "live"
    simulated = False

    def __init__(self, settings: Settings) -> None:
        urls, timeout = settings.base_urls, settings.timeout
        self.db = settings.db_path
        self.adapters = {
            "binance": BinanceAdapter(urls["binance"], timeout),
            "okx": OkxAdapter(urls["okx"], timeout),
            "bybit": BybitAdapter(urls["bybit"], timeout),
        }
        key = settings.coinalyze_key
        self.coinalyze = CoinalyzeClient(settings.coinalyze_url, key, timeout) if key else None

    def upstream(self, exchange: str) -> Upstream:
        """The REST host behind an exchange (for probes and request counts)."""
        return self.adapters[exchange].upstream

    def store(self) -> LiquidationStore | None:
        """The recorder's store: a SQLite file once a recorder created it (the app never creates one), or the
        PostgreSQL database of LIQSCOPE_DB. Raises StoreError (a SourceError) when it cannot be opened."""
        return storage.open_store(self.db) if storage.exists(self.db) else None

    def fetch(self, dataset: Dataset, query: Query) -> pd.DataFrame:
        """The normalized frame from the exchange's adapter (liquidations: store first); typed SourceError."""
        adapter = self.adapters.get(query.exchange)
        if adapter is None:
            raise SourceError(f"liqscope has no adapter for exchange {query.exchange!r}.")
        if dataset == "liquidations":
            return self._liquidations(query)
        try:
            return adapter.fetch(dataset, query)
        except NoCoverage as beyond_history:
            if self.coinalyze is None or dataset not in ("ratios", "open_interest"):
                raise
            try:
                fallback = self.coinalyze.ratios if dataset == "ratios" else self.coinalyze.open_interest
                return fallback(query)
            except SourceError as error:
                raise NoCoverage(f"{beyond_history} Coinalyze did not fill in: {error}") from None

    def _liquidations(self, query: Query) -> pd.DataFrame:
        """Liquidations from every source that covers the window, each exchange-minute from one source.

        Precedence: (1) the recorder's events inside its connected intervals; (2) OKX's
        REST recent orders (about the last day) outside them; (3) Coinalyze buckets
        (with a key) for what neither covers.
        """
        store = self.store()
        taken = store.coverage(query.exchange, query.start, query.end) if store else []
        parts = [recorded(store, query)] if store else []
        covered = bool(taken)
        errors: list[SourceError] = []
        if query.exchange == "okx":
            try:
                rest = self.adapters["okx"].fetch("liquidations", query)
                parts.append(rest[~within(rest["ts"], taken)])
                now = self.adapters["okx"].now()
                taken = [*taken, (now - LIQUIDATION_HISTORY, now)]
                covered = True
            except SourceError as error:
                errors.append(error)
        if self.coinalyze is not None:
            try:
                buckets, _interval = self.coinalyze.liquidations(query)
                parts.append(buckets[~within(buckets["ts"], taken)])
                covered = True
            except SourceError as error:
                errors.append(error)
        if not covered:
            if errors:
                raise errors[0]
            name = EXCHANGE_NAMES[query.exchange]
            raise NoCoverage(
                f"{name} liquidations were not recorded in this window ({name} keeps no liquidation history "
                "over REST). Run `python -m data_sources.recorder` beside the app to capture its stream, "
                "or set LIQSCOPE_COINALYZE_KEY for history."
            )
        return conform("liquidations", pd.concat(parts, ignore_index=True))

    def coverage_note(self, exchange: str, start: pd.Timestamp, end: pd.Timestamp) -> str | None:
        """What covers the exchange's liquidations in [start, end): recorded intervals, gaps, lower bound."""
        try:
            store = self.store()
            intervals = store.coverage(exchange, start, end) if store else []
        except StoreError:  # the panel's fetch already reports why the store cannot answer
            intervals = []
        name = EXCHANGE_NAMES[exchange]
        span = recorded_note(exchange, intervals)
        parts = [span] if span else []
        if exchange == "okx":
            parts.append(f"{name}: REST recent orders (about the last 24 h) where not recorded")
        if self.coinalyze is not None:
            parts.append(f"{name}: Coinalyze buckets where neither covers")
        if not parts:
            return None
        return lower_bound(exchange, "; ".join(parts))

    def recent(self, asset: str, exchanges: tuple[str, ...], limit: int) -> pd.DataFrame | None:
        """The latest recorded liquidations, newest first (None without a store or when it cannot answer)."""
        try:
            store = self.store()
            return store.latest(asset, exchanges, limit) if store else None
        except StoreError:
            return None

    def probe(self, exchange: str) -> str | None:
        """None when the exchange answers its server-time endpoint, else the reason it did not."""
        try:
            self.upstream(exchange).get_json(PROBE_PATHS[exchange], {})
        except SourceError as error:
            return str(error)
        return None
