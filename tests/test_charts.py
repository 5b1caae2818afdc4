"""Figure builders checked on the Plotly figure itself: traces, colours, point counts."""

from __future__ import annotations

import re
from itertools import combinations

import pandas as pd
import pytest

from components import charts, summary
from data_sources import market
from data_sources.demo import DEMO_EXCHANGES, UNIVERSE, DemoSource
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
        """The neutral colour sits at exactly 1 on a scale spanning the data (Plotly's zmid would mirror the
        range around 1, below 0 for ratios above 2)."""
        snapshot = summary.ratio_snapshot(load("ratios", 1), "accounts")
        heat = charts.ratio_heatmap(snapshot, list(ASSETS), list(DEMO_EXCHANGES)).data[0]
        assert (heat.zmin, heat.zmax) == pytest.approx((min(1, snapshot["last"].min()), snapshot["last"].max()))
        mid = next(stop for stop, color in heat.colorscale if color == charts.RATIO_MID_COLOR)
        assert heat.zmin + mid * (heat.zmax - heat.zmin) == pytest.approx(1.0)
        assert len(heat.z) == len(ASSETS) and len(heat.z[0]) == len(DEMO_EXCHANGES)

    def test_candles_figure_has_price_volume_and_liquidation_rows(self) -> None:
        start, end, interval = window(1)
        buckets = summary.over_time(load("liquidations", 1, ("ETH",)), start, end, to_offset(interval))
        candles = summary.reference_candles(load("candles", 1, ("ETH",)), "ETH")
        fig = charts.candles_with_liquidations(candles, buckets, "ETH")
        assert [t.type for t in fig.data] == ["candlestick", "bar", "bar", "bar"]
        assert [t.yaxis for t in fig.data] == ["y", "y2", "y3", "y3"]
        assert fig.data[0].increasing.line.color == charts.SHORT_COLOR


class TestReadability:
    """Round compact axis ticks, compact USD hovers, a clamped colour scale, distinct asset colours, venue names."""

    @pytest.mark.parametrize(
        ("low", "high", "labels"),
        [
            (0, 3.32e6, ["$0", "$1M", "$2M", "$3M", "$4M"]),
            (0, 812e3, ["$0", "$200K", "$400K", "$600K", "$800K", "$1M"]),
            (2.9e9, 4.4e9, ["$2.5B", "$3B", "$3.5B", "$4B", "$4.5B"]),
            (0, 0, ["$0"]),
        ],
    )
    def test_usd_ticks_are_round_and_compact(self, low: float, high: float, labels: list[str]) -> None:
        assert charts.usd_ticks(low, high)[1] == labels

    def test_usd_axes_and_hovers_are_compact_on_every_liquidation_figure(self) -> None:
        start, end, interval = window(1)
        frame = load("liquidations", 1)
        buckets = summary.over_time(frame, start, end, to_offset(interval))
        candles = summary.reference_candles(load("candles", 1, ("ETH",)), "ETH")
        figures = {
            "xaxis": [charts.exchange_breakdown(summary.by_exchange(frame, DEMO_EXCHANGES))],
            "yaxis": [
                charts.asset_breakdown(summary.by_asset(frame, ASSETS)),
                charts.liquidation_timeline(buckets, candles, "ETH price"),
            ],
            "yaxis3": [charts.candles_with_liquidations(candles, buckets, "ETH")],
        }
        for axis, figs in figures.items():
            for fig in figs:
                labels = fig.layout[axis].ticktext
                assert labels and all(re.fullmatch(r"\$\d{1,3}(\.\d)?[KMB]?", label) for label in labels), labels
                bars = [t for t in fig.data if t.type == "bar" and t.customdata is not None]
                assert bars and all(re.fullmatch(r"\$[\d.,]+[KMB]?", str(c)) for t in bars for c in t.customdata)

    def test_price_axes_fit_the_coin(self) -> None:
        pepe = summary.reference_candles(load("candles", 1, ("PEPE",)), "PEPE")
        btc = summary.reference_candles(load("candles", 1, ("BTC",)), "BTC")
        empty = summary.over_time(load("liquidations", 1).iloc[0:0], *window(1)[:2], pd.Timedelta(hours=1))
        assert charts.candles_with_liquidations(pepe, empty, "PEPE").layout.yaxis.tickformat == ".3~g"
        assert charts.candles_with_liquidations(btc, empty, "BTC").layout.yaxis.tickformat == ",.0f"

    @pytest.mark.parametrize(
        ("values", "zmin", "zmax", "mid"),
        [
            ([0.5, 3.0], 0.5, 3.0, 0.2),
            ([1.2, 1.5], 1.0, 1.5, 0.0),
            ([0.0, 0.8], 0.0, 1.0, 1.0),
            ([1.0], 0.95, 1.05, 0.5),
        ],
    )
    def test_ratio_colour_range_spans_the_data_from_zero_up_and_centres_on_one(
        self, values: list[float], zmin: float, zmax: float, mid: float
    ) -> None:
        low, high, scale = charts.ratio_color_range([*values, float("nan")])
        assert (low, high) == pytest.approx((zmin, zmax))
        stops = {color: stop for stop, color in scale}
        assert stops[charts.RATIO_MID_COLOR] == pytest.approx(mid)
        assert low >= 0

    def test_twenty_distinct_asset_colours_clear_of_long_and_short(self) -> None:
        palette = charts.ASSET_PALETTE
        rgb = [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in palette]
        assert len(palette) == 20 and len({c.lower() for c in palette}) == 20
        assert not {c.lower() for c in palette} & {charts.LONG_COLOR.lower(), charts.SHORT_COLOR.lower()}
        closest = min(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5 for a, b in combinations(rgb, 2))
        assert closest > 45
        colors = charts.asset_colors(UNIVERSE)
        assert len(set(colors.values())) == len(UNIVERSE) == 19
        assert colors["BTC"] == charts.asset_colors(["PEPE", "BTC"])["BTC"]  # the majors keep their colour

    def test_ratio_lines_per_asset_get_distinct_colours_and_venues_their_names(self) -> None:
        tail = ("PEPE", "WIF", "SUI", "BONK")
        by_asset = charts.ratios_over_time(load("ratios", 1, (*ASSETS, *tail)), ("accounts",), color_by="asset")
        colors = [t.line.color for t in by_asset.data]
        assert None not in colors and len(set(colors)) == len(ASSETS) + len(tail)
        by_venue = charts.ratios_over_time(load("ratios", 1, ("BTC",)), ("accounts",))
        assert [t.name for t in by_venue.data] == ["Binance", "OKX", "Bybit"]
        oi = charts.open_interest_and_funding(load("open_interest", 1, ("BTC",)), load("funding", 1, ("BTC",)))
        assert {t.name for t in oi.data} == {"Binance", "OKX", "Bybit"}
        assert all(re.fullmatch(r"\$\d", label[:2]) for label in oi.layout.yaxis.ticktext)
