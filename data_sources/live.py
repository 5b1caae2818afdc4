"""The live source: the public, key-free REST APIs of every venue in `venues.VENUES`.

Coins are read through each venue's instrument listing (`instruments.InstrumentRegistry`): a coin a
venue does not list is "not listed on Bybit" (not covered); when a listing cannot be read the plain
USDT symbol is tried. `ALL_ASSETS` asks for the whole market's liquidations: every asset the recorder
stored, plus the REST liquidations a venue keeps (OKX recent orders, Gate contract_stats) and Coinalyze
for the majors only (one walk or request per major, so a page's requests do not grow with the number of
listed perpetuals); `coverage_note` says so.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

import pandas as pd
from cachetools import TTLCache

from data_sources import storage
from data_sources.base import Instrument, NoCoverage, Query, SourceError
from data_sources.coinalyze import CoinalyzeClient
from data_sources.http import Upstream, each_venue
from data_sources.instruments import InstrumentRegistry, Listing, not_listed, pick
from data_sources.intervals import INTERVAL_SECONDS
from data_sources.schema import ALL_ASSETS, ASSETS, EXCHANGE_NAMES, Dataset, conform
from data_sources.settings import Settings
from data_sources.store import LiquidationStore, StoreError
from data_sources.tickers import TickerBoard
from data_sources.universe import Ranking, Universe, order
from data_sources.venues import BY_ID

EVENT_WINDOW = pd.Timedelta(days=7)
LISTING_RETRY_SECONDS = 60.0
MAJORS_ONLY = f"for the majors only ({', '.join(ASSETS)})"


def within(ts: pd.Series, intervals: list[tuple[pd.Timestamp, pd.Timestamp]]) -> pd.Series:
    """True where `ts` falls inside any of the [start, end) intervals."""
    mask = pd.Series(False, index=ts.index)
    for start, end in intervals:
        mask |= (ts >= start) & (ts < end)
    return mask


def _clock(ts: pd.Timestamp) -> str:
    return f"{ts:%Y-%m-%d %H:%M}" if ts.second == 0 else f"{ts:%Y-%m-%d %H:%M:%S}"


def recorded(store: LiquidationStore, query: Query) -> pd.DataFrame:
    """Recorded liquidations: individual events for windows up to a week; per-bar sums from the rollups beyond.
    `ALL_ASSETS` reads every asset recorded on the exchange: its events, or beyond a week one row per bar and side
    summing every coin (asset `ALL_ASSETS`; `coin_totals.per_coin` gives each coin's)."""
    whole = query.asset == ALL_ASSETS
    if query.end - query.start <= EVENT_WINDOW:
        if whole:
            return store.market_events(query.exchange, query.start, query.end)
        return store.events(query.asset, query.exchange, query.start, query.end)
    step = INTERVAL_SECONDS[query.interval] * 1000
    if whole:
        return store.market_buckets(query.exchange, query.start, query.end, step)
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
    bound = BY_ID[exchange].get("LOWER_BOUND")
    return f"{note} · lower bound ({bound})" if bound else note


class LiveSource:
    """Dispatches each query to its exchange's adapter."""

    name = "live"
    simulated = False

    def __init__(self, settings: Settings) -> None:
        urls, timeout = settings.base_urls, settings.timeout
        self.db = settings.db_path
        self.instruments = InstrumentRegistry(urls, timeout)
        self._unlisted: TTLCache[str, SourceError] = TTLCache(maxsize=8, ttl=LISTING_RETRY_SECONDS)
        self._unlisted_lock = threading.Lock()  # venues' listings are read at once (`each_venue`)
        self.adapters = {
            exchange: BY_ID[exchange].module.adapter(urls[exchange], timeout, self.resolver(exchange))
            for exchange in urls
        }
        self.tickers = TickerBoard({e: a.upstream for e, a in self.adapters.items()}, self.listing)
        key = settings.coinalyze_key
        self.coinalyze = CoinalyzeClient(settings.coinalyze_url, key, timeout) if key else None

    def listing(self, exchange: str) -> Listing:
        """The venue's instrument listing; a failure with no last good copy is remembered for
        LISTING_RETRY_SECONDS, so a venue that is down costs one listing request per minute, not one per read."""
        with self._unlisted_lock:
            failed = self._unlisted.get(exchange)
        if failed is not None:
            raise failed
        try:
            return self.instruments.listing(exchange)
        except SourceError as error:
            with self._unlisted_lock:
                self._unlisted[exchange] = error
            raise

    def resolver(self, exchange: str) -> Callable[[str], Instrument]:
        """`resolve` bound to one exchange (what an adapter calls with a coin)."""
        return lambda asset: self.resolve(exchange, asset)

    def resolve(self, exchange: str, asset: str) -> Instrument:
        """The perpetual read for `asset` on `exchange` (see `instruments.pick`); NoCoverage when the venue does
        not list it; the plain USDT symbol when its listing cannot be read."""
        try:
            listing = self.listing(exchange)
        except SourceError:
            return BY_ID[exchange].module.plain(asset)
        instrument = pick(listing.instruments, asset)
        if instrument is None:
            raise not_listed(exchange, asset)
        return instrument

    def _check_listed(self, exchange: str, asset: str) -> None:
        """NoCoverage when the venue's listing (when it can be read) has no perpetual of `asset`: for the venues
        whose adapters name coins themselves (no `plain`), so "not listed" reads alike on every venue."""
        try:
            listing = self.listing(exchange)
        except SourceError:
            return
        if pick(listing.instruments, asset) is None:
            raise not_listed(exchange, asset)

    def universe(self, exchanges: tuple[str, ...]) -> Universe:
        """Every coin the venues list as a trading perpetual, and how many perpetuals; a venue whose listing
        cannot be read adds the majors and a note."""
        assets: list[str] = []
        perpetuals = 0
        notes = []
        for exchange, (trading, error) in zip(exchanges, each_venue(self._trading, exchanges), strict=True):
            if error is not None:
                notes.append(
                    f"{EXCHANGE_NAMES[exchange]}'s instrument list is unavailable, so only the majors are "
                    f"offered there: {error}"
                )
                assets += ASSETS
                continue
            assets += [i.asset for i in trading]
            perpetuals += len(trading)
        return Universe(order(assets), perpetuals, tuple(notes))

    def _trading(self, exchange: str) -> tuple[list[Instrument], SourceError | None]:
        """The venue's trading perpetuals, or the error that kept its listing from being read."""
        try:
            return [i for i in self.listing(exchange).instruments if i.trading], None
        except SourceError as error:
            return [], error

    def top_assets(self, exchanges: tuple[str, ...], n: int) -> Ranking:
        """The `n` coins with the most open interest across `exchanges` (`tickers.TickerBoard.top`)."""
        return self.tickers.top(exchanges, n)

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
        if query.asset != ALL_ASSETS and BY_ID[query.exchange].get("plain") is None:
            self._check_listed(query.exchange, query.asset)
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

        Precedence: (1) the recorder's events inside its connected intervals; (2) the venue's REST
        liquidations (`LIQUIDATION_HISTORY`: OKX recent orders, about the last day; Gate contract_stats
        buckets) outside them; (3) Coinalyze buckets (with a key) for what neither covers. A venue with no
        stream (Hyperliquid) answers through its adapter: its reason, or its liquidation plug-in.
        """
        store = self.store()
        taken = store.coverage(query.exchange, query.start, query.end) if store else []
        parts = [recorded(store, query)] if store else []
        covered = bool(taken)
        errors: list[SourceError] = []
        per_asset = [replace(query, asset=a) for a in ASSETS] if query.asset == ALL_ASSETS else [query]
        venue = BY_ID[query.exchange]
        history = venue.get("LIQUIDATION_HISTORY")
        adapter = self.adapters[query.exchange]
        if history is not None:  # the venue keeps liquidations over REST (OKX recent orders, Gate buckets)
            try:
                rest = [adapter.fetch("liquidations", q) for q in per_asset]
                parts += [frame[~within(frame["ts"], taken)] for frame in rest]
                now = pd.Timestamp(adapter.clock(), unit="s", tz="UTC")
                taken = [*taken, (now - history, now)]
                covered = True
            except SourceError as error:
                errors.append(error)
        elif venue.get("STREAM") is None and not covered:  # nothing to record: the adapter says what covers it
            try:
                parts += [adapter.fetch("liquidations", q) for q in per_asset]
                covered = True
            except SourceError as error:
                errors.append(error)
        if self.coinalyze is not None:
            try:
                buckets = [self.coinalyze.liquidations(q)[0] for q in per_asset]
                parts += [frame[~within(frame["ts"], taken)] for frame in buckets]
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

    def coverage_note(
        self, exchange: str, start: pd.Timestamp, end: pd.Timestamp, whole_market: bool = False
    ) -> str | None:
        """What covers the exchange's liquidations in [start, end): recorded intervals, gaps, lower bound; for the
        whole market, that the REST sources cover the majors only."""
        try:
            store = self.store()
            intervals = store.coverage(exchange, start, end) if store else []
        except StoreError:  # the panel's fetch already reports why the store cannot answer
            intervals = []
        name = EXCHANGE_NAMES[exchange]
        span = recorded_note(exchange, intervals)
        parts = [f"{span} (every asset)" if whole_market else span] if span else []
        majors = f" {MAJORS_ONLY}" if whole_market else ""
        rest_note = BY_ID[exchange].get("LIQUIDATION_NOTE")
        if rest_note:
            rest_majors = majors if BY_ID[exchange].get("LIQUIDATION_HISTORY") is not None else ""
            parts.append(f"{name}: {rest_note}{rest_majors}")
        if self.coinalyze is not None:
            parts.append(f"{name}: Coinalyze buckets where neither covers{majors}")
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
            BY_ID[exchange].module.probe(self.upstream(exchange))
        except SourceError as error:
            return str(error)
        return None
