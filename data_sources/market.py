"""The read path pages use: one dataset for many assets x exchanges, in parallel.

`load` fans a window out per (asset, exchange) on a bounded thread pool, each
request going through the day-bucket cache (`cache.BucketCache`). It keeps what
answered, records what failed and why, and what is stale and how old, so a
failing exchange dims its own panel while the rest renders. The combined panel
is memoized briefly so reruns of the same view cost nothing, and concurrent loads of
the same view (many viewers of one shared link) wait for the one in flight.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import pandas as pd
from cachetools import TTLCache

from data_sources.base import MarketSource, NoCoverage, Query, SourceError
from data_sources.cache import BucketCache, Fetched
from data_sources.coin_totals import per_coin, summed
from data_sources.intervals import to_offset
from data_sources.schema import ALL_ASSETS, EXCHANGE_NAMES, Dataset, empty

_ASSET_SLOT = "\0"
PANEL_TTL_SECONDS = 30
FETCH_WORKERS = 32
PAGE_WORKERS = 6


@dataclass(frozen=True)
class SourceStatus:
    """Who answered a panel's data, who failed and why, what is stale, and its age."""

    source: str
    simulated: bool
    answered: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]
    fetched_at: pd.Timestamp
    stale: tuple[tuple[str, str], ...] = ()
    uncovered: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when at least one exchange answered."""
        return bool(self.answered)


@dataclass(frozen=True)
class Panel:
    """A normalized frame for a set of assets x exchanges, with its status. For the whole market's liquidations
    over long windows `frame` may sum every coin per bucket (asset `ALL_ASSETS`); `by_coin` then holds the same
    liquidations with each coin's own rows (`coin_totals.per_coin`)."""

    frame: pd.DataFrame
    status: SourceStatus
    by_coin: pd.DataFrame | None = None

    @property
    def coins(self) -> pd.DataFrame:
        """The liquidations with each coin's own rows, for views that rank or pick coins."""
        return self.frame if self.by_coin is None else self.by_coin


buckets = BucketCache()
_panels: TTLCache = TTLCache(maxsize=512, ttl=PANEL_TTL_SECONDS)
_panels_lock = threading.Lock()
_inflight_panels: dict[tuple, Future] = {}
_pool = ThreadPoolExecutor(max_workers=FETCH_WORKERS, thread_name_prefix="liqscope-fetch")
_page_pool = ThreadPoolExecutor(max_workers=PAGE_WORKERS, thread_name_prefix="liqscope-page")


def _read(source: MarketSource, dataset: Dataset, query: Query) -> Fetched | SourceError:
    """Through the day-bucket cache, unless the source answers with its own age (the store-only source)."""
    own = getattr(source, "read", None)
    try:
        return own(dataset, query) if own is not None else buckets.read(source, dataset, query)
    except SourceError as error:
        return error


def _fetch_panel(
    source: MarketSource,
    dataset: Dataset,
    assets: tuple[str, ...],
    exchanges: tuple[str, ...],
    start: pd.Timestamp,
    end: pd.Timestamp,
    interval: str,
) -> Panel:
    jobs = [(exchange, asset) for exchange in exchanges for asset in assets]
    whole_market = assets == (ALL_ASSETS,)
    with_coins = dataset == "liquidations" and whole_market

    def read(job: tuple[str, str]) -> Fetched | SourceError:
        result = _read(source, dataset, Query(job[1], job[0], start, end, interval))
        return _with_coins(source, result, job[0], interval, start, end) if with_coins else result

    results = _pool.map(read, jobs)
    frames: list[pd.DataFrame] = []
    coin_frames: list[pd.DataFrame] = []
    answered: list[str] = []
    failures: dict[str, list[tuple[str, str]]] = {}
    uncovered: dict[str, list[tuple[str, str]]] = {}
    stale: dict[str, str] = {}
    fetched_at: list[float] = []
    for (exchange, asset), result in zip(jobs, results, strict=False):
        name = EXCHANGE_NAMES.get(exchange, exchange)
        if isinstance(result, NoCoverage):
            uncovered.setdefault(name, []).append((asset, str(result)))
            continue
        if isinstance(result, SourceError):
            failures.setdefault(name, []).append((asset, str(result)))
            continue
        if not result.frame.empty:
            frames.append(result.frame)
        if isinstance(result, WithCoins) and not result.coins.empty:
            coin_frames.append(result.coins)
        fetched_at.append(result.fetched_at)
        if result.stale_reason:
            stale.setdefault(name, result.stale_reason)
        if exchange not in answered:
            answered.append(exchange)
    frame = pd.concat(frames, ignore_index=True) if frames else empty(dataset)
    by_coin = None
    if with_coins and summed(frame).any():
        by_coin = pd.concat(coin_frames, ignore_index=True) if coin_frames else empty(dataset)
    coverage_note = getattr(source, "coverage_note", None)
    notes = (
        [coverage_note(e, start, end, whole_market) for e in exchanges]
        if dataset == "liquidations" and coverage_note
        else []
    )
    oldest = pd.Timestamp(min(fetched_at), unit="s", tz="UTC") if fetched_at else pd.Timestamp.now(tz="UTC")
    status = SourceStatus(
        source=source.name,
        simulated=source.simulated,
        answered=tuple(answered),
        failed=tuple((name, per_asset(reasons)) for name, reasons in failures.items()),
        fetched_at=oldest,
        stale=tuple(stale.items()),
        uncovered=tuple((name, per_asset(reasons)) for name, reasons in uncovered.items()),
        notes=tuple(note for note in notes if note),
    )
    return Panel(frame=frame, status=status, by_coin=by_coin)


