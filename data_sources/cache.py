"""The fetch cache between sources and pages: UTC-day buckets, single-flight, last-good.

A query is split into UTC-day buckets keyed by (source, dataset, asset,
exchange, interval, day). Closed days never change and are kept long; the
still-open day expires quickly and is then refreshed incrementally, from the
last timestamp it holds, so moving the window by an hour fetches only that hour.
Contiguous missing days are fetched in one paginated upstream call. Concurrent
misses for the same bucket wait for the one call in flight. Every bucket's
last good copy outlives its TTL, so a failing source serves stale data with its
age instead of nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import pandas as pd
from cachetools import LRUCache, TLRUCache

from data_sources.base import MarketSource, Query, SourceError
from data_sources.schema import Dataset, empty

DAY = pd.Timedelta(days=1)
OPEN_TTL_SECONDS = 60.0
CLOSED_TTL_SECONDS = 12 * 3600.0
MAX_BUCKETS = 8192

BucketKey = tuple[str, str, str, str, str, pd.Timestamp]


@dataclass(frozen=True)
class Bucket:
    """One day of one dataset, as fetched at `fetched_at` (epoch seconds)."""

    frame: pd.DataFrame
    fetched_at: float
    closed: bool


@dataclass(frozen=True)
class Fetched:
    """A query's frame, the time of its oldest part, and why it is stale (None if fresh)."""

    frame: pd.DataFrame
    fetched_at: float
    stale_reason: str | None = None


class BucketCache:
    """Thread-safe, bounded day-bucket cache with single-flight and last-good copies."""

    def __init__(
        self,
        maxsize: int = MAX_BUCKETS,
        open_ttl: float = OPEN_TTL_SECONDS,
        closed_ttl: float = CLOSED_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self._fresh: TLRUCache = TLRUCache(
            maxsize, ttu=lambda _k, b, now: now + (closed_ttl if b.closed else open_ttl), timer=clock
        )
        self._last_good: LRUCache = LRUCache(maxsize)
        self._inflight: dict[BucketKey, Future] = {}
        self._lock = threading.Lock()

    def expire(self) -> None:
        """Treat every bucket as out of date (keeping last-good copies for stale serving)."""
        with self._lock:
            self._fresh.clear()

    def clear(self) -> None:
        """Forget everything, last-good copies included."""
        with self._lock:
            self._fresh.clear()
            self._last_good.clear()

    def read(self, source: MarketSource, dataset: Dataset, query: Query) -> Fetched:
        """The frame for `query`, from cache where fresh, fetching only what is missing."""
        now = pd.Timestamp(self.clock(), unit="s", tz="UTC")
        end = min(query.end, now)
        days = list(pd.date_range(query.start.floor("D"), end, freq="D", inclusive="left"))
        keys = {day: (source.name, dataset, query.asset, query.exchange, query.interval, day) for day in days}
        ready: dict[pd.Timestamp, Bucket] = {}
        waiting: dict[pd.Timestamp, Future] = {}
        claimed: list[pd.Timestamp] = []
        with self._lock:
            for day, key in keys.items():
                bucket = self._fresh.get(key)
                if bucket is not None:
                    ready[day] = bucket
                elif key in self._inflight:
                    waiting[day] = self._inflight[key]
                else:
                    self._inflight[key] = Future()
                    claimed.append(day)
        stale: list[str] = []
        errors: list[SourceError] = []
        outcomes: dict[pd.Timestamp, tuple[Bucket, str | None]] = {}
        for run in _contiguous(claimed):
            try:
                outcomes.update(self._fetch_run(source, dataset, query, run, keys, now))
            except SourceError as error:
                errors.append(error)
        for day, future in waiting.items():
            try:
                outcomes[day] = future.result()
            except SourceError as error:
                errors.append(error)
        if errors:
            raise errors[0]
        for day, (bucket, reason) in outcomes.items():
            ready[day] = bucket
            if reason:
                stale.append(reason)
        frames = [ready[day].frame for day in days if not ready[day].frame.empty]
        frame = pd.concat(frames, ignore_index=True) if frames else empty(dataset)
        frame = frame[(frame["ts"] >= query.start) & (frame["ts"] < query.end)].reset_index(drop=True)
        oldest = min((ready[day].fetched_at for day in days), default=self.clock())
        return Fetched(frame=frame, fetched_at=oldest, stale_reason=stale[0] if stale else None)

    def _fetch_run(
        self,
        source: MarketSource,
        dataset: Dataset,
        query: Query,
        run: list[pd.Timestamp],
        keys: dict[pd.Timestamp, BucketKey],
        now: pd.Timestamp,
    ) -> dict[pd.Timestamp, tuple[Bucket, str | None]]:
        """Fetch one run of contiguous days in one upstream call; settle their futures."""
        run_end = min(run[-1] + DAY, now)
        open_day = run[-1] if run[-1] + DAY > now else None
        with self._lock:
            previous = self._last_good.get(keys[open_day]) if open_day is not None else None
        since = run[0]
        if previous is not None and len(run) == 1 and not previous.frame.empty:
            since = previous.frame["ts"].max()
        outcomes: dict[pd.Timestamp, tuple[Bucket, str | None]] = {}
        try:
            fetched = source.fetch(dataset, Query(query.asset, query.exchange, since, run_end, query.interval))
        except Exception as error:
            with self._lock:
                for day in run:
                    good = self._last_good.get(keys[day]) if isinstance(error, SourceError) else None
                    future = self._inflight.pop(keys[day])
                    if good is None:
                        future.set_exception(error)
                    else:
                        outcomes[day] = (good, str(error))
                        future.set_result(outcomes[day])
            if len(outcomes) < len(run):
                raise
            return outcomes
        if previous is not None and since != run[0]:
            fetched = pd.concat([previous.frame[previous.frame["ts"] < since], fetched], ignore_index=True)
        fetched_at = self.clock()
        fetched = fetched.sort_values("ts", kind="stable") if not fetched["ts"].is_monotonic_increasing else fetched
        edges = fetched["ts"].searchsorted([*run, run[-1] + DAY])
        with self._lock:
            for day, lo, hi in zip(run, edges[:-1], edges[1:], strict=True):
                frame = fetched.iloc[lo:hi].reset_index(drop=True)
                bucket = Bucket(frame=frame, fetched_at=fetched_at, closed=day + DAY <= now)
                self._fresh[keys[day]] = bucket
                self._last_good[keys[day]] = bucket
                outcomes[day] = (bucket, None)
                self._inflight.pop(keys[day]).set_result(outcomes[day])
        return outcomes


def _contiguous(days: list[pd.Timestamp]) -> list[list[pd.Timestamp]]:
    """Group sorted days into runs of consecutive days."""
    runs: list[list[pd.Timestamp]] = []
    for day in days:
        if runs and day - runs[-1][-1] == DAY:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs
