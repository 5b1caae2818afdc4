"""Filter normalization and interval choice, as pure functions."""

from __future__ import annotations

from datetime import date

import pandas as pd

from components.filters import normalize_range, resolve_selection
from data_sources.intervals import MAX_POINTS, auto_interval, fit_interval, points

FIRST, LAST, DEFAULT = date(2025, 4, 24), date(2025, 5, 22), date(2025, 5, 8)


class TestRange:
    def test_reversed_range_is_sorted(self) -> None:
        assert normalize_range((date(2025, 5, 9), date(2025, 5, 7)), DEFAULT, FIRST, LAST)[:2] == (
            date(2025, 5, 7),
            date(2025, 5, 9),
        )

    def test_one_date_means_that_day(self) -> None:
        assert normalize_range((date(2025, 5, 9),), DEFAULT, FIRST, LAST)[:2] == (date(2025, 5, 9), date(2025, 5, 9))

    def test_nothing_means_the_default_day(self) -> None:
        assert normalize_range((), DEFAULT, FIRST, LAST)[:2] == (DEFAULT, DEFAULT)

    def test_outside_the_data_is_clipped_with_a_note(self) -> None:
        lo, hi, notes = normalize_range((date(2025, 4, 1), date(2025, 6, 1)), DEFAULT, FIRST, LAST)
        assert (lo, hi) == (FIRST, LAST)
        assert len(notes) == 2 and "clipped" in notes[0]

    def test_entirely_outside_falls_back_to_the_default(self) -> None:
        assert normalize_range((date(2020, 1, 1),), DEFAULT, FIRST, LAST)[:2] == (DEFAULT, DEFAULT)


class TestSelection:
    def test_empty_means_all_in_option_order(self) -> None:
        assert resolve_selection([], ("BTC", "ETH")) == ("BTC", "ETH")
        assert resolve_selection(["ETH", "BTC"], ("BTC", "ETH", "SOL")) == ("BTC", "ETH")


class TestIntervals:
    def test_auto_keeps_the_window_readable(self) -> None:
        day = pd.Timestamp("2025-05-08", tz="UTC")
        assert auto_interval(day, day + pd.Timedelta(days=1)) == "5m"
        assert auto_interval(day, day + pd.Timedelta(days=7)) == "30m"
        assert auto_interval(day, day + pd.Timedelta(days=30)) == "2h"

    def test_override_is_coarsened_past_the_point_budget(self) -> None:
        day = pd.Timestamp("2025-05-08", tz="UTC")
        assert fit_interval("1m", day, day + pd.Timedelta(days=1)) == "1m"
        coarse = fit_interval("1m", day, day + pd.Timedelta(days=30))
        assert points(coarse, day, day + pd.Timedelta(days=30)) <= MAX_POINTS
        assert coarse == "30m"
