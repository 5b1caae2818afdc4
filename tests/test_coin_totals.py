"""The whole market over long windows: recorded liquidations summed over every coin per bucket for totals and
timelines, and each coin's own totals for rankings, on SQLite and PostgreSQL through the pages' read path
(day-bucket cache, panel), equal to the recorded events summed directly."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from streamlit.testing.v1 import AppTest

from components import summary
from data_sources import market, registry, storage
from data_sources.coin_totals import spans
from data_sources.intervals import to_offset
from data_sources.live import LiveSource
from data_sources.schema import ALL_ASSETS
from data_sources.store import Event
from tests.conftest import ROOT
from tests.fake_exchanges import FakeExchanges
from tests.live_helpers import settings_for
from tests.test_app import metrics
from tests.test_whole_market import figure, values

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


def fill(target: str, start: pd.Timestamp, days: int) -> list[Event]:
    """A recorder store at `target` holding `recorded(start, days)`, both exchanges connected all along."""
    events = recorded(start, days)
    store = storage.connect(target)
    store.insert(events)
    first = int(start.value // 10**6)
    for exchange in EXCHANGES:
        store.open_interval(exchange, first)
        store.extend_interval(exchange, first, first + days * DAY_MS)
    store.close()
    return events


@pytest.fixture()
def source(exchanges: FakeExchanges, db_target: str) -> LiveSource:
    """The live source reading a recorder store (SQLite or PostgreSQL) that covers 40 days on both exchanges."""
    fill(db_target, exchanges.market.seed_day - pd.Timedelta(days=35), 40)
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


def test_the_overview_and_exchange_page_over_a_month_rank_coins_from_their_own_totals(
    tmp_path: Path, exchanges: FakeExchanges, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store-only app over 30 days of a recorder's SQLite file, no coin selected: the KPIs are the events
    summed, the coin ranking names the most liquidated coins in order with the rest as Others, and the exchange
    page's per-asset bars are each coin's own total (never the summed rows' asset)."""
    db = tmp_path / "liqscope.db"
    start = exchanges.market.seed_day - pd.Timedelta(days=29)
    events = fill(str(db), start, 30)
    monkeypatch.setenv("LIQSCOPE_DATA", "store")
    monkeypatch.setenv("LIQSCOPE_DB", str(db))
    registry.clear()
    market.clear_cache()
    days = [f"{start:%Y-%m-%d}", f"{exchanges.market.seed_day:%Y-%m-%d}"]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update({"range": days, "exchanges": ["Binance", "Bybit"], "interval": "1d"})
    at.run()
    assert not at.exception
    expected = direct(events, start, start + pd.Timedelta(days=30))
    assert metrics(at)["Total liquidations"] == summary.usd(expected.sum())
    per_coin = expected.groupby(level="asset").sum().sort_values(ascending=False)
    ranked = figure(at, "overview_coins")["data"][0]["y"]
    assert ranked == list(per_coin.index)  # 14 coins: no Others row; never the summed rows' "*"
    takeaways = " ".join(m.value for m in at.markdown)
    assert f"Most liquidated: {per_coin.index[0]} ({summary.usd(per_coin.iloc[0])})" in takeaways
    at.switch_page("app_pages/exchange.py").run()
    assert not at.exception
    bars = figure(at, "exchange_assets")
    shown = dict(zip(bars["data"][0]["x"], values(bars["data"][0]["y"]), strict=True))
    binance = direct([e for e in events if e.exchange == "binance"], start, start + pd.Timedelta(days=30))
    longs = binance.xs("long", level="side")
    assert shown == pytest.approx({asset: longs.get(asset, 0.0) for asset in shown}) and ALL_ASSETS not in shown


def test_the_summed_rows_of_a_sparse_month_are_one_span_split_only_where_per_coin_rows_lie() -> None:
    """Hourly summed rows on 3 scattered days of 30 read as one span (one store query, not one per run of
    bars); an event kept per coin between them splits the span around it, and the spans stay in the window."""
    start = pd.Timestamp("2025-05-01", tz="UTC")
    hours = [start + pd.Timedelta(hours=h) for h in (5, 6, 200, 201, 202, 650)]
    rows = pd.DataFrame({"ts": hours, "asset": ALL_ASSETS, "side": "long", "usd": 1.0})
    end = start + pd.Timedelta(days=30)
    one = spans(rows, rows["asset"] == ALL_ASSETS, pd.Timedelta(hours=1), start, end)
    assert one == [(hours[0], hours[-1] + pd.Timedelta(hours=1))]
    event = pd.DataFrame({"ts": [start + pd.Timedelta(hours=300)], "asset": ["BTC"], "side": ["long"], "usd": [5.0]})
    mixed = pd.concat([rows, event], ignore_index=True)
    split = spans(mixed, mixed["asset"] == ALL_ASSETS, pd.Timedelta(hours=1), start, end)
    assert split == [(hours[0], hours[4] + pd.Timedelta(hours=1)), (hours[5], hours[5] + pd.Timedelta(hours=1))]
    clipped = spans(rows, rows["asset"] == ALL_ASSETS, pd.Timedelta(hours=1), start, hours[-1])
    assert clipped == [(hours[0], hours[-1])]
