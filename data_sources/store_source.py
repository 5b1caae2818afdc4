"""The store-only source (`LIQSCOPE_DATA=store`): every page reads what the collector stored, nothing else.

A team's app replicas use this: they never call an exchange, so viewers add no upstream
load. Each answer carries how fresh it is (`cache.Fetched`): `fetched_at` is when the
collector last wrote that series (for liquidations, when the recorder last flushed), and
it is stale, with the reason, once the collector is overdue (three of its periods for a
series; for liquidations, whenever the stream is not recording). Nothing falls back to
another source: a series the collector never stored is "not covered", with a sentence
saying so. Stored 1m candles and 5-minute ratios / open interest are aggregated to the
view's bar interval here (candles: OHLC of the bars, volumes summed; ratios / open
interest: the first snapshot of each bar, as the venues' coarser periods are).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pandas as pd
from cachetools import TTLCache

from data_sources import series, storage, stream_health
from data_sources.base import NoCoverage, Query
from data_sources.cache import Fetched
from data_sources.dburl import masked
from data_sources.intervals import INTERVAL_SECONDS
from data_sources.live import lower_bound, recorded, recorded_note
from data_sources.schema import ASSETS, EXCHANGE_NAMES, Dataset, conform
from data_sources.store import LiquidationStore, StoreError
from data_sources.universe import Ranking, Universe, order, rank

FRESHNESS_TTL_SECONDS = 5.0
MINUTE = pd.Timedelta(minutes=1)
OVERDUE_PERIODS = 3  # a series is stale once the collector missed this many of its runs
CADENCE_SECONDS = {"candles": 60, "ratios": 300, "open_interest": 300, "funding": 3600}  # the collector's cadence
CADENCE_WORDS = {
    "candles": "every minute",
    "ratios": "every 5 min",
    "open_interest": "every 5 min",
    "funding": "hourly",
}
LABELS = {"candles": "candles", "ratios": "long/short ratios", "open_interest": "open interest", "funding": "funding"}
ACTIVE_WITHIN = pd.Timedelta(hours=2)  # `auto` reads the store when the collector wrote within this
CANDLE_AGGREGATES = {
    "open": "first",
    "high": "max",
    "low": "min",
    "close": "last",
    "volume": "sum",
    "quote_volume": "sum",
}


def _age(seconds: float) -> str:
    return stream_health.age(int(seconds * 1000))


def to_interval(dataset: Dataset, frame: pd.DataFrame, interval: str) -> pd.DataFrame:
    """Stored rows (1m candles; 5-minute ratios and open interest; funding events) at the view's bar interval."""
    step = INTERVAL_SECONDS[interval]
    stored = 60 if dataset == "candles" else 300
    if dataset == "funding" or step <= stored or frame.empty:
        return frame
    bar = frame["ts"].dt.floor(f"{step}s")
    keys = ["exchange", "asset", *(["kind"] if dataset == "ratios" else [])]
    grouped = frame.assign(ts=bar).groupby([*keys, "ts"], sort=False)
    out = grouped.agg(CANDLE_AGGREGATES) if dataset == "candles" else grouped.first()
    return conform(dataset, out.reset_index())


