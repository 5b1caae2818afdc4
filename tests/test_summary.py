"""Summary aggregations on small hand-made frames whose answers are known."""

from __future__ import annotations

import pandas as pd
import pytest

from components import summary
from data_sources.schema import conform

T0 = pd.Timestamp("2025-05-08 00:00", tz="UTC")


def liquidations(rows: list[tuple[str, str, str, float, float]]) -> pd.DataFrame:
    """Rows of (minute offset, exchange, asset, side, usd) at price 100."""
    frame = pd.DataFrame(rows, columns=["minute", "exchange", "asset", "side", "usd"])
    frame["ts"] = T0 + pd.to_timedelta(frame["minute"], unit="min")
    frame["price"] = 100.0
    frame["qty"] = frame["usd"] / 100.0
    return conform("liquidations", frame)


SAMPLE = liquidations(
    [
        (0, "binance", "BTC", "short", 600.0),
        (1, "okx", "BTC", "short", 200.0),
        (7, "bybit", "ETH", "long", 150.0),
        (12, "binance", "ETH", "long", 50.0),
    ]
)


class TestTotals:
    def test_sides_and_short_share(self) -> None:
        totals = summary.liquidation_totals(SAMPLE)
        assert (totals.longs, totals.shorts, totals.total) == (200.0, 800.0, 1000.0)
        assert totals.short_share == 0.8

    def test_empty_frame_has_no_short_share(self) -> None:
        totals = summary.liquidation_totals(SAMPLE.iloc[0:0])
        assert totals.total == 0 and pd.isna(totals.short_share)


class TestBreakdowns:
    def test_by_exchange_keeps_every_exchange_and_sums_shares_to_one(self) -> None:
        table = summary.by_exchange(SAMPLE, ("binance", "okx", "bybit")).set_index("exchange")
        assert table.loc["binance", ["long", "short", "total"]].tolist() == [50.0, 600.0, 650.0]
        assert table["share"].sum() == pytest.approx(1.0)
        assert table.loc["okx", "short_share"] == 1.0

    def test_by_exchange_lists_an_exchange_with_nothing(self) -> None:
        table = summary.by_exchange(SAMPLE[SAMPLE["exchange"] == "okx"], ("binance", "okx"))
        assert table["exchange"].tolist() == ["binance", "okx"]
        assert table["total"].tolist() == [0.0, 200.0]

    def test_by_asset_largest_first(self) -> None:
        assert summary.by_asset(SAMPLE, ("ETH", "BTC"))["asset"].tolist() == ["BTC", "ETH"]

    def test_over_time_fills_every_bucket(self) -> None:
        buckets = summary.over_time(SAMPLE, T0, T0 + pd.Timedelta(minutes=20), pd.Timedelta(minutes=5))
        assert len(buckets) == 4
        assert buckets["short"].tolist() == [800.0, 0.0, 0.0, 0.0]
        assert buckets["long"].tolist() == [0.0, 150.0, 50.0, 0.0]

    def test_largest(self) -> None:
        assert summary.largest(SAMPLE, 2)["usd"].tolist() == [600.0, 200.0]


class TestPriceMoves:
    def test_reference_exchange_is_binance_first(self) -> None:
        candles = pd.DataFrame(
            {
                "ts": [T0, T0 + pd.Timedelta(hours=1)] * 2,
                "exchange": ["okx", "okx", "binance", "binance"],
                "asset": "ETH",
                "open": [1000.0, 1050.0, 2000.0, 2100.0],
                "high": [1100.0, 1100.0, 2200.0, 2300.0],
                "low": [990.0, 1000.0, 1900.0, 2000.0],
                "close": [1050.0, 1080.0, 2100.0, 2400.0],
                "volume": 1.0,
                "quote_volume": 1.0,
            }
        )
        move = summary.price_moves(conform("candles", candles)).iloc[0]
        assert move["exchange"] == "binance"
        assert move["change"] == pytest.approx(0.2)
        assert move["high"] == 2300.0


