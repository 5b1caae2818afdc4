"""The app as a user drives it, in-process with AppTest, starting from app.py."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from components.panel import app_root
from tests.conftest import ROOT

PAGES = ("app_pages/overview.py", "app_pages/asset.py", "app_pages/exchange.py")
FILTER_SETS = [
    {},
    {"range": ["2025-05-07", "2025-05-09"], "assets": ["ETH", "SOL"]},
    {"range": ["2025-04-24", "2025-05-22"], "exchanges": ["okx"], "interval": "1m"},
    {"range": ["2025-05-19"], "assets": ["BTC"], "exchanges": ["bybit", "binance"]},
]


def run_app(params: dict[str, str | list[str]] | None = None, page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    if page:
        at.switch_page(page)  # opened straight from the link, as a deep link is (url_path = file name)
    return at.run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning]


def ignored(at: AppTest) -> list[str]:
    return [w for w in warnings(at) if "Ignored" in w]


@pytest.mark.parametrize("params", FILTER_SETS)
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_for_several_filter_sets(page: str, params: dict) -> None:
    """No exception on any page, and the demo label is on every page."""
    at = run_app(params, page)
    assert not at.exception, at.exception
    assert any("Demo data (simulated)" in info.value for info in at.info)
    assert at.get("plotly_chart"), "every page draws charts"


def test_overview_tells_the_seed_day_story_by_default() -> None:
    """Opening the demo shows 2025-05-08 for the whole market (the majors' $965M plus the long tail) and takeaways."""
    at = run_app()
    values = metrics(at)
    assert values["Total liquidations"] == "$1.10B"
    assert values["Shorts liquidated"] == "$924M"
    assert values["Short share"] == "84%"
    assert values["Top mover"] == "ETH"
    takeaways = at.markdown[0].value
    assert "ETH led with +20.4%" in takeaways
    assert "Binance and OKX took" in takeaways
    assert at.caption[0].value.startswith("2025-05-08 (UTC)")


def test_seeded_query_params_reproduce_the_view() -> None:
    """The URL's filters are what the page shows, and the same URL gives the same numbers."""
    params = {"range": ["2025-05-09", "2025-05-07"], "assets": ["ETH"], "exchanges": ["okx"]}
    first, second = run_app(params), run_app(params)
    assert first.multiselect(key="assets").value == ["ETH"]
    assert first.multiselect(key="exchanges").value == ["okx"]
    assert first.caption[0].value.startswith("2025-05-07 to 2025-05-09 (UTC) · 1 asset · 1 exchange")
    assert metrics(first) == metrics(second)
    assert metrics(first)["Top mover"] == "ETH"


def test_tampered_params_give_notes_not_tracebacks() -> None:
    """Garbage dates, script tags and unknown values fall back with a visible note."""
    at = run_app({"range": "garbage", "assets": ["<script>", "ETH"], "exchanges": "ftx", "interval": "7m"})
    assert not at.exception
    notes = warnings(at)
    assert "Ignored unknown asset '<script>' from the link." in notes
    assert "Ignored unknown exchange 'ftx' from the link." in notes
    assert "Ignored invalid date 'garbage' from the link; dates are YYYY-MM-DD." in notes
    assert "Ignored unknown interval '7m' from the link." in notes
    assert metrics(at)["Top mover"] == "ETH"


def test_page_local_value_outside_the_selection_is_opened_and_said() -> None:
    at = run_app({"assets": ["BTC"], "asset": "DOGE"}, "app_pages/asset.py")
    assert not at.exception
    assert "DOGE from the link is not among the selected assets; it is shown anyway." in [i.value for i in at.info]
    assert at.title[0].value == "DOGE perpetuals"
    at = run_app({"exchanges": ["bybit"], "exchange": "okx"}, "app_pages/exchange.py")
    assert at.title[0].value == "OKX liquidations and positioning"


def test_page_local_value_that_names_nothing_is_said_so() -> None:
    at = run_app({"assets": ["BTC"], "asset": "NOTACOIN"}, "app_pages/asset.py")
    assert "Ignored asset 'NOTACOIN' from the link: not a coin the selected exchanges list." in warnings(at)
    assert at.title[0].value == "BTC perpetuals"
    at = run_app({"exchange": "ftx"}, "app_pages/exchange.py")
    assert "Ignored exchange 'ftx' from the link: not an exchange liqscope reads." in warnings(at)


def test_link_ids_match_in_any_letter_case() -> None:
    at = run_app({"asset": "eth"}, "app_pages/asset.py")
    assert not at.exception and not ignored(at)
    assert at.title[0].value == "ETH perpetuals"
    at = run_app({"exchange": "OKX"}, "app_pages/exchange.py")
    assert not ignored(at)
    assert at.title[0].value == "OKX liquidations and positioning"
    at = run_app({"assets": ["sol"], "exchanges": ["BYBIT"]})
    assert not ignored(at)
    assert at.session_state["assets"] == ["SOL"] and at.session_state["exchanges"] == ["bybit"]


def test_more_than_two_range_dates_give_a_note() -> None:
    at = run_app({"range": ["2025-05-07", "2025-05-09", "2025-05-11"]})
    assert (
        "The link gives 3 dates for the range (a first and a last day); showing 2025-05-07 to 2025-05-11."
        in warnings(at)
    )
    assert at.caption[0].value.startswith("2025-05-07 to 2025-05-11 (UTC)")


def test_too_fine_an_interval_is_coarsened_with_a_note() -> None:
    at = run_app({"range": ["2025-04-24", "2025-05-22"], "interval": "1m"})
    assert "1m bars would draw 41,760 points; using 30m." in warnings(at)


def test_share_link_makes_every_filter_explicit() -> None:
    """The share link has absolute dates, the selected assets, all exchanges, top and the page-local choice."""
    at = run_app({"asset": "ETH", "assets": ["ETH", "BNB"]}, "app_pages/asset.py")
    link = at.code[0].value
    assert link.startswith("http://localhost:8501/asset?range=2025-05-08&range=2025-05-08")
    for part in ("assets=ETH", "assets=BNB", "exchanges=OKX", "interval=auto", "top=10", "asset=ETH"):
        assert part in link


def test_share_link_reopens_the_same_numbers() -> None:
    """Parsing the share link back into query params gives the same KPIs."""
    from urllib.parse import parse_qs, urlsplit

    original = run_app({"range": ["2025-05-10", "2025-05-12"], "exchanges": ["bybit"]})
    query = parse_qs(urlsplit(original.code[0].value).query)
    reopened = run_app(query)
    assert metrics(reopened) == metrics(original)


def test_asset_page_largest_liquidations_table() -> None:
    at = run_app({"asset": "ETH"}, "app_pages/asset.py")
    table = at.dataframe[0].value
    assert len(table) == 20
    assert table["USD"].is_monotonic_decreasing


def test_exchange_page_share_of_all_exchanges() -> None:
    """The demo simulates three of the six venues: the share is of those, and the label says so."""
    at = run_app({"exchange": "okx"}, "app_pages/exchange.py")
    assert at.title[0].value == "OKX liquidations and positioning"
    assert metrics(at)["Share of covered exchanges"] == "32%"


def test_invalid_data_mode_falls_back_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIQSCOPE_DATA", "bogus")
    at = run_app()
    assert not at.exception
    assert "LIQSCOPE_DATA='bogus' is not one of live, demo, store, auto; using demo." in warnings(at)


@pytest.mark.parametrize(
    ("browser_url", "page_path", "base_url_path", "root"),
    [
        ("http://host:8501/asset", "asset", "", "http://host:8501"),
        ("http://host:8501/asset/", "asset", "", "http://host:8501"),
        ("http://host:8501", "", "", "http://host:8501"),
        ("http://host:8501/", "", "", "http://host:8501"),
        ("https://host/liq/exchange", "exchange", "liq", "https://host/liq"),
        ("https://host/liq/", "", "/liq/", "https://host/liq"),
        ("https://host/proxy/asset", "asset", "", "https://host/proxy"),
        ("https://host/dataset", "", "", "https://host/dataset"),
        (None, "asset", "", "http://localhost:8501"),
    ],
)
def test_share_root_holds_the_page_path_once(
    browser_url: str | None, page_path: str, base_url_path: str, root: str
) -> None:
    """st.context.url already ends in the page; the root drops it (and any trailing slash), keeps the base path."""
    assert app_root(browser_url, page_path, base_url_path) == root


def test_on_a_day_when_every_asset_fell_the_top_mover_is_the_largest_fall() -> None:
    """2025-05-19 (demo long squeeze): every asset fell; DOGE fell most, BTC least."""
    at = run_app({"range": "2025-05-19"})
    mover = next(m for m in at.metric if m.label == "Top mover")
    assert (mover.value, mover.delta) == ("DOGE", "-8.0%")
    takeaways = at.markdown[0].value
    assert takeaways.startswith("- DOGE fell most with -8.0% ($0.1914 to $0.1761)")
    assert "fell least" not in takeaways


def _coverage_block() -> None:
    """A page's coverage block for two liquidation panels that share their notes, with stream sentences."""
    import pandas as pd

    from components import panel
    from data_sources.market import SourceStatus

    okx_only = SourceStatus(
        source="live",
        simulated=False,
        answered=("okx",),
        failed=(),
        fetched_at=pd.Timestamp.now(tz="UTC"),
        uncovered=(("Binance", "Binance liquidations were not recorded in this window."),),
        notes=("OKX: REST recent orders (about the last 24 h) where not recorded",),
    )
    panel.liquidation_coverage(
        (okx_only, okx_only),
        [
            "Bybit: live, last event 3 s ago",
            "OKX: recorder silent for 14 min",
            "Binance: not recording: subscription refused (Invalid request: unknown stream)",
        ],
    )


def test_stream_freshness_and_coverage_are_stated_once() -> None:
    """Each stream sentence, coverage note and uncovered reason appears once, even from two panels."""
    at = AppTest.from_function(_coverage_block).run()
    texts = [c.value for c in at.caption]
    assert texts == [
        ":material/info: Liquidation figures cover OKX only; Binance: not covered for this window.",
        ":material/sensors: Bybit: live, last event 3 s ago",
        ":material/sensors: OKX: recorder silent for 14 min",
        ":material/sensors: Binance: not recording: subscription refused (Invalid request: unknown stream)",
        ":material/fact_check: OKX: REST recent orders (about the last 24 h) where not recorded",
        ":material/block: Not covered: Binance liquidations were not recorded in this window.",
    ]


@pytest.mark.parametrize(
    ("asked", "note"),
    [
        ("1999-01-01", "The link asks for 1999-01-01, before the data (data covers 2025-04-24 to 2025-05-22); "),
        ("2031-06-01", "The link asks for 2031-06-01, after the data (data covers 2025-04-24 to 2025-05-22); "),
    ],
)
def test_a_range_outside_the_data_says_what_is_shown_instead(asked: str, note: str) -> None:
    """The date widget silently drops an out-of-bounds link date; the page names the day it shows."""
    at = run_app({"range": asked})
    assert f"{note}showing 2025-05-08 instead." in warnings(at)
    assert at.caption[0].value.startswith("2025-05-08 (UTC)")


def test_a_range_reaching_past_the_data_shows_the_overlap() -> None:
    at = run_app({"range": ["2025-04-01", "2025-04-30"]})
    assert any(w.endswith("showing 2025-04-24 to 2025-04-30.") for w in warnings(at))
    assert at.caption[0].value.startswith("2025-04-24 to 2025-04-30 (UTC)")


def test_largest_liquidations_keep_a_minimum_size_from_the_link() -> None:
    """`min_usd=1000000` filters the table, selects the preset and goes into the share link."""
    at = run_app({"asset": "ETH", "min_usd": "1000000"}, "app_pages/asset.py")
    table = at.dataframe[0].value
    assert not table.empty and (table["USD"] >= 1_000_000).all()
    assert set(table["Exchange"]) <= {"Binance", "OKX", "Bybit"}
    assert at.button_group(key="asset_min_usd").value == 1_000_000
    assert "min_usd=1000000" in at.code[0].value


@pytest.mark.parametrize("page", ["app_pages/overview.py", "app_pages/exchange.py"])
def test_open_interest_change_and_annualised_funding(page: str) -> None:
    """The overview and the exchange page show the open-interest change and annualised funding, and say how."""
    at = run_app({}, page)
    values = metrics(at)
    assert values["Open interest change"].startswith(("+$", "-$"))
    assert values["Funding, annualised (median)"].endswith("%")
    assert any("x1,095" in caption.value for caption in at.caption)
    assert not at.exception
