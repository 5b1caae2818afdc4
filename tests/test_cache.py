"""The day-bucket cache: warm reads are free, concurrent misses share one call, failures serve stale data."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

from data_sources import cache as cache_module
from data_sources import http
from data_sources.base import Query
from data_sources.cache import BucketCache
from data_sources.live import LiveSource
from tests.fake_exchanges import FakeExchanges
from tests.live_helpers import settings_for

DAY = pd.Timedelta(days=1)


class Clock:
    """A settable clock for TTLs."""

    def __init__(self) -> None:
        self.now = pd.Timestamp.now(tz="UTC").timestamp()

    def __call__(self) -> float:
        return self.now


def test_warm_read_makes_no_request(exchanges: FakeExchanges) -> None:
    cache, source = BucketCache(), LiveSource(settings_for(exchanges.url))
    start = exchanges.market.seed_day
    query = Query("ETH", "binance", start, start + 2 * DAY, "1h")
    first = cache.read(source, "candles", query)
    sent = len(exchanges.calls())
    second = cache.read(source, "candles", query)
    assert len(exchanges.calls("/fapi/v1/klines")) == 1 and len(exchanges.calls()) == sent  # + the daily listing
    pd.testing.assert_frame_equal(first.frame, second.frame)
    assert len(first.frame) == 48


def test_eight_concurrent_identical_requests_make_one(exchanges: FakeExchanges) -> None:
    cache, source = BucketCache(), LiveSource(settings_for(exchanges.url))
    start = exchanges.market.seed_day
    query = Query("SOL", "bybit", start, start + DAY, "1h")
    exchanges.delay = 0.3
    try:
        results: list[int] = []
        threads = [
            threading.Thread(target=lambda: results.append(len(cache.read(source, "candles", query).frame)))
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        exchanges.delay = 0.0
    assert results == [24] * 8
    assert len(exchanges.calls("/v5/market/kline")) == 1


def test_a_window_spanning_cached_days_fetches_only_the_new_day(exchanges: FakeExchanges) -> None:
    cache, source = BucketCache(), LiveSource(settings_for(exchanges.url))
    start = exchanges.market.seed_day
    cache.read(source, "candles", Query("BTC", "binance", start, start + DAY, "1h"))
    exchanges.reset()
    cache.read(source, "candles", Query("BTC", "binance", start, start + 2 * DAY, "1h"))
    (call,) = exchanges.calls("/fapi/v1/klines")
    assert int(call[1]["startTime"]) == (start + DAY).value // 10**6


def test_open_day_refresh_fetches_only_what_is_new(exchanges: FakeExchanges) -> None:
    clock = Clock()
    cache, source = BucketCache(clock=clock), LiveSource(settings_for(exchanges.url))
    today = pd.Timestamp.now(tz="UTC").floor("D")
    query = Query("ETH", "okx", today, today + DAY, "5m")
    first = cache.read(source, "candles", query)
    last_ts = first.frame["ts"].max()
    exchanges.reset()
    clock.now += cache_module.OPEN_TTL_SECONDS + 1  # the open day expired; an hour would cross midnight after 23:00
    cache.read(source, "candles", query)
    befores = [int(p["before"]) for _, p in exchanges.calls("/api/v5/market/")]
    assert befores and min(befores) == last_ts.value // 10**6 - 1


def test_failing_source_serves_stale_data_with_the_reason(exchanges: FakeExchanges) -> None:
    clock = Clock()
    cache, source = BucketCache(clock=clock), LiveSource(settings_for(exchanges.url))
    today = pd.Timestamp.now(tz="UTC").floor("D")
    query = Query("BTC", "binance", today, today + DAY, "1h")
    fresh = cache.read(source, "candles", query)
    clock.now += 12 * 60
    exchanges.fail("/fapi/v1/klines", status=451, body='{"code":0,"msg":"restricted location"}')
    stale = cache.read(source, "candles", query)
    assert stale.stale_reason is not None and "HTTP 451" in stale.stale_reason
    assert stale.fetched_at == fresh.fetched_at
    pd.testing.assert_frame_equal(stale.frame, fresh.frame)


def test_failure_without_a_good_copy_raises(exchanges: FakeExchanges) -> None:
    cache, source = BucketCache(), LiveSource(settings_for(exchanges.url))
    start = exchanges.market.seed_day
    exchanges.fail("/fapi/v1/klines", status=418, body="{}")
    with pytest.raises(http.IpBanned):
        cache.read(source, "candles", Query("BTC", "binance", start, start + DAY, "1h"))
    exchanges.reset()
    assert len(cache.read(source, "candles", Query("BTC", "binance", start, start + DAY, "1h")).frame) == 24


def test_memory_is_bounded(exchanges: FakeExchanges) -> None:
    cache, source = BucketCache(maxsize=3), LiveSource(settings_for(exchanges.url))
    start = exchanges.market.seed_day
    cache.read(source, "funding", Query("BTC", "binance", start - 5 * DAY, start, "1h"))
    assert len(cache._fresh) == 3 and len(cache._last_good) == 3
