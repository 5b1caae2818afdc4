"""The whole market over long windows: recorded liquidations summed over every coin per bucket for totals and
timelines, and each coin's own totals for rankings, on SQLite and PostgreSQL through the pages' read path
(day-bucket cache, panel), equal to the recorded events summed directly."""

from __future__ import annotations

import sqlite3

import pandas as pd
import psycopg
import pytest

from components import summary
from data_sources import market, storage
from data_sources.intervals import to_offset
from data_sources.live import LiveSource
from data_sources.schema import ALL_ASSETS
from data_sources.store import Event
from tests.fake_exchanges import FakeExchanges
from tests.live_helpers import settings_for

DAY_MS = 86_400_000
COINS = [f"COIN{i}" for i in range(12)] + ["BTC", "PEPE"]
EXCHANGES = ("binance", "bybit")  # both stream, neither keeps REST liquidation history


def recorded(start: pd.Timestamp, days: int) -> list[Event]:
    """Events on every day of [start, start + days), every coin, both sides, both exchanges, at odd minutes."""
    first = int(start.value // 10**6)
    return [
        Event(exchange, f"{coin}USDT", coin, first + day * DAY_MS + (k * 7_919_311) % DAY_MS, side, 1.0 + k, 2.0 + j)
        for day in range(days)
        for j, exchange in enumerate(EXCHANGES)
        for k, coin in enumerate(COINS)
        for side in (("long", "short") if (day + k) % 3 else ("short",))
    ]


@pytest.fixture()
def source(exchanges: FakeExchanges, db_target: str) -> LiveSource:
    """The live source reading a recorder store (SQLite or PostgreSQL) that covers 40 days on both exchanges."""
    start = exchanges.market.seed_day - pd.Timedelta(days=35)
    store = storage.connect(db_target)
    store.insert(recorded(start, 40))
    for exchange in EXCHANGES:
        store.open_interval(exchange, int(start.value // 10**6))
        store.extend_interval(exchange, int(start.value // 10**6), int(start.value // 10**6) + 40 * DAY_MS)
    store.close()
    market.clear_cache()
    return LiveSource(settings_for(exchanges.url, db_path=db_target))


def direct(events: list[Event], start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """The events in [start, end) summed per coin and side, straight from the list."""
    lo, hi = int(start.value // 10**6), int(end.value // 10**6)
    rows = [(e.asset, e.side, e.usd) for e in events if lo <= e.ts < hi]
    return pd.DataFrame(rows, columns=["asset", "side", "usd"]).groupby(["asset", "side"])["usd"].sum()


@pytest.mark.parametrize("interval", ["1d", "4h"])
def test_a_month_of_the_whole_market_sums_every_coin_per_bar_and_ranks_coins_exactly(
    source: LiveSource, exchanges: FakeExchanges, interval: str
) -> None:
    """30 days ending on a partial day: the frame holds one row per bar and side (asset ALL_ASSETS), not one per
    coin; its totals and bars, and the per-coin rows the ranking reads, equal the events summed directly. The
    last day was loaded first as a one-day view, so the month's frame mixes that day's events (cached) with the
    summed rows of the other days: nothing may be counted twice."""
    end = exchanges.market.seed_day + pd.Timedelta(hours=15, minutes=30)
    start = exchanges.market.seed_day - pd.Timedelta(days=29)
    day = market.load(source, "liquidations", (ALL_ASSETS,), EXCHANGES, end.floor("D"), end, interval)
    assert day.by_coin is None and set(day.frame["asset"]) <= set(COINS)  # a short window: the events themselves
    month = market.load(source, "liquidations", (ALL_ASSETS,), EXCHANGES, start, end, interval)
    events = recorded(exchanges.market.seed_day - pd.Timedelta(days=35), 40)
    expected = direct(events, start, end)
    summed = month.frame[month.frame["asset"] == ALL_ASSETS]
    assert len(summed) <= len(EXCHANGES) * 2 * 30 * (6 if interval == "4h" else 1)  # bars x sides x exchanges
    assert (month.frame.loc[month.frame["asset"] != ALL_ASSETS, "ts"] >= end.floor("D")).all()  # the cached day
    assert month.frame.groupby("side")["usd"].sum().to_dict() == pytest.approx(
        expected.groupby(level="side").sum().to_dict()
    )
    coins = month.coins.groupby(["asset", "side"])["usd"].sum()
    pd.testing.assert_series_equal(coins.sort_index(), expected.sort_index(), rtol=1e-9, check_names=False)
    ranking = summary.by_coin(month.coins, 5)
    assert list(ranking["asset"][:5]) == list(
        expected.groupby(level="asset").sum().sort_values(ascending=False).index[:5]
    )
    assert ranking["asset"].iloc[-1] == f"{summary.OTHERS} ({len(COINS) - 5} coins)"
    bars = summary.over_time(month.frame, start, end, to_offset(interval))
    assert bars[["long", "short"]].to_numpy().sum() == pytest.approx(expected.sum())


def test_a_store_that_cannot_answer_the_coin_totals_fails_its_exchange_whole(
    source: LiveSource, exchanges: FakeExchanges, db_target: str
) -> None:
    """When the per-coin totals cannot be read, the exchange is a failure with the store's reason; it is never
    counted in the totals but missing from the ranking."""
    if db_target.startswith("postgresql://"):
        with psycopg.connect(db_target, autocommit=True) as connection:
            connection.execute("DROP TABLE liquidation_fortnights CASCADE")
    else:
        with sqlite3.connect(db_target) as connection:
            connection.execute("DROP TABLE liquidation_fortnights")
    end = exchanges.market.seed_day
    panel = market.load(source, "liquidations", (ALL_ASSETS,), EXCHANGES, end - pd.Timedelta(days=30), end, "1d")
    assert panel.status.answered == ()
    assert {name for name, _ in panel.status.failed} == {"Binance", "Bybit"}
    assert all("liquidation_fortnights" in reason for _, reason in panel.status.failed)
