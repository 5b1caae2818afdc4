"""Figure builders checked on the Plotly figure itself: traces, colours, point counts."""

from __future__ import annotations

import pandas as pd
import pytest

from components import charts, summary
from data_sources import market
from data_sources.demo import DEMO_EXCHANGES, DemoSource
from data_sources.intervals import MAX_POINTS, auto_interval, to_offset
from data_sources.schema import ASSETS

SOURCE = DemoSource()
START = pd.Timestamp("2025-05-08", tz="UTC")


def window(days: int) -> tuple[pd.Timestamp, pd.Timestamp, str]:
    end = START + pd.Timedelta(days=days)
    return START, end, auto_interval(START, end)


def load(dataset: str, days: int, assets: tuple[str, ...] = ASSETS) -> pd.DataFrame:
    start, end, interval = window(days)
    return market.load(SOURCE, dataset, assets, DEMO_EXCHANGES, start, end, interval).frame


def trace_points(fig) -> list[int]:
    return [len(trace.x) if trace.x is not None else len(trace.z) for trace in fig.data]


class TestLiquidationTimeline:
    def test_longs_red_shorts_green_with_price_on_second_axis(self) -> None:
        start, end, interval = window(1)
        buckets = summary.over_time(load("liquidations", 1), start, end, to_offset(interval))
        price = summary.reference_candles(load("candles", 1), "ETH")
        fig = charts.liquidation_timeline(buckets, price, "ETH price")
        longs, shorts, line = fig.data
        assert (longs.name, longs.marker.color) == ("Longs liquidated", charts.LONG_COLOR)
        assert (shorts.name, shorts.marker.color) == ("Shorts liquidated", charts.SHORT_COLOR)
        assert line.yaxis == "y2" and line.name == "ETH price"
        assert fig.layout.barmode == "stack"
        assert sum(shorts.y) == pytest.approx(summary.liquidation_totals(load("liquidations", 1)).shorts)

    @pytest.mark.parametrize("days", [1, 7, 29])
    def test_no_trace_exceeds_the_point_budget(self, days: int) -> None:
        start, end, interval = window(days)
        buckets = summary.over_time(load("liquidations", days), start, end, to_offset(interval))
        candles = summary.reference_candles(load("candles", days, ("BTC",)), "BTC")
        for fig in (
            charts.liquidation_timeline(buckets, candles, "BTC"),
            charts.candles_with_liquidations(candles, buckets, "BTC"),
            charts.ratios_over_time(load("ratios", days, ("BTC",))),
        ):
            assert max(trace_points(fig)) <= MAX_POINTS


class TestBreakdownFigures:
    def test_exchange_breakdown_labels_shares(self) -> None:
        table = summary.by_exchange(load("liquidations", 1), DEMO_EXCHANGES)
        fig = charts.exchange_breakdown(table)
        assert list(fig.data[0].y) == ["Binance", "OKX", "Bybit"]
        assert fig.data[0].marker.color == charts.LONG_COLOR
        assert fig.data[2].text[0].strip() == f"{table['share'].iloc[0] * 100:.0f}% of all"

    def test_an_uncovered_exchange_reads_not_covered_never_zero_percent(self) -> None:
        """Only OKX covers the window: Binance and Bybit get no bar and "not covered", OKX "100% of covered"."""
        frame = load("liquidations", 1)
        table = summary.by_exchange(frame[frame["exchange"] == "okx"], DEMO_EXCHANGES, covered=("okx",))
        assert table.set_index("exchange")["total"].isna().tolist() == [True, False, True]
        labels = [text.strip() for text in charts.exchange_breakdown(table).data[2].text]
        assert labels == ["not covered", "100% of covered", "not covered"]

    def test_candles_without_covered_liquidations_say_so_instead_of_zero_bars(self) -> None:
        start, end, interval = window(1)
        candles = summary.reference_candles(load("candles", 1, ("BTC",)), "BTC")
        buckets = summary.over_time(load("liquidations", 1).iloc[0:0], start, end, to_offset(interval))
        fig = charts.candles_with_liquidations(candles, buckets, "BTC", covered=False)
        assert [trace.type for trace in fig.data] == ["candlestick", "bar"]
        assert fig.layout.annotations[0].text == "Liquidations: not covered for this window"

    def test_exchange_share_of_an_asset_with_no_liquidations_reads_none(self) -> None:
        table = pd.DataFrame({"asset": ["BTC", "ETH"], "share": [0.25, float("nan")]})
        assert list(charts.exchange_share(table, "okx").data[0].text) == ["25%", "none"]

    def test_leaderboard_puts_the_best_on_top_and_colours_by_sign(self) -> None:
        moves = pd.DataFrame({"asset": ["ETH", "BTC"], "change": [0.2, -0.03]})
        bar = charts.leaderboard(moves).data[0]
        assert list(bar.y) == ["BTC", "ETH"]
        assert list(bar.marker.color) == [charts.LONG_COLOR, charts.SHORT_COLOR]

    def test_ratio_heatmap_centres_on_one(self) -> None:
        snapshot = summary.ratio_snapshot(load("ratios", 1), "accounts")
        heat = charts.ratio_heatmap(snapshot, list(ASSETS), list(DEMO_EXCHANGES)).data[0]
        assert heat.zmid == 1.0
        assert len(heat.z) == len(ASSETS) and len(heat.z[0]) == len(DEMO_EXCHANGES)

    def test_candles_figure_has_price_volume_and_liquidation_rows(self) -> None:
        start, end, interval = window(1)
        buckets = summary.over_time(load("liquidations", 1, ("ETH",)), start, end, to_offset(interval))
        candles = summary.reference_candles(load("candles", 1, ("ETH",)), "ETH")
        fig = charts.candles_with_liquidations(candles, buckets, "ETH")
        assert [t.type for t in fig.data] == ["candlestick", "bar", "bar", "bar"]
        assert [t.yaxis for t in fig.data] == ["y", "y2", "y3", "y3"]
        assert fig.data[0].increasing.line.color == charts.SHORT_COLOR