class TestFormatting:
    @pytest.mark.parametrize(
        ("value", "text"),
        [
            (965e6, "$965M"),
            (1.2345e9, "$1.23B"),
            (48_200, "$48.2K"),
            (310, "$310"),
            (-2.5e6, "-$2.50M"),
            (999_950, "$1.00M"),  # not "$1000K": the unit follows the rounded value
            (999_950_000, "$1.00B"),
            (999.6, "$1.00K"),
            (99_950, "$100K"),  # not "$100.0K": three significant digits
            (9_995_000, "$10.0M"),
        ],
    )
    def test_usd(self, value: float, text: str) -> None:
        assert summary.usd(value) == text

    def test_pct(self) -> None:
        assert summary.pct(0.204, signed=True) == "+20.4%"
        assert summary.pct(0.84) == "84%"


class TestTakeaways:
    def test_report_names_the_dominant_side_and_top_exchanges(self) -> None:
        moves = pd.DataFrame(
            [
                {
                    "asset": "ETH",
                    "exchange": "binance",
                    "open": 1810.0,
                    "close": 2179.0,
                    "high": 0,
                    "low": 0,
                    "change": 0.204,
                }
            ]
        )
        lines = summary.takeaways(moves, SAMPLE, SAMPLE.iloc[0:0].assign(kind=[]), ("binance", "okx", "bybit"))
        assert lines[0].startswith("ETH led with +20.4% ($1,810 to $2,179)")
        assert lines[1] == "$800 of shorts were liquidated, 80% of the $1.00K total."
        assert lines[2] == "Binance and OKX took $800 of the short liquidations (100%)."
        assert "Largest single liquidation: $600 BTC short on Binance at 2025-05-08 00:00 UTC." in lines


def test_takeaways_without_per_order_prices_skip_the_largest_line() -> None:
    """Aggregated buckets (Coinalyze) have no price: totals still report, the largest-order line is left out."""
    buckets = SAMPLE.assign(price=float("nan"), qty=float("nan"))
    lines = summary.takeaways(pd.DataFrame(), buckets, SAMPLE.iloc[0:0].assign(kind=[]), ("binance", "okx", "bybit"))
    assert lines[0] == "$800 of shorts were liquidated, 80% of the $1.00K total."
    assert not any(line.startswith("Largest single liquidation") for line in lines)


def moves_of(changes: dict[str, float]) -> pd.DataFrame:
    """`price_moves` of one-hour candles that go from 100 to 100 x (1 + change) per asset."""
    rows = [
        {"ts": T0 + pd.Timedelta(hours=h), "exchange": "binance", "asset": asset, "open": o, "close": c}
        for asset, change in changes.items()
        for h, (o, c) in enumerate([(100.0, 100.0), (100.0, 100.0 * (1 + change))])
    ]
    frame = pd.DataFrame(rows).assign(high=lambda f: f[["open", "close"]].max(axis=1), low=lambda f: f["open"] * 0.5)
    return summary.price_moves(conform("candles", frame.assign(volume=1.0, quote_volume=1.0)))


NO_RATIOS = SAMPLE.iloc[0:0].assign(kind=[])


