"""The app in live and auto mode, with every base URL on the loopback fake exchanges."""

from __future__ import annotations

import re
import socket
import time

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from data_sources import registry
from data_sources.store import SqliteStore, StreamHealth
from tests.conftest import ROOT
from tests.fake_exchanges import FakeExchanges


def run_live(fake: FakeExchanges, page: str | None = None, **params: object) -> AppTest:
    """`page` (the overview by default) opened straight from a link with `params`, as a deep link opens it: one run
    (each page's `url_path` is its file name, so AppTest finds it before the first run)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["range"] = [fake.market.seed_day.strftime("%Y-%m-%d")]
    for key, value in params.items():
        at.query_params[key] = value
    if page:
        at.switch_page(page)
    return at.run()


@pytest.fixture()
def live(exchanges: FakeExchanges, monkeypatch: pytest.MonkeyPatch) -> FakeExchanges:
    monkeypatch.setenv("LIQSCOPE_DATA", "live")
    return exchanges


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


@pytest.mark.parametrize("page", ["app_pages/asset.py", "app_pages/exchange.py"])
def test_pages_render_live_data(live: FakeExchanges, page: str) -> None:
    """The asset and exchange pages on live data (the overview: the next test)."""
    at = run_live(live, page, interval="1h")
    assert not at.exception, at.exception
    assert not any("Demo data" in info.value for info in at.info)
    expected = "Binance" if page.endswith("exchange.py") else "Binance, OKX, Bybit"
    assert any(c.startswith(f"Live exchange APIs · answered: {expected}") for c in captions(at))


def test_overview_prices_match_the_exchanges_coverage_is_explicit_and_a_warm_rerun_asks_nothing(
    live: FakeExchanges,
) -> None:
    """One cold live overview: every venue answered, prices as the exchanges give them, liquidation coverage
    stated; then the same view again makes no upstream request."""
    at = run_live(live, interval="1h")
    assert not at.exception, at.exception
    assert not any("Demo data" in info.value for info in at.info)
    assert any(c.startswith("Live exchange APIs · answered: Binance, OKX, Bybit") for c in captions(at))
    metrics = {m.label: m for m in at.metric}
    assert metrics["Top mover"].value == "ETH" and metrics["Top mover"].delta == "+20.4%"
    assert metrics["Total liquidations"].value == "n/a"
    notes = " ".join(captions(at))
    assert "Binance liquidations were not recorded in this window" in notes
    assert "Run `python -m data_sources.recorder` beside the app" in notes
    assert "OKX's public liquidation endpoint keeps about the last day only" in notes
    assert "until=" not in at.code[0].value  # a past window's share link needs no freeze
    sent = len(live.calls())
    at.run()
    assert sent > 0 and len(live.calls()) == sent


def test_a_geo_blocked_exchange_dims_its_panels_and_the_rest_renders(live: FakeExchanges) -> None:
    live.fail("/fapi/", status=451, body='{"code":0,"msg":"Service unavailable from a restricted location"}', times=999)
    live.fail("/futures/", status=451, body='{"code":0,"msg":"restricted"}', times=999)
    at = run_live(live, interval="1h")
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert any(
        w.startswith(
            "Binance: Binance refuses requests from this server's location (HTTP 451). Set LIQSCOPE_BINANCE_URL"
        )
        for w in warnings
    )
    assert any(c.startswith("Live exchange APIs · answered: OKX, Bybit") for c in captions(at))
    assert {m.label: m.value for m in at.metric}["Top mover"] == "ETH"


def test_auto_falls_back_to_the_demo_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    for name in ("BINANCE", "OKX", "BYBIT"):
        monkeypatch.setenv(f"LIQSCOPE_{name}_URL", dead)
    monkeypatch.setenv("LIQSCOPE_DATA", "auto")
    registry.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
    banner = next(w.value for w in at.warning if w.value.startswith("No exchange answered"))
    assert "Could not reach Binance" in banner and "LIQSCOPE_OKX_URL" in banner
    assert any("Demo data (simulated)" in info.value for info in at.info)
    assert {m.label: m.value for m in at.metric}["Total liquidations"] == "$1.10B"  # the demo's whole market by default


def test_auto_uses_live_data_when_an_exchange_answers(
    exchanges: FakeExchanges, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIQSCOPE_DATA", "auto")
    at = run_live(exchanges, interval="1h")
    assert not any("Demo data" in info.value for info in at.info)


def test_settings_come_from_secrets_when_the_environment_is_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIQSCOPE_DATA", raising=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.secrets["LIQSCOPE_DATA"] = "sideways"
    at.run()
    assert "LIQSCOPE_DATA='sideways' is not one of live, demo, store, auto; using demo." in [
        w.value for w in at.warning
    ]


def test_partial_liquidation_coverage_is_stated_under_the_kpis(live: FakeExchanges) -> None:
    today = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d")
    at = run_live(live, range=[today], interval="1h")
    assert {m.label: m.value for m in at.metric}["Total liquidations"] != "n/a"
    assert any(
        c.endswith(
            "Liquidation figures cover OKX only; Binance, Bybit, Bitget, Hyperliquid: not covered for this window."
        )
        for c in captions(at)
    )


@pytest.mark.parametrize(
    ("page", "params"), [("app_pages/asset.py", {"asset": "ETH"}), ("app_pages/exchange.py", {"exchange": "bybit"})]
)
def test_uncovered_liquidations_read_n_a_not_zero(live: FakeExchanges, page: str, params: dict) -> None:
    at = run_live(live, page, interval="1h", **params)
    values = {m.label: m.value for m in at.metric}
    assert values["Total liquidations"] == values["Shorts liquidated"] == "n/a"


def test_share_link_freezes_an_open_window_and_reopening_it_keeps_the_numbers(live: FakeExchanges) -> None:
    """A shared link for today carries `until`; reopened later, it shows the data up to then, not more."""
    from urllib.parse import parse_qs, urlsplit

    today = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d")
    at = run_live(live, range=[today], interval="1h", exchanges=["okx"])
    query = parse_qs(urlsplit(at.code[0].value).query)
    assert query["until"] == [pd.Timestamp.now(tz="UTC").floor("min").strftime("%Y-%m-%dT%H:%MZ")]
    now = pd.Timestamp.now(tz="UTC")  # an earlier minute of today at any hour (3 h ago is yesterday before 03:00)
    if now - now.floor("D") < pd.Timedelta(minutes=2):  # today has no earlier whole minute yet
        time.sleep((now.floor("D") + pd.Timedelta(minutes=2) - now).total_seconds())
        now = pd.Timestamp.now(tz="UTC")
    earlier = (now.floor("D") + (now - now.floor("D")) / 2).floor("min").strftime("%Y-%m-%dT%H:%MZ")
    frozen = run_live(live, **{**query, "until": [earlier]})
    assert frozen.caption[0].value.startswith(f"{today} (UTC, data until ")
    latest = {m.label: m.value for m in at.metric}["Total liquidations"]
    assert {m.label: m.value for m in frozen.metric}["Total liquidations"] != latest
    release = next(b for b in frozen.button if b.label == "Show the latest data")
    release.click().run()
    assert "until" not in frozen.query_params
    assert {m.label: m.value for m in frozen.metric}["Total liquidations"] == latest


def test_a_bad_until_is_noted(live: FakeExchanges) -> None:
    """(A past window needing no freeze: the overview test above.)"""
    noted = run_live(live, interval="1h", until="yesterday-ish")
    assert "Ignored invalid until 'yesterday-ish' from the link; it is YYYY-MM-DDTHH:MMZ." in [
        w.value for w in noted.warning
    ]


def figure(at: AppTest, key: str) -> dict:
    """The Plotly figure a chart with `key` drew."""
    import json

    return json.loads(next(chart.proto.spec for chart in at.get("plotly_chart") if chart.proto.id.endswith(key)))


def test_uncovered_exchanges_read_not_covered_next_to_a_covered_one(live: FakeExchanges) -> None:
    """Today only OKX's REST covers liquidations: Binance and Bybit (and the unreachable new venues) are
    "not covered", never "0% of all"."""
    today = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d")
    at = run_live(live, range=[today], interval="1h")
    labels = [t.strip() for t in figure(at, "overview_exchanges")["data"][2]["text"]]
    assert labels == ["not covered", "100% of covered", "not covered", "not covered", "not covered", "not covered"]
    notes = captions(at)
    assert sum("Binance liquidations were not recorded in this window" in c for c in notes) == 1


def test_exchange_page_opens_on_an_exchange_with_coverage(live: FakeExchanges) -> None:
    """Binance is first in the list but not covered today; the page opens on OKX, whose share is not '100%'."""
    today = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d")
    at = run_live(live, "app_pages/exchange.py", range=[today], interval="1h")
    assert at.title[0].value == "OKX liquidations and positioning"
    values = {m.label: m.value for m in at.metric}
    assert values["Total liquidations"] != "n/a"
    assert values["Share of all exchanges"] == "n/a"
    assert (
        "No share to compute: no other exchange's liquidations cover this window (Binance, Bybit, Gate, Bitget, "
        "Hyperliquid)." in [i.value for i in at.info]
    )
    notes = captions(at)
    assert sum("Binance liquidations were not recorded in this window" in c for c in notes) == 1
    assert sum(c.startswith(":material/fact_check: OKX: REST recent orders") for c in notes) == 1


def test_exchange_page_says_plainly_when_no_exchange_is_covered(live: FakeExchanges) -> None:
    at = run_live(live, "app_pages/exchange.py", interval="1h")
    assert not at.exception
    assert any(i.value.startswith("No selected exchange's liquidations cover this window") for i in at.info)
    assert {m.label: m.value for m in at.metric}["Total liquidations"] == "n/a"


def test_no_covered_exchange_draws_no_zero_liquidation_bars(live: FakeExchanges) -> None:
    """With only Binance and Bybit selected on a past day, the timeline says so instead of drawing $0 bars."""
    at = run_live(live, interval="1h", exchanges=["binance", "bybit"])
    assert not any(chart.proto.id.endswith("overview_timeline") for chart in at.get("plotly_chart"))
    assert "No exchange's liquidations cover this window." in [i.value for i in at.info]


def test_every_page_says_how_fresh_each_recorded_stream_is(
    live: FakeExchanges, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """Stream health written through the real store reaches the pages: live, silent recorder, refusal."""
    db = tmp_path / "liqscope.db"
    now_ms = int(pd.Timestamp.now(tz="UTC").timestamp() * 1000)
    store = SqliteStore(db)
    store.record_health(
        [
            StreamHealth("bybit", "recording", "", now_ms - 3_000, now_ms - 1_000, now_ms),
            StreamHealth("okx", "recording", "", now_ms - 900_000, now_ms - 840_000, now_ms - 840_000),
            StreamHealth("binance", "refused", "Invalid request", None, now_ms - 2_000, now_ms),
        ]
    )
    store.close()
    monkeypatch.setenv("LIQSCOPE_DB", str(db))
    for page in ("app_pages/overview.py", "app_pages/asset.py", "app_pages/exchange.py"):
        shown = " ".join(captions(run_live(live, page, interval="1h")))
        assert re.search(r"Bybit: live, last event \d+ s ago", shown), page
        assert "OKX: recorder silent for 14 min" in shown, page
        if not page.endswith("exchange.py"):
            assert "Binance: not recording: subscription refused (Invalid request)" in shown, page


def test_a_rolling_window_ends_now_live_and_its_link_pins_that_minute(live: FakeExchanges) -> None:
    """Live, `window=4h` ends at the current whole minute (crossing midnight when it must: the data layer reads
    both days), counts OKX's recent liquidations, and its share link pins that end."""
    from urllib.parse import parse_qs, urlsplit

    before = pd.Timestamp.now(tz="UTC").floor("min")
    at = run_live(live, window="4h", exchanges=["okx"])
    ends = {before, pd.Timestamp.now(tz="UTC").floor("min")}  # the minute may turn during the run
    query = parse_qs(urlsplit(at.code[0].value).query)
    assert query["window"] == ["4h"] and query["until"][0] in {f"{end:%Y-%m-%dT%H:%MZ}" for end in ends}
    end = pd.Timestamp(query["until"][0])
    assert at.caption[0].value.startswith(f"last 4 h: {end - pd.Timedelta(hours=4):%Y-%m-%d %H:%M} to ")
    assert {m.label: m.value for m in at.metric}["Total liquidations"] != "n/a"
