"""Which source answers, chosen from the settings.

`demo` is the simulated market; `live` the exchanges' public APIs; `store` only what
the collector stored (no exchange is ever called); `auto` is the store when the
collector wrote into it within the last 2 hours (checked at most every minute), else
live when at least one exchange answers a server-time probe (checked at most every 5
minutes), and otherwise the demo, with a banner saying why.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

import pandas as pd
from cachetools import TTLCache

from data_sources import storage
from data_sources.base import MarketSource
from data_sources.demo import SEED_DAY, DemoSource
from data_sources.live import LiveSource
from data_sources.schema import EXCHANGE_NAMES
from data_sources.settings import Settings
from data_sources.store import StoreError
from data_sources.store_source import StoreSource

PROBE_TTL_SECONDS = 300
STORE_CHECK_TTL_SECONDS = 60


@dataclass(frozen=True)
class SourceChoice:
    """The active source and the calendar it covers (for the date filter)."""

    source: MarketSource
    first_day: date | None
    last_day: date
    default_day: date
    banner: str | None = None


_DEMO = DemoSource()
_live_sources: dict[tuple, LiveSource] = {}
_store_sources: dict[str, StoreSource] = {}
_probes: TTLCache = TTLCache(maxsize=16, ttl=PROBE_TTL_SECONDS)
_store_checks: TTLCache = TTLCache(maxsize=16, ttl=STORE_CHECK_TTL_SECONDS)
_lock = threading.Lock()


def demo_choice(banner: str | None = None) -> SourceChoice:
    """The demo market, opening on the seed day."""
    return SourceChoice(_DEMO, _DEMO.first_day.date(), _DEMO.last_day.date(), SEED_DAY.date(), banner)


def live_source(settings: Settings) -> LiveSource:
    """One LiveSource per configuration, kept so its caches and rate governors persist."""
    key = (tuple(sorted(settings.base_urls.items())), settings.timeout)
    with _lock:
        if key not in _live_sources:
            _live_sources[key] = LiveSource(settings)
        return _live_sources[key]


def store_source(settings: Settings) -> StoreSource:
    """One StoreSource per store location, kept so its freshness cache persists."""
    with _lock:
        if settings.db_path not in _store_sources:
            _store_sources[settings.db_path] = StoreSource(settings.db_path)
        return _store_sources[settings.db_path]


def store_choice(settings: Settings) -> SourceChoice:
    """The store-only source, opening on today; a banner when the store cannot be read (panels then say why)."""
    source = store_source(settings)
    today = pd.Timestamp.now(tz="UTC").date()
    banner = None
    try:
        source.freshness()
    except StoreError as error:
        banner = f"LIQSCOPE_DATA=store, but the store cannot be read: {error}"
    return SourceChoice(source, None, today, today, banner)


def collector_active(settings: Settings) -> bool:
    """Whether the store holds series the collector wrote recently (cached for STORE_CHECK_TTL_SECONDS)."""
    if not storage.exists(settings.db_path):
        return False
    with _lock:
        cached = _store_checks.get(settings.db_path)
    if cached is None:
        try:
            cached = store_source(settings).active()
        except StoreError:
            cached = False
        with _lock:
            _store_checks[settings.db_path] = cached
    return cached


def probe_all(source: LiveSource) -> dict[str, str | None]:
    """Each exchange's probe result (None = answered), cached for PROBE_TTL_SECONDS."""
    with _lock:
        cached = _probes.get(id(source))
    if cached is not None:
        return cached
    exchanges = tuple(source.adapters)  # the configured venues (every one in `venues.VENUES` from settings)
    with ThreadPoolExecutor(max_workers=len(exchanges)) as pool:
        results = dict(zip(exchanges, pool.map(source.probe, exchanges), strict=False))
    with _lock:
        _probes[id(source)] = results
    return results


def choose(settings: Settings) -> SourceChoice:
    """The source for `settings.data_mode`."""
    if settings.data_mode == "demo":
        return demo_choice()
    if settings.data_mode == "store" or (settings.data_mode == "auto" and collector_active(settings)):
        return store_choice(settings)
    source = live_source(settings)
    today = pd.Timestamp.now(tz="UTC").date()
    live = SourceChoice(source, None, today, today)
    if settings.data_mode == "live":
        return live
    probes = probe_all(source)
    failures = {e: reason for e, reason in probes.items() if reason}
    if len(failures) < len(probes):
        return live
    reasons = " ".join(f"{EXCHANGE_NAMES[e]}: {reason}" for e, reason in failures.items())
    return demo_choice(f"No exchange answered, so the built-in demo market is shown instead. {reasons}")


def clear() -> None:
    """Forget probes, store checks and sources (tests)."""
    with _lock:
        _probes.clear()
        _live_sources.clear()
        _store_checks.clear()
        _store_sources.clear()
