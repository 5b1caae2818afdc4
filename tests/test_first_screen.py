"""The first screen draws first: in a real browser, the overview's KPIs and price moves show while the fake
exchanges still hold every long/short ratio, open interest and funding request, and the lower panels draw once
those requests are released. Ordered by holding requests, never by timing.
"""

from __future__ import annotations

import time

import pytest

from tests.fake_exchanges import FAKED, FakeExchanges, venue_urls
from tests.servers import streamlit_server
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

sync_api = pytest.importorskip("playwright.sync_api")

LOWER_PANELS = (  # every venue's ratio, open interest and funding paths (not the all-symbol tickers that rank coins)
    "/futures/data/",
    "/fapi/v1/fundingRate",
    "/api/v5/rubik/",
    "/api/v5/public/funding-rate-history",
    "/v5/market/account-ratio",
    "/v5/market/open-interest",
    "/v5/market/funding/history",
)


def held_requests(fake: FakeExchanges) -> int:
    return sum(len(fake.calls(prefix)) for prefix in LOWER_PANELS)


def test_the_overview_draws_its_first_screen_while_the_ratios_are_held(fake: FakeExchanges, tmp_path) -> None:
    fake.reset()
    released = fake.hold(*LOWER_PANELS)
    env = {"LIQSCOPE_DATA": "live", "LIQSCOPE_DB": str(tmp_path / "none.db"), **venue_urls(fake.url)}
    venues = "".join(f"&exchanges={venue}" for venue in FAKED)
    with streamlit_server(env) as base, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/?range={fake.market.seed_day:%Y-%m-%d}&interval=1h&top=3{venues}")
            page.get_by_text("Total liquidations").first.wait_for(timeout=30_000)
            page.locator(".st-key-overview_moves .js-plotly-plot g.trace").first.wait_for(timeout=30_000)
            deadline = time.monotonic() + 20
            while held_requests(fake) == 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert held_requests(fake) > 0, "the lower panels' requests never reached the exchanges"
            page.get_by_text("Loading long/short ratios ...").wait_for(timeout=10_000)
            assert page.locator(".st-key-overview_ratios").count() == 0, "the ratio snapshot drew before its data"
            assert page.get_by_text("Key takeaways").is_visible()

            released.set()
            page.locator(".st-key-overview_ratios .js-plotly-plot g.hm").first.wait_for(timeout=30_000)
            page.get_by_text("Loading long/short ratios").first.wait_for(state="detached", timeout=10_000)
            page.get_by_text("Open interest and funding").first.wait_for(timeout=10_000)
            assert page.get_by_text("Loading open interest ...").count() == 0
        finally:
            released.set()  # before the server stops: its script may still wait for a held request
            fake.reset()
            browser.close()
