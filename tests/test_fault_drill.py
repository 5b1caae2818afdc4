"""Fault drill: every source x every fault, through the whole page; tampered links; secrets; HTML."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from data_sources import market
from tests.conftest import ROOT
from tests.fake_exchanges import FakeExchanges

NAMES = {"binance": "Binance", "okx": "OKX", "bybit": "Bybit"}
PREFIXES = {"binance": ("/fapi/", "/futures/"), "okx": ("/api/v5/",), "bybit": ("/v5/",)}
HTML = "<html><body>403 ERROR. The request could not be satisfied.</body></html>"
ENVELOPE = {
    "binance": (400, '{"code":-1121,"msg":"Invalid symbol."}', "does not list this symbol"),
    "okx": (200, '{"code":"50011","msg":"Too Many Requests"}', "50011"),
    "bybit": (200, '{"retCode":10006,"retMsg":"Too many visits!","result":{}}', "10006"),
}
EMPTY = {"binance": "[]", "okx": '{"code":"0","msg":"","data":[]}', "bybit": '{"retCode":0,"result":{"list":[]}}'}
FAULTS = {
    "429": ({"status": 429, "body": "{}", "headers": {"Retry-After": "0"}}, "429"),
    "418": ({"status": 418, "body": "{}"}, "banned this IP"),
    "451": ({"status": 451, "body": '{"code":0,"msg":"restricted location"}'}, "location (HTTP 451)"),
    "403-html": ({"status": 403, "body": HTML, "content_type": "text/html"}, "HTTP 403"),
    "500": ({"status": 500, "body": "oops"}, "500"),
    "timeout": ({"status": 200, "body": "[]", "delay": 1.2}, "did not answer within"),
    "truncated": ({"status": 200, "body": '{"code":"0","data":[["1', "truncate": True}, "truncated"),
    "malformed": ({"status": 200, "body": "{not json"}, "malformed"),
}


def live_app(fake: FakeExchanges, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("LIQSCOPE_DATA", "live")
    monkeypatch.setenv("LIQSCOPE_HTTP_TIMEOUT", "0.4")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params.update({"range": [f"{fake.market.seed_day:%Y-%m-%d}"], "interval": "4h", "assets": ["BTC", "ETH"]})
    return at


def break_exchange(fake: FakeExchanges, exchange: str, **fault: object) -> None:
    for prefix in PREFIXES[exchange]:
        fake.fail(prefix, times=10_000, **fault)


def candle_caption(at: AppTest) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Live exchange APIs · answered:"))


@pytest.mark.parametrize("fault", [*FAULTS, "envelope"])
@pytest.mark.parametrize("exchange", list(NAMES))
def test_a_failing_source_dims_its_panel_and_the_rest_renders(
    exchanges: FakeExchanges, monkeypatch: pytest.MonkeyPatch, exchange: str, fault: str
) -> None:
    if fault == "envelope":
        status, body, expected = ENVELOPE[exchange]
        break_exchange(exchanges, exchange, status=status, body=body)
    else:
        spec, expected = FAULTS[fault]
        break_exchange(exchanges, exchange, **spec)
    at = live_app(exchanges, monkeypatch).run()
    assert not at.exception, at.exception
    warnings = [w.value for w in at.warning if w.value.startswith(f"{NAMES[exchange]}:")]
    assert warnings and any(expected in w for w in warnings), warnings
    others = [name for key, name in NAMES.items() if key != exchange]
    assert all(name in candle_caption(at) for name in others)
    assert NAMES[exchange] not in candle_caption(at).split("answered:")[1].split("·")[0]
    assert {m.label: m.value for m in at.metric}["Top mover"] == "ETH"


@pytest.mark.parametrize("exchange", list(NAMES))
def test_empty_answers_render_without_a_failure(exchanges: FakeExchanges, monkeypatch, exchange: str) -> None:
    break_exchange(exchanges, exchange, status=200, body=EMPTY[exchange])
    at = live_app(exchanges, monkeypatch).run()
    assert not at.exception
    assert not [w for w in at.warning if w.value.startswith(f"{NAMES[exchange]}:")]


@pytest.mark.parametrize("exchange", list(NAMES))
def test_a_source_failing_after_a_refresh_serves_its_last_data_with_its_age(
    exchanges: FakeExchanges, monkeypatch: pytest.MonkeyPatch, exchange: str
) -> None:
    at = live_app(exchanges, monkeypatch).run()
    before = {m.label: m.value for m in at.metric}
    market.refresh()
    break_exchange(exchanges, exchange, status=500, body="down")
    at.run()
    assert not at.exception
    stale = [w.value for w in at.warning if w.value.startswith(f"{NAMES[exchange]}: showing data as of")]
    assert stale and "refresh failed" in stale[0]
    assert {m.label: m.value for m in at.metric} == before
    assert NAMES[exchange] in candle_caption(at)


PARAM_KEYS = st.sampled_from(["range", "assets", "exchanges", "interval", "asset", "exchange", "page", "x"])
PARAM_VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "<script>alert(1)</script>",
            "2025-13-45",
            "2025-05-08",
            "ETH",
            "okx",
            "1m",
            "9999-01-01",
            "<img src=x onerror=alert(1)>",
            "'; DROP TABLE liquidations; --",
            "\u202e\u0000",
            "auto",
        ]
    ),
)


@pytest.mark.parametrize("page", ["app_pages/overview.py", "app_pages/asset.py", "app_pages/exchange.py"])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(PARAM_KEYS, st.lists(PARAM_VALUES, min_size=1, max_size=3), max_size=5))
def test_tampered_links_never_raise(page: str, params: dict[str, list[str]]) -> None:
    """Any query string gives a page (with notes), never a traceback."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for key, values in params.items():
        at.query_params[key] = [v.replace("\x00", "") for v in values]
    at.run()
    at.switch_page(page).run()
    assert not at.exception, (params, at.exception)


def test_no_secret_appears_in_any_rendered_element(exchanges: FakeExchanges, monkeypatch) -> None:
    secret = "sk-liqscope-test-9d2f7c"
    monkeypatch.setenv("LIQSCOPE_COINALYZE_KEY", secret)
    monkeypatch.setenv("LIQSCOPE_COINALYZE_URL", f"{exchanges.url}/v1")
    at = live_app(exchanges, monkeypatch)
    at.secrets["LIQSCOPE_COINALYZE_KEY"] = secret
    at.run()
    for page in ("app_pages/asset.py", "app_pages/exchange.py", "app_pages/overview.py"):
        at.switch_page(page).run()
        assert not at.exception
        assert secret not in repr(at._tree)
