"""What only a real browser shows: cold-start deep links and the URL following the filters.

Runs `streamlit run app.py` on a free loopback port and drives Debian's
/usr/bin/chromium with Playwright. The server is started fresh for this module,
so the first visit is a true cold start.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_exchanges import FakeExchanges
from tests.servers import streamlit_server

CHROMIUM = Path(os.environ.get("LIQSCOPE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium.")
    pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The demo app, started fresh for this module (so the first visit is a true cold start)."""
    with streamlit_server({"LIQSCOPE_DATA": "demo"}) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture()
def page(browser: object, no_internet: None) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context.new_page()
    context.close()


def href(page: object) -> str:
    return page.evaluate("location.href")


def wait_for_url(page: object, *parts: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        url = href(page)
        if all(part in url for part in parts):
            return url
        time.sleep(0.2)
    raise AssertionError(f"URL {href(page)!r} never contained {parts}")


def test_cold_start_deep_link_to_the_asset_page(server: str, page: object) -> None:
    """The first visit after start, straight to /asset, runs inside the frame with the link's filters."""
    page.goto(f"{server}/asset?assets=ETH&exchanges=OKX&range=2025-05-07&range=2025-05-09")
    page.get_by_role("heading", name="ETH perpetuals").wait_for(timeout=60_000)
    sidebar = page.get_by_test_id("stSidebar")
    assert sidebar.get_by_text("Filters").is_visible()
    assert sidebar.get_by_test_id("stMultiSelect").first.inner_text().find("ETH") >= 0
    assert page.get_by_text("2025-05-07 to 2025-05-09 (UTC)").first.is_visible()
    assert page.get_by_text("answered: OKX").first.is_visible()
    assert "OKX" in sidebar.get_by_test_id("stMultiSelect").nth(1).inner_text()  # the venue's name, not its id
    url = href(page)
    assert "/asset?" in url and "assets=ETH" in url and "exchanges=OKX" in url  # as the picker (and a share) writes


def test_changing_a_filter_updates_the_url(server: str, page: object) -> None:
    """A preset click rewrites `range` in the address bar; a page switch keeps the filters."""
    page.goto(f"{server}/?assets=BTC")
    page.get_by_text("Total liquidations").first.wait_for(timeout=60_000)
    page.get_by_role("button", name="7 d").click()
    wait_for_url(page, "range=2025-05-16", "range=2025-05-22", "assets=BTC")
    page.get_by_text("2025-05-16 to 2025-05-22 (UTC)").first.wait_for(timeout=20_000)
    page.get_by_role("link", name="Exchange").click()
    page.get_by_role("heading", name="Binance liquidations and positioning").wait_for(timeout=30_000)
    wait_for_url(page, "/exchange", "range=2025-05-16", "assets=BTC")


def test_tampered_link_shows_a_note(server: str, page: object) -> None:
    page.goto(f"{server}/?range=garbage&assets=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
    page.get_by_text("Ignored invalid date 'garbage'").wait_for(timeout=60_000)
    assert page.get_by_text("Ignored unknown asset '<img src=x onerror=alert(1)>'").is_visible()
    assert page.locator("img[src='x']").count() == 0


def test_html_in_an_upstream_answer_is_shown_as_text(browser: object, fake: FakeExchanges, tmp_path) -> None:
    """An exchange error message carrying markup is displayed literally, never rendered."""
    fake.reset()
    payload = '{"code":-1130,"msg":"<img src=x onerror=alert(1)> bad symbol"}'
    for prefix in ("/fapi/", "/futures/"):
        fake.fail(prefix, status=400, body=payload, times=10_000)
    env = {
        "LIQSCOPE_DATA": "live",
        "LIQSCOPE_DB": str(tmp_path / "none.db"),
        **{f"LIQSCOPE_{name}_URL": fake.url for name in ("BINANCE", "OKX", "BYBIT")},
    }
    with streamlit_server(env) as base:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(f"{base}/?range={fake.market.seed_day:%Y-%m-%d}&interval=4h&assets=BTC")
        page.get_by_text("<img src=x onerror=alert(1)> bad symbol").first.wait_for(timeout=60_000)
        assert page.locator("img[src='x']").count() == 0
        context.close()
    fake.reset()


SHARED_FILTERS = "range=2025-05-10&range=2025-05-12&assets=ETH&assets=SOL&exchanges=okx&exchanges=bybit&interval=1h"
SHARE_PAGES = [
    ("", "", "Market overview"),
    ("asset", "&asset=SOL", "SOL perpetuals"),
    ("exchange", "&exchange=bybit", "Bybit liquidations and positioning"),
]


def share_link_of(page: object) -> str:
    """The link in the sidebar's 'Share this view' popover."""
    page.get_by_text("Share this view").click()
    code = page.get_by_test_id("stPopoverBody").get_by_test_id("stCode")
    code.wait_for(timeout=20_000)
    return code.inner_text().strip()


def drawn_charts(page: object, at_least: int, timeout: float = 60) -> int:
    """How many Plotly charts have drawn traces, once at least `at_least` have."""
    deadline = time.monotonic() + timeout
    drawn = 0
    while time.monotonic() < deadline:
        drawn = page.locator(".js-plotly-plot").filter(has=page.locator("g.trace, g.hm")).count()
        if drawn >= at_least:
            return drawn
        time.sleep(0.3)
    raise AssertionError(f"only {drawn} charts drawn, expected {at_least}")


def metric_values(page: object) -> list[str]:
    return [value.inner_text() for value in page.get_by_test_id("stMetricValue").all()]


def assert_same_view(page: object, heading: str) -> None:
    """The page shows the shared filters: heading, window caption, sidebar selections, drawn charts."""
    page.get_by_role("heading", name=heading).wait_for(timeout=60_000)
    page.get_by_text("2025-05-10 to 2025-05-12 (UTC)").first.wait_for(timeout=30_000)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_test_id("stMultiSelect").nth(1).wait_for(timeout=30_000)
    assets, exchanges = (box.inner_text() for box in sidebar.get_by_test_id("stMultiSelect").all()[:2])
    assert "ETH" in assets and "SOL" in assets and "BTC" not in assets
    assert "OKX" in exchanges and "Bybit" in exchanges and "Binance" not in exchanges
    assert sidebar.get_by_test_id("stSelectbox").last.locator("input").input_value() == "1h"
    drawn_charts(page, 3)


@pytest.mark.parametrize(("path", "extra", "heading"), SHARE_PAGES, ids=["overview", "asset", "exchange"])
def test_share_link_reopens_the_same_page_in_a_new_browser_page(
    server: str, browser: object, path: str, extra: str, heading: str
) -> None:
    """The shared link names the page once, and a fresh browser page opened on it shows the same view."""
    first = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = first.new_page()
    page.goto(f"{server}/{path}?{SHARED_FILTERS}{extra}")
    assert_same_view(page, heading)
    link = share_link_of(page)
    assert link.startswith(f"{server}/{path}?range=2025-05-10&range=2025-05-12"), link
    numbers = metric_values(page)
    second = browser.new_context(viewport={"width": 1400, "height": 1000})
    reopened = second.new_page()
    reopened.goto(link)
    assert_same_view(reopened, heading)
    assert href(reopened).startswith(f"{server}/{path}?")
    assert metric_values(reopened) == numbers
    first.close()
    second.close()


def test_share_link_under_a_base_url_path_with_a_trailing_slash(browser: object) -> None:
    """Under server.baseUrlPath, opened as /liq/asset/ (trailing slash): the link is /liq/asset?... and works."""
    with streamlit_server({"LIQSCOPE_DATA": "demo"}, base_url_path="liq") as base:
        assert base.endswith("/liq")
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(f"{base}/asset/?{SHARED_FILTERS}&asset=SOL")
        assert_same_view(page, "SOL perpetuals")
        link = share_link_of(page)
        assert link.startswith(f"{base}/asset?range=2025-05-10"), link
        page.goto(f"{base}/?{SHARED_FILTERS}")
        assert_same_view(page, "Market overview")
        assert share_link_of(page).startswith(f"{base}/?range=2025-05-10")
        reopened = context.new_page()
        reopened.goto(link)
        assert_same_view(reopened, "SOL perpetuals")
        context.close()


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("range=1900-01-01&range=2999-12-31", ("range=2025-04-24", "range=2025-05-22")),
        ("range=2025-05-07&range=2025-05-09&range=2025-05-11", ("range=2025-05-07", "range=2025-05-11")),
        ("range=2025-05-09&range=garbage&range=2025-05-07", ("range=2025-05-07", "range=2025-05-09")),
    ],
)
@pytest.mark.xfail(
    strict=True,
    reason="open: the bound date widget drops a corrected link range from the URL on its first run "
    "(Streamlit seeds it from the original query string), so the URL does not yet follow the shown range",
)
def test_a_corrected_range_is_the_range_in_the_url(server: str, page: object, query: str, shown: tuple) -> None:
    """A link's range the app clipped or corrected is replaced in the address bar by the range shown."""
    page.goto(f"{server}/?{query}")
    page.get_by_text("the link").first.wait_for(timeout=30_000)
    url = wait_for_url(page, *shown, timeout=8)  # the run that wrote the note writes the URL: seconds, not 20
    assert url.count("range=") == len(shown), url


