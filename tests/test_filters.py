"""Filter normalization and interval choice, as pure functions."""

from __future__ import annotations

from datetime import date

import pandas as pd

from components.filters import fit_link_range, normalize_range, resolve_selection
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


class TestLinkRange:
    """A link's range outside the data is shown as something else, and the note names what."""

    def test_inside_the_data_is_left_to_the_widget(self) -> None:
        assert fit_link_range(["2025-05-07", "2025-05-09"], FIRST, LAST, DEFAULT) == (None, [])
        assert fit_link_range([], FIRST, LAST, DEFAULT) == (None, [])

    def test_before_the_earliest_day_shows_the_default_day_and_says_so(self) -> None:
        shown, notes = fit_link_range(["1999-01-01"], FIRST, LAST, DEFAULT)
        assert shown == (DEFAULT, DEFAULT)
        assert notes == [
            "The link asks for 1999-01-01, before the data (data covers 2025-04-24 to 2025-05-22); "
            "showing 2025-05-08 instead."
        ]

    def test_in_the_future_of_a_live_source_says_after(self) -> None:
        today = date(2026, 11, 29)
        shown, notes = fit_link_range(["2030-01-01"], None, today, today)
        assert shown == (today, today)
        assert notes == [
            "The link asks for 2030-01-01, after the data (the latest data is from 2026-11-29); "
            "showing 2026-11-29 instead."
        ]

    def test_overlapping_is_cut_to_the_overlap(self) -> None:
        shown, notes = fit_link_range(["2025-05-01", "2025-04-01", "junk"], FIRST, LAST, DEFAULT)
        assert shown == (FIRST, date(2025, 5, 1))
        assert notes[0].endswith("showing 2025-04-24 to 2025-05-01.")


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
