"""The demo market: deterministic, schema-true, and telling the 2025-05-08 story."""

from __future__ import annotations

import pandas as pd
import pytest

from components import summary
from data_sources import demo, market
from data_sources.base import NoCoverage, Query, SourceError
from data_sources.demo import DemoSource
from data_sources.schema import ALL_ASSETS, ASSETS, COLUMNS, DATASETS, EXCHANGES

SEED_START = pd.Timestamp("2025-05-08", tz="UTC")
SEED_END = pd.Timestamp("2025-05-09", tz="UTC")
SOURCE = DemoSource()


def seed_day(dataset: str, interval: str = "5m") -> pd.DataFrame:
    """The seed day through the same read path the overview uses."""
    return market.load(SOURCE, dataset, ASSETS, EXCHANGES, SEED_START, SEED_END, interval).frame


class TestSeedDayCalibration:
    """The 2025-05-08 aggregates computed by the overview's own functions."""

    def test_shorts_over_800m_and_84_percent(self) -> None:
        totals = summary.liquidation_totals(seed_day("liquidations"))
        assert totals.shorts > 800e6
        assert totals.short_share == pytest.approx(0.84, abs=0.015)

    def test_binance_and_okx_took_over_500m_of_shorts(self) -> None:
        liquidations = seed_day("liquidations")
        table = summary.by_exchange(liquidations[liquidations["side"] == "short"], EXCHANGES).set_index("exchange")
        assert table.loc["binance", "total"] + table.loc["okx", "total"] > 500e6
        assert table["total"].nlargest(2).index.tolist() == ["binance", "okx"]

    def test_eth_and_btc_liquidation_totals(self) -> None:
        table = summary.by_asset(seed_day("liquidations"), ASSETS).set_index("asset")
        assert table.loc["ETH", "total"] == pytest.approx(310e6, rel=0.05)
        assert table.loc["BTC", "total"] == pytest.approx(375e6, rel=0.05)

    def test_price_moves(self) -> None:
        moves = summary.price_moves(seed_day("candles")).set_index("asset")["change"]
        expected = {"ETH": 0.20, "DOGE": 0.12, "ADA": 0.13, "SOL": 0.09, "BNB": 0.08, "XRP": 0.07}
        for asset, change in expected.items():
            assert moves[asset] == pytest.approx(change, abs=0.012), asset
        assert moves.idxmax() == "ETH"

    def test_eth_back_above_2000_and_btc_crosses_100k(self) -> None:
        moves = summary.price_moves(seed_day("candles")).set_index("asset")
        assert moves.loc["ETH", "open"] < 2000 < moves.loc["ETH", "close"]
        assert moves.loc["BTC", "open"] < 100_000 < moves.loc["BTC", "close"]

    def test_other_days_are_ordinary_and_the_squeeze_day_is_long_heavy(self) -> None:
        day = pd.Timestamp("2025-05-13", tz="UTC")
        ordinary = market.load(SOURCE, "liquidations", ASSETS, EXCHANGES, day, day + pd.Timedelta(days=1), "5m")
        assert 20e6 < summary.liquidation_totals(ordinary.frame).total < 300e6
        squeeze = pd.Timestamp("2025-05-19", tz="UTC")
        longs = market.load(SOURCE, "liquidations", ASSETS, EXCHANGES, squeeze, squeeze + pd.Timedelta(days=1), "5m")
        assert summary.liquidation_totals(longs.frame).short_share < 0.25