class TestMovers:
    def test_top_mover_is_the_largest_absolute_move_signed(self) -> None:
        """A 12% fall outranks a 3% rise (the first row of the best-first table is not the top mover)."""
        mover = summary.top_mover(moves_of({"BTC": 0.03, "ETH": -0.12, "SOL": 0.01}))
        assert (mover.asset, summary.pct(mover.change, signed=True)) == ("ETH", "-12.0%")

    def test_on_a_day_when_everything_fell_the_headline_is_the_largest_fall(self) -> None:
        lines = summary.takeaways(moves_of({"BTC": -0.02, "ETH": -0.10, "SOL": -0.05}), SAMPLE, NO_RATIOS, ())
        assert lines[0] == "ETH fell most with -10.0% ($100.00 to $90.00); then SOL -5.0%, BTC -2.0%."
        assert summary.top_mover(moves_of({"BTC": -0.02, "ETH": -0.10})).asset == "ETH"
        assert not any("fell least" in line for line in lines)

    def test_takeaways_name_the_biggest_gainer_and_the_biggest_loser(self) -> None:
        moves = moves_of({"BTC": 0.03, "ETH": -0.12, "SOL": 0.01, "XRP": -0.04})
        lines = summary.takeaways(moves, SAMPLE, NO_RATIOS, ())
        assert lines[0] == "ETH fell most with -12.0% ($100.00 to $88.00); then XRP -4.0%."
        assert lines[1] == "BTC led with +3.0% ($100.00 to $103.00); then SOL +1.0%."

    def test_no_move_is_said_plainly(self) -> None:
        assert summary.move_lines(moves_of({"BTC": 0.0})) == ["No asset moved: BTC closed where they opened."]
        assert summary.top_mover(pd.DataFrame(columns=["asset", "change"])) is None


def test_by_coin_keeps_the_top_and_sums_the_rest_as_others() -> None:
    """Five coins, top 3: the three largest, then one Others row with the other two's long and short USD."""
    rows = [
        (coin, side, usd) for coin, usd in zip("ABCDE", (50, 40, 30, 20, 10), strict=True) for side in ("long", "short")
    ]
    frame = pd.DataFrame(rows, columns=["asset", "side", "usd"])
    table = summary.by_coin(frame, top=3)
    assert table["asset"].tolist() == ["A", "B", "C", "Others (2 coins)"]
    assert table.iloc[-1][["long", "short", "total"]].tolist() == [30, 30, 60]
    assert table["share"].sum() == pytest.approx(1.0)
    assert summary.by_coin(frame, top=5)["asset"].tolist() == list("ABCDE")


def test_tiny_prices_keep_four_significant_digits() -> None:
    assert summary.price(0.0000112345) == "$0.00001123"
    assert summary.price(0.1971) == "$0.1971"


class TestPositioning:
    """Open-interest change and funding annualised by each series' own period."""

    @staticmethod
    def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
        ts = pd.to_datetime(["2025-05-08 00:00", "2025-05-08 08:00", "2025-05-08 16:00"], utc=True)
        open_interest = pd.DataFrame({"ts": ts, "exchange": "binance", "asset": "BTC", "usd": [4.0e9, 4.2e9, 4.4e9]})
        funding = pd.concat(
            [
                pd.DataFrame({"ts": ts, "exchange": "binance", "asset": "BTC", "rate": [0.0001, 0.0002, 0.0001]}),
                pd.DataFrame({"ts": ts[:1], "exchange": "hyperliquid", "asset": "BTC", "rate": [0.0000125]}),
            ]
        )
        return open_interest, funding

    def test_open_interest_change_and_annualised_funding(self) -> None:
        table = summary.positioning(*self.frames()).set_index("exchange")
        assert table.loc["binance", "oi_change"] == pytest.approx(0.4e9)
        assert table.loc["binance", "oi_change_pct"] == pytest.approx(0.1)
        assert table.loc["binance", "funding_hours"] == 8
        assert table.loc["binance", "funding_annualised"] == pytest.approx(0.0001 * 1095)  # 8-hourly: x1,095
        assert table.loc["hyperliquid", "funding_hours"] == 1  # one funding: the venue's hourly period
        assert table.loc["hyperliquid", "funding_annualised"] == pytest.approx(0.0000125 * 8760)
        assert pd.isna(table.loc["hyperliquid", "oi_change"])
        assert summary.open_interest_totals(table.reset_index()) == pytest.approx((0.4e9, 0.1))

    def test_nothing_in_gives_an_empty_table(self) -> None:
        open_interest, funding = self.frames()
        assert summary.positioning(open_interest.iloc[0:0], funding.iloc[0:0]).empty