class StoreSource:
    """MarketSource over the store at `target` (a SQLite file or a `postgresql://` URL); `clock` is epoch s."""

    name = "store"
    simulated = False

    def __init__(self, target: str, clock: Callable[[], float] = time.time) -> None:
        self.target, self.clock = target, clock
        self._freshness: TTLCache = TTLCache(maxsize=1, ttl=FRESHNESS_TTL_SECONDS, timer=clock)
        self._lock = threading.Lock()

    def store(self) -> LiquidationStore:
        """The process-wide store; raises StoreError (a SourceError) when it cannot be opened or does not
        exist yet (the app only reads: it never creates a SQLite store, the collector does)."""
        if not storage.exists(self.target):
            raise StoreError(f"there is no store at {masked(self.target)} yet")
        return storage.open_store(self.target)

    def nothing_stored(self) -> str | None:
        """One sentence for the page when the store is missing or the collector and recorder never wrote to it
        (how to fill it, and where it is, password masked); None once it holds anything or cannot be read."""
        try:
            empty = self.freshness()["last_ts"].dropna().empty and not (
                storage.exists(self.target) and self.store().stream_health()
            )
        except StoreError:
            return None
        if not empty:
            return None
        return (
            f"The store ({masked(self.target)}) holds nothing yet: run `python -m data_sources.collector` "
            "(and `python -m data_sources.recorder` for liquidations) with the same `LIQSCOPE_DB` to fill it."
        )

    def freshness(self) -> pd.DataFrame:
        """The store's `dataset_freshness` rows (none while there is no store), re-read at most every
        FRESHNESS_TTL_SECONDS."""
        if not storage.exists(self.target):
            return series.freshness_frame([])
        with self._lock:
            cached = self._freshness.get("rows")
        if cached is None:
            cached = self.store().freshness()
            with self._lock:
                self._freshness["rows"] = cached
        return cached

    def active(self) -> bool:
        """True when the collector wrote any series within ACTIVE_WITHIN (raises StoreError)."""
        written = self.freshness()["written_at"]
        return bool(len(written)) and written.max() >= pd.Timestamp(self.clock(), unit="s", tz="UTC") - ACTIVE_WITHIN

    def fetch(self, dataset: Dataset, query: Query) -> pd.DataFrame:
        """The stored frame for `dataset` and `query`; NoCoverage when the collector has not stored it."""
        return self.read(dataset, query).frame

    def read(self, dataset: Dataset, query: Query) -> Fetched:
        """The stored frame with when the collector last wrote it, and why it is stale (None if on time)."""
        if dataset == "liquidations":
            return self._liquidations(query)
        name, label = EXCHANGE_NAMES.get(query.exchange, query.exchange), LABELS[dataset]
        fresh = self.freshness()
        row = fresh[(fresh["dataset"] == dataset) & (fresh["exchange"] == query.exchange)]
        row = row[row["asset"] == query.asset]
        if row.empty or pd.isna(row["last_ts"].iloc[0]):
            raise NoCoverage(f"The collector has not stored {name} {label} for {query.asset} yet.")
        first, last, written = row["first_ts"].iloc[0], row["last_ts"].iloc[0], row["written_at"].iloc[0]
        frame = self.store().series(dataset, query.asset, query.exchange, query.start, query.end)
        if frame.empty:
            raise NoCoverage(
                f"The collector has stored {name} {label} for {query.asset} from {first:%Y-%m-%d %H:%M} "
                f"to {last:%Y-%m-%d %H:%M} UTC only, none in this window."
            )
        idle = self.clock() - written.timestamp()
        stale = None
        if idle > OVERDUE_PERIODS * CADENCE_SECONDS[dataset]:
            stale = (
                f"the collector last stored {name} {label} {_age(idle)} ago (it writes {CADENCE_WORDS[dataset]}); "
                "check that it is running"
            )
        return Fetched(to_interval(dataset, frame, query.interval), written.timestamp(), stale)

    def _liquidations(self, query: Query) -> Fetched:
        name = EXCHANGE_NAMES.get(query.exchange, query.exchange)
        if not storage.exists(self.target):
            raise NoCoverage(f"The collector has not recorded {name} liquidations in this window.")
        store = self.store()
        if not store.coverage(query.exchange, query.start, query.end):
            raise NoCoverage(f"The collector has not recorded {name} liquidations in this window.")
        frame = recorded(store, query)
        health = store.stream_health().get(query.exchange)
        if health is None:
            return Fetched(frame, self.clock())
        now_ms = int(self.clock() * 1000)
        sentence = stream_health.sentence(health, now_ms)
        on_time = health.state == "recording" and now_ms - health.updated_ms <= stream_health.SILENT_AFTER_MS
        return Fetched(frame, health.updated_ms / 1000, None if on_time else sentence)

    def universe(self, exchanges: tuple[str, ...]) -> Universe:
        """The coins the collector stores series for on `exchanges` (plus the majors), and how many
        (exchange, coin) series that is; liquidations still count every recorded perpetual."""
        try:
            rows = self.freshness()
        except StoreError as error:
            return Universe(order(ASSETS), 0, (f"The store cannot list its coins: {error}",))
        stored = rows[rows["exchange"].isin(exchanges)]
        pairs = stored[["exchange", "asset"]].drop_duplicates()
        return Universe(order([*ASSETS, *pairs["asset"]]), len(pairs))

    def top_assets(self, exchanges: tuple[str, ...], n: int) -> Ranking:
        """The `n` stored coins with the most open interest in the latest stored snapshot per venue (USD)."""
        try:
            rows = self.freshness()
            latest = rows[(rows["dataset"] == "open_interest") & rows["exchange"].isin(exchanges)].dropna(
                subset=["last_ts"]
            )
            measures: dict[str, dict[str, float]] = {}
            for row in latest.itertuples():
                snapshot = self.store().series(
                    "open_interest", row.asset, row.exchange, row.last_ts, row.last_ts + MINUTE
                )
                if not snapshot.empty:
                    measures.setdefault(row.exchange, {})[row.asset] = float(snapshot["usd"].iloc[-1])
        except StoreError as error:
            return Ranking(ASSETS[:n], "the majors", (f"The store cannot rank coins: {error}",))
        if not measures:
            return Ranking(ASSETS[:n], "the majors", ("The collector has stored no open interest yet.",))
        return Ranking(rank(measures, n), "open interest in the collector's latest snapshot")

    def coverage_note(
        self, exchange: str, start: pd.Timestamp, end: pd.Timestamp, whole_market: bool = False
    ) -> str | None:
        """When the collector recorded the exchange's liquidations in [start, end), with the lower-bound caveat."""
        try:
            note = recorded_note(exchange, self.store().coverage(exchange, start, end))
        except StoreError:  # the panel's fetch already reports why the store cannot answer
            return None
        if note and whole_market:
            note = f"{note} (every asset)"
        return lower_bound(exchange, note) if note else None

    def recent(self, asset: str, exchanges: tuple[str, ...], limit: int) -> pd.DataFrame | None:
        """The latest recorded liquidations, newest first (None when the store cannot answer)."""
        try:
            return self.store().latest(asset, exchanges, limit)
        except StoreError:
            return None