class TestDemoSource:
    """The demo implements the source interface like any upstream."""

    def test_same_query_same_frame(self) -> None:
        query = Query("SOL", "bybit", SEED_START, SEED_END, "15m")
        for dataset in DATASETS:
            pd.testing.assert_frame_equal(SOURCE.fetch(dataset, query), SOURCE.fetch(dataset, query))

    @pytest.mark.parametrize("dataset", DATASETS)
    def test_frames_follow_the_schema(self, dataset: str) -> None:
        frame = SOURCE.fetch(dataset, Query("ETH", "okx", SEED_START, SEED_END, "1h"))
        assert list(frame.columns) == COLUMNS[dataset]
        assert str(frame["ts"].dtype) == "datetime64[ms, UTC]"
        assert frame["ts"].is_monotonic_increasing
        assert frame["ts"].min() >= SEED_START and frame["ts"].max() < SEED_END
        assert not frame.empty

    def test_hourly_candles_aggregate_the_minutes(self) -> None:
        minutes = SOURCE.fetch("candles", Query("BTC", "binance", SEED_START, SEED_END, "1m"))
        hours = SOURCE.fetch("candles", Query("BTC", "binance", SEED_START, SEED_END, "1h"))
        assert len(minutes) == 1440 and len(hours) == 24
        first_hour = minutes.iloc[:60]
        assert hours.iloc[0]["open"] == first_hour["open"].iloc[0]
        assert hours.iloc[0]["high"] == first_hour["high"].max()
        assert hours.iloc[0]["low"] == first_hour["low"].min()
        assert hours.iloc[0]["close"] == first_hour["close"].iloc[-1]
        assert hours["quote_volume"].sum() == pytest.approx(minutes["quote_volume"].sum())
        assert (hours["low"] <= hours[["open", "close"]].min(axis=1)).all()
        assert (hours["high"] >= hours[["open", "close"]].max(axis=1)).all()

    def test_liquidation_units(self) -> None:
        frame = SOURCE.fetch("liquidations", Query("ETH", "binance", SEED_START, SEED_END, "5m"))
        assert set(frame["side"]) == {"long", "short"}
        assert (frame["usd"] - frame["price"] * frame["qty"]).abs().max() < 1e-6 * frame["usd"].max()
        assert frame["price"].between(1700, 2300).all()

    def test_ratio_shares_sum_to_one(self) -> None:
        frame = SOURCE.fetch("ratios", Query("XRP", "okx", SEED_START, SEED_END, "5m"))
        assert set(frame["kind"]) == {"accounts", "top_accounts", "top_positions", "taker"}
        assert (frame["long_share"] + frame["short_share"]).round(9).eq(1).all()
        assert (frame["ratio"] - frame["long_share"] / frame["short_share"]).abs().max() < 1e-9

    def test_outside_the_demo_period_is_no_coverage(self) -> None:
        start = pd.Timestamp("2024-01-01", tz="UTC")
        with pytest.raises(NoCoverage, match="2025-04-24 to 2025-05-22"):
            SOURCE.fetch("candles", Query("BTC", "binance", start, start + pd.Timedelta(days=1), "1h"))

    def test_unknown_symbol_is_a_source_error(self) -> None:
        with pytest.raises(SourceError, match="no NOPE"):
            SOURCE.fetch("candles", Query("NOPE", "binance", SEED_START, SEED_END, "1h"))

    def test_a_coin_a_venue_does_not_list_is_not_covered_there(self) -> None:
        with pytest.raises(NoCoverage, match="POPCAT is not listed on OKX"):
            SOURCE.fetch("candles", Query("POPCAT", "okx", SEED_START, SEED_END, "1h"))

    def test_the_long_tail_is_priced_per_one_coin_and_the_majors_are_unchanged(self) -> None:
        pepe = SOURCE.fetch("liquidations", Query("PEPE", "binance", SEED_START, SEED_END, "5m"))
        assert pepe["price"].between(9e-6, 1.2e-5).all()
        assert (pepe["usd"] - pepe["price"] * pepe["qty"]).abs().max() < 1e-6 * pepe["usd"].max()
        tail = [i for i in demo.INSTRUMENTS if i.multiplier == 1000]
        assert {(i.exchange, i.symbol) for i in tail} >= {("binance", "1000PEPEUSDT"), ("bybit", "SHIB1000USDT")}
        assert len(demo.LONG_TAIL) == 12

    def test_the_whole_market_is_every_listed_coin(self) -> None:
        every = SOURCE.fetch("liquidations", Query(ALL_ASSETS, "okx", SEED_START, SEED_END, "5m"))
        assert set(every["asset"]) == {i.asset for i in demo.INSTRUMENTS if i.exchange == "okx"}
        with pytest.raises(SourceError, match="liquidations only"):
            SOURCE.fetch("candles", Query(ALL_ASSETS, "okx", SEED_START, SEED_END, "5m"))


class TestMarketLoad:
    """The cached read path records who answered and never raises for one bad combo."""

    def test_failed_combination_is_reported_not_raised(self) -> None:
        panel = market.load(SOURCE, "candles", ("BTC", "NOPE"), ("okx",), SEED_START, SEED_END, "1h")
        assert set(panel.frame["asset"]) == {"BTC"}
        assert panel.status.answered == ("okx",)
        assert panel.status.failed == (("OKX", "The demo market has no NOPE on okx."),)

    def test_second_load_is_served_from_cache(self) -> None:
        first = market.load(SOURCE, "funding", ("BTC",), ("okx",), SEED_START, SEED_END, "1h")
        assert market.load(SOURCE, "funding", ("BTC",), ("okx",), SEED_START, SEED_END, "1h") is first


class TestHonestDemo:
    """The demo's texture: venue shares that vary, liquidation cascades, persistent taker flow."""

    def test_venue_shares_vary_by_day_and_by_asset(self) -> None:
        eth, btc = demo.exchange_shares("ETH"), demo.exchange_shares("BTC")
        assert eth.shape == (demo.DAYS, len(demo.DEMO_EXCHANGES))
        assert eth.sum(axis=1) == pytest.approx(1.0)
        assert eth[:, 0].std() > 0.03  # Binance's share of ETH moves from day to day
        assert abs(eth - btc).max() > 0.05  # and differs between coins on the same day
        day = pd.Timestamp("2025-05-13", tz="UTC")
        liquidations = market.load(SOURCE, "liquidations", ("ETH",), EXCHANGES, day, day + pd.Timedelta(days=1), "5m")
        served = liquidations.frame.groupby("exchange")["usd"].sum()
        expected = eth[(day - demo.START).days]
        assert (served / served.sum())[list(demo.DEMO_EXCHANGES)].to_numpy() == pytest.approx(expected, rel=1e-6)

    def test_the_squeeze_liquidates_most_shorts_in_a_few_hours(self) -> None:
        liquidations = seed_day("liquidations")
        shorts = liquidations[liquidations["side"] == "short"]
        per_hour = shorts.groupby(shorts["ts"].dt.hour)["usd"].sum().sort_values(ascending=False)
        assert per_hour.head(4).sum() / per_hour.sum() > 0.5
        assert set(per_hour.head(4).index) <= set(range(12, 18))  # around the 14:53 UTC peak of the move

    def test_taker_flow_persists(self) -> None:
        ratios = SOURCE.fetch("ratios", Query("BTC", "binance", SEED_START - pd.Timedelta(days=3), SEED_START, "5m"))
        taker = ratios.loc[ratios["kind"] == "taker", "long_share"]
        assert taker.autocorr(lag=1) > 0.5
