"""Fault drill: every source x every fault, through the whole page; tampered links; secrets; HTML.

Binance, OKX and Bybit fail at the same time, each with its own fault kind, while Hyperliquid (its loopback
fake, the same market) answers, so one page run drills three (venue, fault) cells and the healthy venue
proves the rest renders. Nine runs cover every cell exactly once (a Latin square, `DRILLS`):

| run | Binance    | OKX        | Bybit      |
|-----|------------|------------|------------|
| 0   | 429        | 403-html   | truncated  |
| 1   | 418        | 500        | malformed  |
| 2   | 451        | timeout    | envelope   |
| 3   | 403-html   | truncated  | 429        |
| 4   | 500        | malformed  | 418        |
| 5   | timeout    | envelope   | 451        |
| 6   | truncated  | 429        | 403-html   |
| 7   | malformed  | 418        | 500        |
| 8   | envelope   | 451        | timeout    |

Each broken venue's panel is dimmed with that fault's reason and it is missing from the candles' "answered"
list; Hyperliquid is in it and the top mover is still ETH. Empty answers from all three at once (one run) and
all three failing after a refresh (stale data with its age, one refresh) are drilled the same way.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from data_sources import market
from tests.conftest import ROOT
from tests.fake_exchanges import FakeExchanges
from tests.fakes.hyperliquid import FakeHyperliquid

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
KINDS = [*FAULTS, "envelope"]
# Run i breaks Binance with KINDS[i], OKX with KINDS[i + 3] and Bybit with KINDS[i + 6] (mod 9): every
# (venue, kind) cell once, three distinct kinds per run (the table in the module docstring).
DRILLS = [{venue: KINDS[(i + 3 * j) % len(KINDS)] for j, venue in enumerate(NAMES)} for i in range(len(KINDS))]


@pytest.fixture(scope="module")
def hyperliquid() -> Iterator[FakeHyperliquid]:
    """The healthy venue of every drill: a loopback Hyperliquid serving the same market."""
    with FakeHyperliquid() as server:
        yield server


def live_app(fake: FakeExchanges, hyperliquid: FakeHyperliquid, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("LIQSCOPE_DATA", "live")
    monkeypatch.setenv("LIQSCOPE_HTTP_TIMEOUT", "0.4")
    monkeypatch.setenv("LIQSCOPE_HYPERLIQUID_URL", hyperliquid.url)
    hyperliquid.reset()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params.update({"range": [f"{fake.market.seed_day:%Y-%m-%d}"], "interval": "4h", "assets": ["BTC", "ETH"]})
    return at


def break_exchange(fake: FakeExchanges, exchange: str, **fault: object) -> None:
    for prefix in PREFIXES[exchange]:
        fake.fail(prefix, times=10_000, **fault)


def break_with(fake: FakeExchanges, exchange: str, kind: str) -> str:
    """Break `exchange` with fault `kind`; the text its panel's warning must carry."""
    if kind == "envelope":
        status, body, expected = ENVELOPE[exchange]
        break_exchange(fake, exchange, status=status, body=body)
    else:
        spec, expected = FAULTS[kind]
        break_exchange(fake, exchange, **spec)
    return expected


def candle_caption(at: AppTest) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Live exchange APIs · answered:"))


def answered(at: AppTest) -> str:
    """The venues the candle caption lists as having answered."""
    return candle_caption(at).split("answered:")[1].split("·")[0]


def venue_warnings(at: AppTest, exchange: str) -> list[str]:
    return [w.value for w in at.warning if w.value.startswith(f"{NAMES[exchange]}:")]


@pytest.mark.parametrize("drill", DRILLS, ids=lambda d: ",".join(f"{v}-{k}" for v, k in d.items()))
def test_failing_sources_dim_their_panels_and_the_rest_renders(
    exchanges: FakeExchanges, hyperliquid: FakeHyperliquid, monkeypatch: pytest.MonkeyPatch, drill: dict[str, str]
) -> None:
    expected = {exchange: break_with(exchanges, exchange, kind) for exchange, kind in drill.items()}
    at = live_app(exchanges, hyperliquid, monkeypatch).run()
    assert not at.exception, at.exception
    for exchange, reason in expected.items():
        warnings = venue_warnings(at, exchange)
        assert warnings and any(reason in w for w in warnings), (exchange, drill[exchange], warnings)
        assert NAMES[exchange] not in answered(at), (exchange, candle_caption(at))
    assert "Hyperliquid" in answered(at), candle_caption(at)
    assert {m.label: m.value for m in at.metric}["Top mover"] == "ETH"


def test_empty_answers_render_without_a_failure(
    exchanges: FakeExchanges, hyperliquid: FakeHyperliquid, monkeypatch: pytest.MonkeyPatch
) -> None:
    for exchange in NAMES:
        break_exchange(exchanges, exchange, status=200, body=EMPTY[exchange])
    at = live_app(exchanges, hyperliquid, monkeypatch).run()
    assert not at.exception
    for exchange in NAMES:
        assert not venue_warnings(at, exchange), exchange
    assert "Hyperliquid" in answered(at), candle_caption(at)


def test_sources_failing_after_a_refresh_serve_their_last_data_with_its_age(
    exchanges: FakeExchanges, hyperliquid: FakeHyperliquid, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = live_app(exchanges, hyperliquid, monkeypatch)
    # No timeout fault here: the first run must be complete, which a 0.4 s timeout is not on a loaded machine
    # (a timed-out open-interest page made `before` differ from the stale copy served after the refresh).
    monkeypatch.setenv("LIQSCOPE_HTTP_TIMEOUT", "10")
    at.run()
    for exchange in NAMES:
        assert not venue_warnings(at, exchange), exchange
    before = {m.label: m.value for m in at.metric}
    market.refresh()
    for exchange in NAMES:
        break_exchange(exchanges, exchange, status=500, body="down")
    at.run()
    assert not at.exception
    for exchange, name in NAMES.items():
        stale = [w for w in venue_warnings(at, exchange) if w.startswith(f"{name}: showing data as of")]
        assert stale and "refresh failed" in stale[0], (exchange, venue_warnings(at, exchange))
        assert name in candle_caption(at)
    assert {m.label: m.value for m in at.metric} == before


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


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(PARAM_KEYS, st.lists(PARAM_VALUES, min_size=1, max_size=3), max_size=5))
def test_tampered_links_never_raise(params: dict[str, list[str]]) -> None:
    """Any query string gives every page (with notes), never a traceback: each page of one session is opened
    with the tampered link itself, as pasted."""
    tampered = {key: [v.replace("\x00", "") for v in values] for key, values in params.items()}
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(tampered)
    at.run()  # the overview
    assert not at.exception, (params, "overview", at.exception)
    for page in ("app_pages/asset.py", "app_pages/exchange.py"):
        at.query_params.clear()
        at.query_params.update(tampered)
        at.switch_page(page).run()
        assert not at.exception, (params, page, at.exception)


def test_no_secret_appears_in_any_rendered_element(
    exchanges: FakeExchanges, hyperliquid: FakeHyperliquid, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-liqscope-test-9d2f7c"
    monkeypatch.setenv("LIQSCOPE_COINALYZE_KEY", secret)
    monkeypatch.setenv("LIQSCOPE_COINALYZE_URL", f"{exchanges.url}/v1")
    at = live_app(exchanges, hyperliquid, monkeypatch)
    at.secrets["LIQSCOPE_COINALYZE_KEY"] = secret
    for page in ("app_pages/asset.py", "app_pages/exchange.py", "app_pages/overview.py"):
        at.switch_page(page).run()
        assert not at.exception
        assert secret not in repr(at._tree)