def test_a_rolling_window_preset_and_its_share_link(server: str, browser: object, page: object) -> None:
    """The 4h preset puts `window=4h` in the address bar and ends at the demo's last minute; its share link pins
    `until`, and a fresh page opened on it shows the same window and numbers."""
    page.goto(f"{server}/?assets=BTC")
    page.get_by_text("Total liquidations").first.wait_for(timeout=60_000)
    page.get_by_test_id("stSidebar").get_by_text("4h", exact=True).click()
    wait_for_url(page, "window=4h", "assets=BTC")
    page.get_by_text("last 4 h: 2025-05-22 20:00 to 2025-05-23 00:00 (UTC)").first.wait_for(timeout=30_000)
    link = share_link_of(page)
    assert "window=4h" in link and "until=2025-05-23T00%3A00Z" in link, link
    numbers = metric_values(page)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    reopened = context.new_page()
    reopened.goto(link)
    reopened.get_by_text("last 4 h: 2025-05-22 20:00 to 2025-05-23 00:00 (UTC)").first.wait_for(timeout=60_000)
    drawn_charts(reopened, 3)
    assert metric_values(reopened) == numbers
    context.close()


def test_compare_share_link_reopens_both_days(server: str, browser: object, page: object) -> None:
    """The compare page's share link carries both days and reopens the same tables."""
    page.goto(f"{server}/compare?compare=2025-05-08&compare=2025-05-19")
    page.get_by_role("heading", name="Compare two days").wait_for(timeout=60_000)
    page.get_by_text("2025-05-08 vs 2025-05-19 (UTC days)").first.wait_for(timeout=60_000)
    link = share_link_of(page)
    assert link.startswith(f"{server}/compare?") and "compare=2025-05-08&compare=2025-05-19" in link, link
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    reopened = context.new_page()
    reopened.goto(link)
    reopened.get_by_text("2025-05-08 vs 2025-05-19 (UTC days)").first.wait_for(timeout=60_000)
    assert href(reopened).startswith(f"{server}/compare?")
    context.close()
