"""The largest-liquidations table: minimum size, venue names, coloured side, compact USD, coin precision."""

from __future__ import annotations

import pandas as pd
import pytest

from components import charts, liquidation_table
from components.liquidation_table import EXCHANGE, PRICE, QTY, SIDE, USD
from data_sources.schema import conform

ROWS = conform(
    "liquidations",
    pd.DataFrame(
        {
            "ts": pd.to_datetime(["2025-05-08 14:01", "2025-05-08 14:02", "2025-05-08 14:03", "2025-05-08 14:04"]),
            "exchange": ["okx", "binance", "bybit", "okx"],
            "asset": ["BTC", "BTC", "BTC", "BTC"],
            "side": ["short", "long", "short", "long"],
            "price": [101_171.3, 99_000.0, 100_500.0, float("nan")],  # the NaN price: an aggregated bucket
            "qty": [32.774708, 3.0, 0.0123456, 50.0],
            "usd": [3_315_860.34, 297_000.0, 1_240.7, 5_000_000.0],
        }
    ),
)


class TestQuantity:
    @pytest.mark.parametrize(
        ("value", "text"),
        [(809.5897, "809.6"), (32.774708, "32.77"), (0.0123456, "0.01235"), (1234.5, "1,234"), (105_300_000, "105.3M")],
    )
    def test_four_significant_digits_compact_from_a_million(self, value: float, text: str) -> None:
        assert liquidation_table.quantity(value) == text


class TestLargest:
    def test_minimum_size_filters_and_the_largest_come_first(self) -> None:
        shown = liquidation_table.largest(ROWS, min_usd=250_000)
        assert shown[USD].tolist() == [3_315_860.34, 297_000.0]  # the bucket without a price is not an order
        assert shown[EXCHANGE].tolist() == ["OKX", "Binance"]
        assert shown[SIDE].tolist() == ["Short", "Long"]
        assert liquidation_table.largest(ROWS, min_usd=10_000_000).empty

    def test_display_is_compact_and_the_side_coloured(self) -> None:
        html = liquidation_table.styled(liquidation_table.largest(ROWS)).to_html()
        for text in ("$3.32M", "$297K", "$1.24K", "$101,171", "32.77", "0.01235", "2025-05-08 14:01:00"):
            assert text in html, text
        assert f"color: {charts.LONG_COLOR}" in html and f"color: {charts.SHORT_COLOR}" in html
        numbers = liquidation_table.largest(ROWS)[[PRICE, QTY, USD]]
        assert all(str(dtype) == "float64" for dtype in numbers.dtypes)  # still sorts by value

    def test_the_feed_is_newest_first(self) -> None:
        assert liquidation_table.newest(ROWS)[USD].tolist() == [5_000_000.0, 1_240.7, 297_000.0, 3_315_860.34]


class TestMinUsdLink:
    @pytest.mark.parametrize(
        ("values", "expected", "noted"),
        [([], 0, False), (["1000000"], 1_000_000, False), (["2.5e5"], 250_000, False), (["lots"], 0, True),
         (["-5"], 0, True), (["inf"], 0, True)],
    )  # fmt: skip
    def test_parse(self, values: list[str], expected: int, noted: bool) -> None:
        value, notes = liquidation_table.parse_min_usd(values)
        assert value == expected and bool(notes) == noted

    def test_labels(self) -> None:
        assert [liquidation_table.min_usd_label(v) for v in liquidation_table.MIN_USD_PRESETS] == [
            "Any size",
            "≥ $100K",
            "≥ $250K",
            "≥ $1M",
            "≥ $5M",
        ]
