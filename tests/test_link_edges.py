"""Edges a shared link or a quiet market can reach: an `until` that freezes nothing, and moves that print as 0.0%."""

from __future__ import annotations

import pandas as pd
from streamlit.testing.v1 import AppTest

from components import summary
from components.filters import freezing_until
from tests.conftest import ROOT
from tests.test_windows import run_app

DAY = pd.Timestamp("2025-05-08", tz="UTC")
NEXT = DAY + pd.Timedelta(days=1)


def moves(changes: dict[str, float]) -> pd.DataFrame:
    """Price moves (summary.price_moves' shape) opening at $100."""
    rows = [(a, "binance", 100.0, 100.0 * (1 + c), c) for a, c in changes.items()]
    return pd.DataFrame(rows, columns=["asset", "exchange", "open", "close", "change"])


class TestFlatMoves:
    def test_a_move_that_prints_as_minus_zero_is_not_a_loser(self) -> None:
        lines = summary.move_lines(moves({"ETH": 0.2, "ADA": -0.0003}))
        assert lines == ["ETH led with +20.0% ($100.00 to $120.00)."]
        assert not any("-0.0%" in line for line in lines)

    def test_a_real_small_fall_is_still_a_loser(self) -> None:
        lines = summary.move_lines(moves({"ETH": 0.2, "ADA": -0.0006}))
        assert lines[1] == "ADA fell most with -0.1% ($100.00 to $99.94)."

    def test_only_flat_moves_are_said_to_close_near_their_open(self) -> None:
        assert summary.move_lines(moves({"BTC": 0.0004, "ETH": -0.0001})) == [
            "No asset moved: BTC and ETH closed within 0.05% of where they opened."
        ]


class TestFreezingUntil:
    def test_inside_the_days_it_freezes_the_view(self) -> None:
        until = DAY + pd.Timedelta(hours=18)
        assert freezing_until(until, DAY, NEXT) == (until, [])

    def test_after_the_last_day_it_freezes_nothing_and_is_noted(self) -> None:
        until, notes = freezing_until(pd.Timestamp("2030-01-01", tz="UTC"), DAY, NEXT)
        assert until is None
        assert notes == [
            "Ignored until 2030-01-01 00:00 UTC from the link: it is after the range ends "
            "(2025-05-08 to 2025-05-09 00:00 UTC)."
        ]

    def test_before_the_first_day_it_is_noted_not_an_empty_view(self) -> None:
        until, notes = freezing_until(pd.Timestamp("2020-01-01", tz="UTC"), DAY, NEXT)
        assert until is None and "before the range starts" in notes[0]


def test_a_link_until_after_its_days_shows_the_whole_day_and_leaves_the_link() -> None:
    """`range=2025-05-08&until=2030-01-01T00:00Z` (demo): the day's own numbers, a note instead of
    'data until 2030', no frozen caption, and `until` gone from the address bar; a malformed `until` goes too."""

    plain = run_app(range="2025-05-08")
    late = run_app(range="2025-05-08", until="2030-01-01T00:00Z")
    assert {m.label: m.value for m in late.metric} == {m.label: m.value for m in plain.metric}
    assert any("Ignored until 2030-01-01 00:00 UTC" in w.value for w in late.warning)
    assert not any("2030" in c.value for c in late.caption)
    assert not any("Frozen by a shared link" in c.value for c in late.sidebar.caption)
    assert "until" not in late.query_params
    garbage = run_app(range="2025-05-08", until="soon")
    assert "until" not in garbage.query_params


def test_an_ignored_min_usd_is_noted_and_leaves_the_link() -> None:
    """Asset page, `min_usd=-5` (demo): the note says why it is ignored and the address bar drops it."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["range"] = "2025-05-08"
    at.run()
    at.query_params["min_usd"] = "-5"
    at.switch_page("app_pages/asset.py").run()
    assert not at.exception, at.exception
    assert any("Ignored minimum size '-5' from the link" in c.value for c in at.caption)
    assert "min_usd" not in at.query_params


def test_a_preset_longer_than_the_data_shows_all_of_it() -> None:
    """Demo (29 days, 2025-04-24 to 2025-05-22): "30 d" shows the 29 days, not the default day."""
    at = run_app(range=["2025-05-07", "2025-05-09"])
    next(b for b in at.sidebar.button if b.label == "30 d").click().run()
    assert not at.exception, at.exception
    assert at.caption[0].value.startswith("2025-04-24 to 2025-05-22 (UTC)"), at.caption[0].value


def test_the_price_line_and_ratio_kind_are_in_the_share_link_and_reopen() -> None:
    """Overview (demo): a link's `price` and `ratio` (its label, as the control writes it) choose the price line
    and the ratio kind, and the share link carries both."""
    at = run_app(range="2025-05-08", price="SOL", ratio="Top traders (positions)")
    assert at.selectbox(key="price").value == "SOL"
    assert next(b for b in at.get("button_group") if b.key == "ratio").value == "top_positions"
    link = at.code[0].value
    assert "price=SOL" in link and "ratio=Top+traders+%28positions%29" in link, link
