"""The compare page (`?compare=DAY&compare=DAY`): its tables, its link handling, and that it equals the single views."""

from __future__ import annotations

from datetime import date

import pandas as pd
from streamlit.testing.v1 import AppTest

from components import compare
from tests.conftest import ROOT

FIRST, LAST, DEFAULTS = date(2025, 4, 24), date(2025, 5, 22), (date(2025, 5, 7), date(2025, 5, 8))


def run(params: dict[str, str | list[str]], page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page(page).run()  # opened straight from the link, as a deep link is (url_path = file name)
    assert not at.exception, at.exception
    return at


TABLES = ("totals", "long-share", "by-exchange", "by-coin", "price-moves")  # in page order


def table(at: AppTest, name: str) -> pd.DataFrame:
    """A compare table as shown, indexed by its first column."""
    frame = at.dataframe[TABLES.index(name)].value
    return frame.set_index(frame.columns[0])


class TestParseDays:
    def test_two_days_in_the_data_are_taken_in_link_order(self) -> None:
        assert compare.parse_days(["2025-05-19", "2025-05-08"], FIRST, LAST, DEFAULTS) == (
            (date(2025, 5, 19), date(2025, 5, 8)),
            [],
        )

    def test_no_link_compares_the_defaults_silently(self) -> None:
        assert compare.parse_days([], FIRST, LAST, DEFAULTS) == (DEFAULTS, [])

    def test_tampered_and_outside_days_are_noted_and_filled(self) -> None:
        days, notes = compare.parse_days(["garbage", "2024-01-01", "2025-05-19"], FIRST, LAST, DEFAULTS)
        assert days == (date(2025, 5, 19), date(2025, 5, 7))
        assert notes == [
            "Ignored invalid compare day 'garbage' from the link; days are YYYY-MM-DD.",
            "Ignored compare day 2024-01-01 from the link: the data covers 2025-04-24 to 2025-05-22.",
            "Comparing with 2025-05-07 for the missing day.",
        ]


class TestTables:
    def test_differences_are_second_minus_first_and_relative_to_the_first(self) -> None:
        ts = pd.Timestamp("2025-05-08", tz="UTC")
        a = pd.DataFrame({"ts": [ts, ts], "side": ["long", "short"], "usd": [100.0, 300.0], "asset": ["BTC", "ETH"]})
        b = pd.DataFrame({"ts": [ts], "side": ["long"], "usd": [600.0], "asset": ["SOL"]})
        totals = compare.totals(a, b).set_index("item")
        assert totals.loc["Total liquidations", ["a", "b", "change", "change_pct"]].tolist() == [400, 600, 200, 0.5]
        assert totals.loc["Long share", ["a", "b", "change"]].tolist() == [0.25, 1.0, 0.75]
        assert pd.isna(totals.loc["Long share", "change_pct"])
        coins = compare.by_coin(a, b).set_index("item")
        assert coins.loc["SOL", ["a", "b", "change"]].tolist() == [0.0, 600.0, 600.0]
        assert pd.isna(coins.loc["SOL", "change_pct"])  # nothing to be relative to


def test_compare_equals_the_two_single_days_and_its_share_link_keeps_both() -> None:
    """Each day's totals, long share and top move on the compare page are the overview's figures for that day."""
    at = run({"compare": ["2025-05-08", "2025-05-19"]}, "app_pages/compare.py")
    totals = table(at, "totals")
    share = table(at, "long-share")
    moves = table(at, "price-moves")
    for day in ("2025-05-08", "2025-05-19"):
        single = {m.label: m for m in run({"range": day}, "app_pages/overview.py").metric}
        for figure in ("Total liquidations", "Longs liquidated", "Shorts liquidated"):
            assert totals.loc[figure, day] == single[figure].value
        short_share = int(single["Short share"].value.rstrip("%"))
        assert int(share.loc["Long share", day].rstrip("%")) in (100 - short_share - 1, 100 - short_share)
        mover = single["Top mover"]
        assert moves.loc[mover.value, day] == mover.delta
    assert totals.loc["Total liquidations", "Change"] == "-$619M"
    assert "compare=2025-05-08&compare=2025-05-19" in at.code[0].value
    assert "/compare?" in at.code[0].value


def test_a_tampered_compare_link_gets_a_note() -> None:
    at = run({"compare": ["2025-13-45", "2025-05-19"]}, "app_pages/compare.py")
    assert "Ignored invalid compare day '2025-13-45' from the link; days are YYYY-MM-DD." in [
        w.value for w in at.warning
    ]
    assert list(table(at, "totals").columns[:2]) == ["2025-05-19", "2025-05-07"]


def test_an_exchange_covered_on_one_compared_day_only_is_not_called_both_covered_and_not() -> None:
    """Two days' liquidation statuses (compare): Bybit answered on one day and not covered on the other is said
    to be uncovered in one of the windows, not listed as covered and "not covered for this window" at once."""

    def page() -> None:
        import pandas as pd

        from components import panel
        from data_sources.market import SourceStatus

        now = pd.Timestamp("2025-05-09", tz="UTC")
        day_a = SourceStatus("live", False, ("binance",), (), now, uncovered=(("Bybit", "no stream"), ("Gate", "no")))
        day_b = SourceStatus("live", False, ("binance", "bybit"), (), now, uncovered=(("Gate", "no"),))
        panel.liquidation_coverage((day_a, day_b), [])

    at = AppTest.from_function(page).run()
    assert at.caption[0].value == (
        ":material/info: Liquidation figures cover Binance, Bybit only; Gate: not covered for this window; "
        "Bybit: not covered in every window compared."
    )
