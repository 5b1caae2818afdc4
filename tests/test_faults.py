"""Upstream faults become typed errors with sentences a user can act on."""

from __future__ import annotations

import socket

import pandas as pd
import pytest

from data_sources import http
from data_sources.base import Query
from data_sources.venues.binance import BinanceAdapter
from data_sources.venues.bybit import BybitAdapter
from data_sources.venues.okx import OkxAdapter
from tests.fake_exchanges import FakeExchanges

HTML = "<html><body><h1>403 ERROR</h1>The request could not be satisfied. CloudFront</body></html>"
ADAPTERS = [
    (BinanceAdapter, "binance", "/fapi/v1/klines"),
    (OkxAdapter, "okx", "/api/v5/market/"),
    (BybitAdapter, "bybit", "/v5/market/kline"),
]


def candles(adapter: type, exchange: str, fake: FakeExchanges, timeout: float = 5.0) -> pd.DataFrame:
    start = fake.market.seed_day
    return adapter(fake.url, timeout).fetch(
        "candles", Query("BTC", exchange, start, start + pd.Timedelta(hours=2), "1h")
    )


@pytest.mark.parametrize(("adapter", "exchange", "path"), ADAPTERS)
class TestEverySource:
    def test_429_then_200_is_retried(self, exchanges: FakeExchanges, adapter: type, exchange: str, path: str) -> None:
        exchanges.fail(path, status=429, body="{}", headers={"Retry-After": "0"})
        assert len(candles(adapter, exchange, exchanges)) == 2
        assert len(exchanges.calls(path)) == 2

    def test_persistent_429_is_rate_limited(
        self, exchanges: FakeExchanges, adapter: type, exchange: str, path: str
    ) -> None:
        exchanges.fail(path, status=429, body="{}", headers={"Retry-After": "0"}, times=10)
        with pytest.raises(http.RateLimited, match=r"rate limiting|429"):
            candles(adapter, exchange, exchanges)

    def test_418_is_an_ip_ban(self, exchanges: FakeExchanges, adapter: type, exchange: str, path: str) -> None:
        exchanges.fail(path, status=418, body='{"code":-1003,"msg":"banned"}')
        with pytest.raises(http.IpBanned, match="banned this IP"):
            candles(adapter, exchange, exchanges)

    def test_451_is_a_geo_block_naming_the_setting(
        self, exchanges: FakeExchanges, adapter: type, exchange: str, path: str
    ) -> None:
        exchanges.fail(path, status=451, body='{"code":0,"msg":"Service unavailable from a restricted location"}')
        with pytest.raises(http.GeoBlocked, match=f"LIQSCOPE_{exchange.upper()}_URL"):
            candles(adapter, exchange, exchanges)

    def test_403_html_is_a_geo_block(self, exchanges: FakeExchanges, adapter: type, exchange: str, path: str) -> None:
        exchanges.fail(path, status=403, body=HTML, content_type="text/html")
        with pytest.raises(http.GeoBlocked, match="403"):
            candles(adapter, exchange, exchanges)

    def test_500_is_unavailable(self, exchanges: FakeExchanges, adapter: type, exchange: str, path: str) -> None:
        exchanges.fail(path, status=500, body="oops", times=10)
        with pytest.raises(http.UpstreamError, match=r"500|retries"):
            candles(adapter, exchange, exchanges)

    def test_timeout(self, exchanges: FakeExchanges, adapter: type, exchange: str, path: str) -> None:
        exchanges.fail(path, status=200, body="[]", delay=1.5, times=3)
        with pytest.raises(http.Unavailable, match=r"did not answer within 0\.5 s"):
            candles(adapter, exchange, exchanges, timeout=0.5)

    def test_truncated_body(self, exchanges: FakeExchanges, adapter: type, exchange: str, path: str) -> None:
        exchanges.fail(path, status=200, body='{"code":"0","data":[["17', truncate=True, times=3)
        with pytest.raises(http.BadPayload, match="truncated"):
            candles(adapter, exchange, exchanges)

    def test_malformed_json(self, exchanges: FakeExchanges, adapter: type, exchange: str, path: str) -> None:
        exchanges.fail(path, status=200, body="{not json")
        with pytest.raises(http.BadPayload, match="malformed"):
            candles(adapter, exchange, exchanges)


def test_error_envelopes_in_http_200(exchanges: FakeExchanges) -> None:
    exchanges.fail("/api/v5/market/", status=200, body='{"code":"50011","msg":"Too Many Requests"}')
    with pytest.raises(http.RateLimited, match="50011"):
        candles(OkxAdapter, "okx", exchanges)
    exchanges.fail("/v5/market/kline", status=200, body='{"retCode":10006,"retMsg":"Too many visits!","result":{}}')
    with pytest.raises(http.RateLimited, match="10006"):
        candles(BybitAdapter, "bybit", exchanges)


@pytest.mark.parametrize(
    ("adapter", "exchange", "path", "body"),
    [
        (BinanceAdapter, "binance", "/fapi/v1/klines", "[]"),
        (OkxAdapter, "okx", "/api/v5/market/", '{"code":"0","msg":"","data":[]}'),
        (BybitAdapter, "bybit", "/v5/market/kline", '{"retCode":0,"retMsg":"OK","result":{"list":[]}}'),
    ],
)
def test_empty_lists_are_empty_frames(
    exchanges: FakeExchanges, adapter: type, exchange: str, path: str, body: str
) -> None:
    exchanges.fail(path, status=200, body=body)
    frame = candles(adapter, exchange, exchanges)
    assert frame.empty and list(frame.columns)[:3] == ["ts", "exchange", "asset"]


def closed_port() -> str:
    """A loopback URL nothing listens on (a port bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_an_unreachable_host_is_tried_once_then_turned_away_with_the_same_reason() -> None:
    """A venue that refuses connections costs one attempt, not one per request, for the pause."""
    upstream = http.Upstream("Gate", closed_port(), "LIQSCOPE_GATE_URL", timeout=1.0)
    with pytest.raises(http.Unreachable, match=r"Could not reach Gate at .*LIQSCOPE_GATE_URL"):
        upstream.get_json("/api/v4/futures/usdt/contracts", {})
    for _ in range(5):
        with pytest.raises(http.Unreachable, match=r"Could not reach Gate .*not retried for 30 s"):
            upstream.get_json("/api/v4/futures/usdt/candlesticks", {})
    assert upstream.requests_made == 1


def test_a_host_that_answers_with_errors_is_asked_every_time(exchanges: FakeExchanges) -> None:
    """HTTP errors are answers: only a failed connection pauses a host."""
    upstream = http.Upstream("Binance", exchanges.url, "LIQSCOPE_BINANCE_URL", timeout=1.0)
    exchanges.fail("/fapi/v1/time", status=500, body="oops", times=8)
    for _ in range(2):
        with pytest.raises(http.Unavailable, match="500"):
            upstream.get_json("/fapi/v1/time", {})
    assert upstream.get_json("/fapi/v1/time", {})["serverTime"] > 0
    assert len(exchanges.calls("/fapi/v1/time")) == 9
