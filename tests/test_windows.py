"""Rolling windows (`window=4h`, pinned by `until`): the end they resolve to, and the app's numbers for them."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pandas as pd
from streamlit.testing.v1 import AppTest

from components.filters import parse_window, window_end
from tests.conftest import ROOT

DATA_START = pd.Timestamp("2025-04-24", tz="UTC")
DATA_END = pd.Timestamp("2025-05-23", tz="UTC")
LIVE_NOW = pd.Timestamp("2026-11-29 22:37:41", tz="UTC")


def run_app(**params: str | list[str]) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


class TestParseWindow:
    def test_a_preset_in_any_letter_case(self) -> None:
        assert parse_window(["4H"]) == ("4h", [])

    def test_a_tampered_value_is_noted_and_ignored(self) -> None:
        window, notes = parse_window(["7x"])
        assert window is None
        assert notes == ["Ignored invalid window '7x' from the link; it is one of 1h, 4h, 12h, 24h. Showing UTC days."]


class TestWindowEnd:
    def test_live_ends_at_the_current_whole_minute(self) -> None:
        end, notes, clamp = window_end(4, None, None, pd.Timestamp("2026-11-30", tz="UTC"), LIVE_NOW)
        assert (end, notes, clamp) == (pd.Timestamp("2026-11-29 22:37", tz="UTC"), [], None)

    def test_the_demo_ends_at_its_last_minute_and_says_so(self) -> None:
        end, notes, clamp = window_end(4, None, DATA_START, DATA_END, LIVE_NOW)
        assert end == DATA_END and notes == []
        assert clamp == "The data ends 2025-05-23 00:00 UTC; the window ends there."

    def test_a_pinned_end_inside_the_data_is_kept(self) -> None:
        until = pd.Timestamp("2025-05-08 18:00", tz="UTC")
        assert window_end(4, until, DATA_START, DATA_END, LIVE_NOW) == (until, [], None)

    def test_a_pinned_end_after_the_data_is_clamped_with_a_note(self) -> None:
        end, notes, _ = window_end(4, pd.Timestamp("2025-06-01", tz="UTC"), DATA_START, DATA_END, LIVE_NOW)
        assert end == DATA_END
        assert notes == ["The link's window ends 2025-06-01 00:00 UTC, after the data; it ends at 2025-05-23 00:00."]

    def test_a_pinned_end_before_enough_data_moves_to_the_first_full_window(self) -> None:
        end, notes, _ = window_end(4, pd.Timestamp("2025-04-24 01:00", tz="UTC"), DATA_START, DATA_END, LIVE_NOW)
        assert end == pd.Timestamp("2025-04-24 04:00", tz="UTC")
        assert "before 4 h of data" in notes[0]


def test_a_24h_window_pinned_at_midnight_is_that_utc_day() -> None:
    """`window=24h&until=<next midnight>` shows exactly the numbers of the equivalent explicit range."""
    window = run_app(window="24h", until="2025-05-09T00:00Z")
    day = run_app(range="2025-05-08")
    assert metrics(window) == metrics(day)
    assert metrics(day)["Total liquidations"] == "$1.10B"
    assert window.caption[0].value.startswith("last 24 h: 2025-05-08 00:00 to 2025-05-09 00:00 (UTC)")


def test_a_4h_window_counts_only_its_hours_and_its_share_link_pins_them() -> None:
    """A 4 h window counts less than its day; its share link carries window and until and reopens the same numbers;
    picking UTC days then leaves the window."""
    at = run_app(window="4h", until="2025-05-08T18:00Z")
    values = metrics(at)
    assert values["Total liquidations"] == "$572M"  # of the day's $1.10B: the 4 h around the squeeze's peak
    link = at.code[0].value
    assert "window=4h" in link and "until=2025-05-08T18%3A00Z" in link
    again = run_app(**parse_qs(urlsplit(link).query))
    assert metrics(again) == values
    at.date_input(key="range").set_value((pd.Timestamp("2025-05-07").date(), pd.Timestamp("2025-05-08").date()))
    at.run()
    assert at.segmented_control(key="window").value is None
    assert at.caption[0].value.startswith("2025-05-07 to 2025-05-08 (UTC")


def test_tampered_window_and_until_get_notes_not_tracebacks() -> None:
    """`window=7x` shows the UTC day with a note; a bad `until` on a window is noted and the window ends at the
    demo's last minute, which the sidebar states."""
    tampered = run_app(window="7x")
    assert any("Ignored invalid window '7x'" in w.value for w in tampered.warning)
    assert tampered.caption[0].value.startswith("2025-05-08 (UTC)")
    bad_until = run_app(window="1h", until="soon")
    assert any("Ignored invalid until 'soon'" in w.value for w in bad_until.warning)
    assert bad_until.caption[0].value.startswith("last 1 h: 2025-05-22 23:00 to 2025-05-23 00:00 (UTC)")
    assert any("The data ends 2025-05-23 00:00 UTC" in c.value for c in bad_until.sidebar.caption)