@dataclass(frozen=True)
class WithCoins(Fetched):
    """A fetched whole-market liquidations frame and the same liquidations with each coin's own rows."""

    coins: pd.DataFrame = field(default_factory=lambda: empty("liquidations"))


def _with_coins(
    source: MarketSource,
    result: Fetched | SourceError,
    exchange: str,
    interval: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> WithCoins | SourceError:
    """`result` with its per-coin rows (`coin_totals.per_coin`, from the source's recorder store), or the
    store's error when those cannot be read (the exchange then fails as a whole, never half-counted)."""
    if isinstance(result, SourceError):
        return result
    try:
        coins = per_coin(lambda: source.store(), result.frame, exchange, to_offset(interval), start, end)
    except SourceError as error:
        return error
    return WithCoins(result.frame, result.fetched_at, result.stale_reason, coins)


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def per_asset(reasons: list[tuple[str, str]]) -> str:
    """One exchange's (asset, reason) answers as sentences naming every asset concerned: reasons that differ
    only in the asset are said once ("… candles for BTC, ETH and SOL yet."), the others each once."""
    assets_by_reason: dict[str, list[str]] = {}
    for asset, reason in reasons:
        template = re.sub(rf"\b{re.escape(asset)}\b", _ASSET_SLOT, reason)
        assets_by_reason.setdefault(template, []).append(asset)
    return " ".join(template.replace(_ASSET_SLOT, _and(assets)) for template, assets in assets_by_reason.items())


def load(
    source: MarketSource,
    dataset: Dataset,
    assets: tuple[str, ...],
    exchanges: tuple[str, ...],
    start: pd.Timestamp,
    end: pd.Timestamp,
    interval: str,
) -> Panel:
    """The panel for `dataset` over [start, end); never raises SourceError.

    The returned frame is shared with the cache: treat it as read-only.
    """
    key = (source.name, dataset, assets, exchanges, start, end, interval)
    with _panels_lock:
        cached = _panels.get(key)
        if cached is not None:
            return cached
        waiting = _inflight_panels.get(key)
        if waiting is None:
            _inflight_panels[key] = mine = Future()
    if waiting is not None:  # the same view is being loaded by another session: share its answer
        return waiting.result()
    try:
        panel = _fetch_panel(source, dataset, assets, exchanges, start, end, interval)
    except BaseException as error:
        with _panels_lock:
            _inflight_panels.pop(key)
        mine.set_exception(error)
        raise
    with _panels_lock:
        _panels[key] = panel
        _inflight_panels.pop(key)
    mine.set_result(panel)
    return panel


Job = tuple[Dataset, tuple[str, ...]]


def start(
    source: MarketSource,
    jobs: tuple[Job, ...],
    exchanges: tuple[str, ...],
    start: pd.Timestamp,
    end: pd.Timestamp,
    interval: str,
    after: tuple[Future, ...] = (),
) -> tuple[Future, ...]:
    """Handles (`Future[Panel]`, `.result()` waits) of (dataset, assets) panels for the same window, their loads
    begun on the page pool at once, or once every handle in `after` is done (so a page's first screen is not
    queued behind its lower panels' requests). A panel memoized for this view is a done handle at once."""
    handles = []
    for dataset, assets in jobs:
        key = (source.name, dataset, assets, exchanges, start, end, interval)
        with _panels_lock:
            cached = _panels.get(key)
        handle: Future = Future()
        if cached is not None:
            handle.set_result(cached)
        else:
            job = (source, dataset, assets, exchanges, start, end, interval)
            _when_done(after, lambda handle=handle, job=job: _chain(handle, _page_pool.submit(load, *job)))
        handles.append(handle)
    return tuple(handles)


def then(handle: Future, begin: Callable[[Panel], Future | None]) -> Future:
    """A handle of what `begin(panel)` starts once `handle`'s panel is in (a load that depends on another's
    answer); its result is None when `begin` starts nothing."""
    outer: Future = Future()

    def begun(done: Future) -> None:
        try:
            inner = begin(done.result())
        except BaseException as error:  # handed to whoever waits on the handle, not lost on a callback thread
            outer.set_exception(error)
            return
        if inner is None:
            outer.set_result(None)
        else:
            _chain(outer, inner)

    handle.add_done_callback(begun)
    return outer


def _when_done(futures: tuple[Future, ...], call: Callable[[], None]) -> None:
    """`call()` on the thread finishing the last of `futures`, or now when none is pending: never blocks."""
    pending = [future for future in futures if not future.done()]
    if not pending:
        call()
        return
    left = [len(pending)]
    lock = threading.Lock()

    def one_done(_: Future) -> None:
        with lock:
            left[0] -= 1
            last = left[0] == 0
        if last:
            call()

    for future in pending:
        future.add_done_callback(one_done)


def _chain(handle: Future, inner: Future) -> None:
    """Complete `handle` with `inner`'s outcome."""

    def copy(done: Future) -> None:
        error = done.exception()
        if error is None:
            handle.set_result(done.result())
        else:
            handle.set_exception(error)

    inner.add_done_callback(copy)


def refresh() -> None:
    """Refetch on next read; if a source then fails, its last good data is served with its age."""
    with _panels_lock:
        _panels.clear()
    buckets.expire()


def clear_cache() -> None:
    """Drop every cached panel and bucket (tests, and an explicit refresh)."""
    with _panels_lock:
        _panels.clear()
    buckets.clear()
