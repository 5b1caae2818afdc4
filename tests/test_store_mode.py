"""The store-only app (`LIQSCOPE_DATA=store`) against a PostgreSQL store the collector filled from the loopback
exchanges: every page renders, the exchanges see zero requests, freshness and gaps are said, and `auto` picks
the store only while the collector is writing."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from components import summary
from data_sources import market, registry, storage
from data_sources.base import NoCoverage, Query
from data_sources.cache import Fetched
from data_sources.collector import JOBS, Snapshots
from data_sources.live import LiveSource
from data_sources.recorder import Recorder
from data_sources.schema import ASSETS, empty
from data_sources.store_source import StoreSource
from data_sources.venues.binance import BinanceStream
from data_sources.venues.bybit import BybitStream
from tests.conftest import ROOT
from tests.db import scalar
from tests.fake_exchanges import FAKED, FakeExchanges
from tests.fake_streams import FakeStream, FakeStreams, binance_message, bybit_message, listed
from tests.live_helpers import settings_for
from tests.postgres import PostgresServer

NOW = pd.Timestamp.now(tz="UTC").floor("min") - pd.Timedelta(minutes=1)


def stored_days() -> list[str]:
    """The first and last UTC day the store holds: the collector's series cover the day before NOW, the recorded
    liquidations end at the wall clock when the module's store was filled (the next day if the run crossed
    midnight); a page of "today" alone would miss the part of the backfill before midnight."""
    return [f"{NOW - pd.Timedelta(days=1):%Y-%m-%d}", f"{pd.Timestamp.now(tz='UTC'):%Y-%m-%d}"]


def fill(target: str, url: str) -> None:
    """What a collector run leaves: one day of every series (no OKX open interest), and recorded liquidations."""
    store = storage.connect(target)
    adapters = LiveSource(settings_for(url)).adapters
    day = pd.Timedelta(days=1)
    series = [JOBS["candles"], JOBS["ratios"], JOBS["funding"]]
    clock = NOW.timestamp
    Snapshots(store, adapters, FAKED, ASSETS, series, day, clock=clock).run_once()
    Snapshots(store, adapters, ("binance", "bybit"), ASSETS, [JOBS["open_interest"]], day, clock=clock).run_once()
    now_ms = int(time.time() * 1000)
    binance = FakeStream(
        "binance", [binance_message("ETHUSDT", "SELL" if i % 4 else "BUY", 2e3 + i, 1.5, now_ms + i) for i in range(60)]
    )
    bybit = FakeStream("bybit", [bybit_message([("ETHUSDT", "Sell", 2100.0, 0.5 + i, now_ms + i)]) for i in range(30)])
    with FakeStreams([binance, bybit]):
        tracked = frozenset({"ETH"})
        streams = [
            BinanceStream(binance.url, listed("binance"), tracked),
            BybitStream(bybit.url, listed("bybit"), tracked),
        ]
        recorder = Recorder(store, streams, 0.1)

        async def record() -> None:
            task = asyncio.create_task(recorder.run(status_every=0))
            while recorder.committed < 90:
                await asyncio.sleep(0.05)
            recorder.stop.set()
            await task

        asyncio.run(asyncio.wait_for(record(), 30))
    store.close()


@pytest.fixture(scope="module")
def filled(postgres: PostgresServer, fake: FakeExchanges) -> str:
    """A PostgreSQL store filled by the collector from the loopback exchanges (once per module)."""
    url = postgres.database()
    fill(url, fake.url)
    return url


@pytest.fixture()
def store_mode(filled: str, exchanges: FakeExchanges, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeExchanges]:
    monkeypatch.setenv("LIQSCOPE_DATA", "store")
    monkeypatch.setenv("LIQSCOPE_DB", filled)
    registry.clear()
    yield exchanges


def captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def test_every_page_renders_from_the_store_and_no_exchange_is_called(store_mode: FakeExchanges, filled: str) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update({"range": stored_days(), "interval": "1h"})
    at.run()
    assert not at.exception, at.exception
    assert "Collector store (no exchange called)" in captions(at)
    total = scalar(filled, "SELECT SUM(usd) FROM liquidations")
    assert {m.label: m.value for m in at.metric}["Total liquidations"] == summary.usd(total)
    assert len(at.get("plotly_chart")) >= 3
    at.switch_page("app_pages/asset.py").run()
    assert not at.exception, at.exception
    text = captions(at)
    assert "Not covered: The collector has not stored OKX open interest for BTC yet." in text
    assert "Binance: recorded" in text and "lower bound" in text
    at.switch_page("app_pages/exchange.py").run()
    assert not at.exception, at.exception
    assert store_mode.calls() == []


def test_hourly_candles_are_the_stored_minutes_aggregated_as_the_venue_aggregates_them(
    filled: str, exchanges: FakeExchanges
) -> None:
    start, end = NOW.floor("h") - pd.Timedelta(hours=12), NOW.floor("h")
    query = Query("SOL", "okx", start, end, "1h")
    stored = StoreSource(filled).fetch("candles", query)
    venue = LiveSource(settings_for(exchanges.url)).adapters["okx"].fetch("candles", query)
    assert len(stored) == 12
    pd.testing.assert_frame_equal(stored, venue, rtol=1e-9)


def test_an_overdue_collector_dims_its_panels_with_the_age(filled: str) -> None:
    late = StoreSource(filled, clock=lambda: time.time() + 20 * 60)
    window = (NOW - pd.Timedelta(hours=2), NOW)
    fetched = late.read("candles", Query("ETH", "binance", *window, "5m"))
    assert fetched.stale_reason.startswith(
        "the collector last stored Binance candles 20 min ago (it writes every minute)"
    )
    assert late.read("ratios", Query("ETH", "bybit", *window, "5m")).stale_reason.startswith(
        "the collector last stored Bybit long/short ratios 20 min ago"
    )
    funding = late.read("funding", Query("ETH", "okx", NOW - pd.Timedelta(days=1), NOW, "1h"))
    assert funding.stale_reason is None  # hourly: not yet overdue
    market.clear_cache()
    panel = market.load(late, "candles", ("ETH",), ("binance", "okx"), *window, "5m")
    assert [name for name, _ in panel.status.stale] == ["Binance", "OKX"] and panel.status.answered == (
        "binance",
        "okx",
    )
    on_time = StoreSource(filled).read("candles", Query("ETH", "binance", *window, "5m"))
    assert on_time.stale_reason is None and time.time() - on_time.fetched_at < 600


def test_no_data_is_said_and_never_filled_from_elsewhere(filled: str) -> None:
    source = StoreSource(filled)
    long_ago = (NOW - pd.Timedelta(days=20), NOW - pd.Timedelta(days=19))
    with pytest.raises(NoCoverage, match=r"The collector has stored Binance candles for ETH from .* only, none in"):
        source.fetch("candles", Query("ETH", "binance", *long_ago, "1h"))
    with pytest.raises(NoCoverage, match=r"The collector has not recorded OKX liquidations in this window\."):
        source.fetch("liquidations", Query("ETH", "okx", NOW - pd.Timedelta(hours=1), NOW, "1m"))


def test_auto_picks_the_store_only_while_the_collector_writes(
    filled: str, exchanges: FakeExchanges, postgres: PostgresServer, tmp_path: Path
) -> None:
    auto = replace(settings_for(exchanges.url, db_path=filled), data_mode="auto")
    registry.clear()
    assert registry.choose(auto).source.name == "store"
    assert exchanges.calls() == []  # the store answered: no exchange was probed
    empty = replace(auto, db_path=postgres.database())
    registry.clear()
    assert registry.choose(empty).source.name == "live"
    idle = str(tmp_path / "idle.db")
    store = storage.connect(idle)
    week = Query("ETH", "binance", NOW - pd.Timedelta(days=1), NOW, "1h")
    store.write_series("funding", StoreSource(filled).fetch("funding", week), "binance", "ETH")
    store.close()
    registry.clear()
    assert registry.choose(replace(auto, db_path=idle)).source.name == "store"
    three_hours_ago = int(time.time() * 1000) - 3 * 3_600_000
    with sqlite3.connect(idle) as connection:
        connection.execute("UPDATE dataset_freshness SET written_ms = ?", (three_hours_ago,))
    registry.clear()
    assert registry.choose(replace(auto, db_path=idle)).source.name == "live"


class SlowSource:
    """An upstream that takes 200 ms per answer and counts its calls."""

    name, simulated = "slow", False

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def read(self, dataset: str, query: Query) -> Fetched:
        with self.lock:
            self.calls += 1
        time.sleep(0.2)
        return Fetched(empty(dataset), time.time())

    def fetch(self, dataset: str, query: Query) -> pd.DataFrame:
        return self.read(dataset, query).frame


def test_concurrent_viewers_of_one_view_share_one_load() -> None:
    source = SlowSource()
    window = (NOW - pd.Timedelta(hours=1), NOW)
    with ThreadPoolExecutor(max_workers=10) as pool:
        panels = list(pool.map(lambda _: market.load(source, "funding", ("ETH",), ("okx",), *window, "1h"), range(10)))
    assert source.calls == 1 and all(panel is panels[0] for panel in panels)
