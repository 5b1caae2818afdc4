"""Each adapter against the loopback fake exchanges: parsed values, units, sides, and what was sent."""

from __future__ import annotations

import pandas as pd
import pytest

from data_sources.base import NoCoverage, Query
from data_sources.venues import binance, bybit, okx
from data_sources.venues.binance import BinanceAdapter
from data_sources.venues.bybit import BybitAdapter
from data_sources.venues.okx import OkxAdapter
from tests.fake_exchanges import FakeExchanges

DAY = pd.Timedelta(days=1)


def seed(exchanges: FakeExchanges, days: int = 1) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = exchanges.market.seed_day
    return start, start + days * DAY


def assert_no_gaps(frame: pd.DataFrame, step: str) -> None:
    diffs = frame["ts"].diff().dropna().unique()
    assert list(diffs) == [pd.Timedelta(step)], diffs
    assert not frame["ts"].duplicated().any()


class TestBinancePayloads:
    """Pure parsers on payloads in Binance's exact shapes."""

    def test_ratio_timestamp_as_string_or_number(self) -> None:
        raw = [
            {
                "symbol": "BTCUSDT",
                "longAccount": "0.4558",
                "longShortRatio": "0.8376",
                "shortAccount": "0.5442",
                "timestamp": 1726790400000,
            },
            {
                "symbol": "BTCUSDT",
                "longAccount": "0.6",
                "longShortRatio": "1.5",
                "shortAccount": "0.4",
                "timestamp": "1726790700000",
            },
        ]
        frame = binance.parse_ratios(raw, "BTC", "accounts")
        assert frame["ts"].tolist() == [
            pd.Timestamp(1726790400000, unit="ms", tz="UTC"),
            pd.Timestamp(1726790700000, unit="ms", tz="UTC"),
        ]
        assert frame["long_share"].tolist() == [0.4558, 0.6]
        assert frame["ratio"].iloc[1] == pytest.approx(1.5)

    def test_taker_ratio_uses_volume_shares(self) -> None:
        raw = [{"buySellRatio": "1.5586", "buyVol": "387.33", "sellVol": "248.503", "timestamp": "1585614900000"}]
        row = binance.parse_ratios(raw, "BTC", "taker").iloc[0]
        assert row["long_share"] == pytest.approx(387.33 / (387.33 + 248.503))
        assert row["ratio"] == pytest.approx(1.5586, rel=1e-4)

    def test_open_interest_is_the_usd_value_not_the_coin_count(self) -> None:
        raw = [
            {
                "symbol": "BTCUSDT",
                "sumOpenInterest": "20403.637",
                "sumOpenInterestValue": "150570784.078",
                "timestamp": "1583127900000",
            }
        ]
        assert binance.parse_open_interest(raw, "BTC")["usd"].iloc[0] == pytest.approx(150570784.078)

    def test_klines_take_coin_volume_and_quote_volume(self) -> None:
        raw = [
            [
                1712738520000,
                "71471.00",
                "71471.00",
                "70459.40",
                "70459.40",
                "0.120",
                1712738579999,
                "8518.17600",
                9,
                "0.061",
                "4359.72600",
                "0",
            ]
        ]
        row = binance.parse_klines(raw, "BTC").iloc[0]
        assert (row["open"], row["low"], row["volume"], row["quote_volume"]) == (71471.0, 70459.4, 0.12, 8518.176)


class TestBinanceAdapter:
    def test_candles_come_in_windows_that_fit_one_page(self, exchanges: FakeExchanges) -> None:
        """Windows of 1,499 bars (one less than a page, so a full page would mean rows are missing), inclusive ends."""
        start, end = seed(exchanges, 2)
        adapter = BinanceAdapter(exchanges.url)
        frame = adapter.fetch("candles", Query("ETH", "binance", start, end, "1m"))
        assert len(frame) == 2880
        assert_no_gaps(frame, "1min")
        calls = exchanges.calls("/fapi/v1/klines")
        first, cut = start.value // 10**6, start.value // 10**6 + 1499 * 60_000
        bounds = sorted((int(p["startTime"]), int(p["endTime"])) for _, p in calls)
        assert bounds == [(first, cut - 1), (cut, end.value // 10**6 - 1)]
        assert {p["symbol"] for _, p in calls} == {"ETHUSDT"} and {p["limit"] for _, p in calls} == {"1500"}

    def test_four_ratio_kinds_from_four_paths(self, exchanges: FakeExchanges) -> None:
        start, end = seed(exchanges)
        frame = BinanceAdapter(exchanges.url).fetch("ratios", Query("SOL", "binance", start, end, "1h"))
        assert frame.groupby("kind").size().to_dict() == {
            "accounts": 24,
            "taker": 24,
            "top_accounts": 24,
            "top_positions": 24,
        }
        paths = {path for path, _ in exchanges.calls("/futures/data/")}
        assert paths == set(binance.RATIO_PATHS.values())
        assert {p["period"] for _, p in exchanges.calls("/futures/data/")} == {"1h"}

    def test_ratios_older_than_30_days_say_so(self, exchanges: FakeExchanges) -> None:
        old = pd.Timestamp.now(tz="UTC").floor("D") - pd.Timedelta(days=45)
        with pytest.raises(NoCoverage, match="Binance keeps long/short history for 30 days only"):
            BinanceAdapter(exchanges.url).fetch("ratios", Query("BTC", "binance", old, old + DAY, "1h"))
        assert exchanges.calls() == []

    def test_liquidations_are_not_available_over_rest(self, exchanges: FakeExchanges) -> None:
        start, end = seed(exchanges)
        with pytest.raises(NoCoverage, match="no liquidation history over REST"):
            BinanceAdapter(exchanges.url).fetch("liquidations", Query("BTC", "binance", start, end, "1h"))


class TestOkxPayloads:
    def test_error_in_http_200_envelope_is_typed(self) -> None:
        with pytest.raises(okx.RateLimited, match="50011"):
            okx.data({"msg": "Too Many Requests", "code": "50011"}, "candles")
        with pytest.raises(okx.UnknownSymbol):
            okx.data({"code": "51001", "msg": "Instrument ID does not exist", "data": []}, "candles")

    def test_candle_volume_is_coins_not_contracts(self) -> None:
        rows = [["1678928700000", "24324.1", "24347.6", "24321.7", "24341.4", "2565", "10.5401", "256500", "1"]]
        row = okx.parse_candles(rows, "BTC").iloc[0]
        assert (row["volume"], row["quote_volume"]) == (10.5401, 256500.0)

    def test_liquidation_size_is_contracts_times_ct_val_and_sides_follow_the_position(self) -> None:
        rows = [
            {
                "instId": "ETH-USDT-SWAP",
                "details": [
                    {"side": "sell", "posSide": "long", "bkPx": "2000", "sz": "5", "ts": "1746700000000"},
                    {"side": "buy", "posSide": "net", "bkPx": "2100", "sz": "2", "ts": "1746700001000"},
                    {"side": "sell", "posSide": "net", "bkPx": "1990", "sz": "1", "ts": "1746700002000"},
                ],
            },
            {
                "instId": "ETH-USDT-250627",
                "details": [{"side": "buy", "posSide": "short", "bkPx": "1", "sz": "99", "ts": "1746700003000"}],
            },
        ]
        frame = okx.parse_liquidations(rows, "ETH", ct_val=0.1)
        assert frame["side"].tolist() == ["long", "short", "long"]
        assert frame["qty"].tolist() == pytest.approx([0.5, 0.2, 0.1])
        assert frame["usd"].tolist() == pytest.approx([1000.0, 420.0, 199.0])

    def test_rubik_ratio_becomes_shares(self) -> None:
        frame = okx.parse_ratios([["1729323600000", "3"]], "BTC", "accounts")
        assert frame.iloc[0][["long_share", "short_share", "ratio"]].tolist() == pytest.approx([0.75, 0.25, 3.0])
        taker = okx.parse_ratios([["1729323600000", "100", "300"]], "BTC", "taker")
        assert taker.iloc[0]["long_share"] == pytest.approx(0.75)


class TestOkxAdapter:
    def test_candles_are_fetched_as_exact_pages_with_exclusive_cursors(self, exchanges: FakeExchanges) -> None:
        """A fixed-period series has known page bounds: each request covers (before, after) exactly, no overlap."""
        start, end = seed(exchanges)
        frame = OkxAdapter(exchanges.url).fetch("candles", Query("BTC", "okx", start, end, "5m"))
        assert len(frame) == 288
        assert_no_gaps(frame, "5min")
        calls = exchanges.calls("/api/v5/market/")
        first, span = start.value // 10**6, 99 * 300_000  # one bar less than a page of 100
        bounds = sorted((int(p["before"]), int(p["after"])) for _, p in calls)
        assert bounds == [
            (first - 1, first + span),
            (first + span - 1, first + 2 * span),
            (first + 2 * span - 1, end.value // 10**6),
        ]
        assert {p["bar"] for _, p in calls} == {"5m"} and {p["instId"] for _, p in calls} == {"BTC-USDT-SWAP"}
        assert {path for path, _ in calls} == {"/api/v5/market/history-candles"}

    def test_rubik_history_is_limited_to_1440_rows(self, exchanges: FakeExchanges) -> None:
        start, end = seed(exchanges)
        with pytest.raises(NoCoverage, match="latest 1,440 5m rows"):
            OkxAdapter(exchanges.url).fetch("ratios", Query("BTC", "okx", start, end, "5m"))
        hourly = OkxAdapter(exchanges.url).fetch("ratios", Query("BTC", "okx", start, end, "1h"))
        assert len(hourly) == 4 * 24
        assert {p["period"] for _, p in exchanges.calls("/api/v5/rubik/")} == {"1H"}

    def test_recent_liquidations_in_coins_via_ct_val(self, exchanges: FakeExchanges) -> None:
        end = pd.Timestamp.now(tz="UTC").floor("min")  # the last 23 h, inside the day OKX keeps (not "today",
        start = end - pd.Timedelta(hours=23)  # which holds a few minutes just after midnight)
        frame = OkxAdapter(exchanges.url).fetch("liquidations", Query("ETH", "okx", start, end, "5m"))
        assert not frame.empty and set(frame["side"]) <= {"long", "short"}
        raw = exchanges.market.frame("liquidations", "ETH", "okx", start.value // 10**6, end.value // 10**6, "1m")
        merged = frame.merge(raw[["ts", "qty"]], on="ts", suffixes=("", "_true"))
        assert merged["qty"].to_numpy() == pytest.approx(merged["qty_true"].to_numpy(), rel=1e-6)
        assert exchanges.calls("/api/v5/public/instruments")[0][1] == {"instType": "SWAP", "instId": "ETH-USDT-SWAP"}

    def test_missing_liquidation_endpoint_degrades_to_no_coverage(self, exchanges: FakeExchanges) -> None:
        exchanges.fail("/api/v5/public/liquidation-orders", status=404, body="{}", times=1)
        today = pd.Timestamp.now(tz="UTC").floor("D")
        with pytest.raises(NoCoverage, match="undocumented since 2025"):
            OkxAdapter(exchanges.url).fetch("liquidations", Query("ETH", "okx", today, today + DAY, "5m"))


class TestBybitAdapter:
    def test_candles_come_in_windows_that_fit_one_page(self, exchanges: FakeExchanges) -> None:
        """Windows of 999 bars (one less than a page of 1,000), with Bybit's inclusive start/end."""
        start, end = seed(exchanges, 1)
        frame = BybitAdapter(exchanges.url).fetch("candles", Query("XRP", "bybit", start, end, "1m"))
        assert len(frame) == 1440
        assert_no_gaps(frame, "1min")
        first, cut = start.value // 10**6, start.value // 10**6 + 999 * 60_000
        bounds = sorted((int(p["start"]), int(p["end"])) for _, p in exchanges.calls("/v5/market/kline"))
        assert bounds == [(first, cut - 1), (cut, end.value // 10**6 - 1)]
        assert exchanges.calls("/v5/market/kline")[0][1]["interval"] == "1"

    def test_account_ratio_follows_the_cursor(self, exchanges: FakeExchanges) -> None:
        start, end = seed(exchanges, 3)
        frame = BybitAdapter(exchanges.url).fetch("ratios", Query("BTC", "bybit", start, end, "5m"))
        assert len(frame) == 3 * 288
        assert_no_gaps(frame, "5min")
        cursors = [p.get("cursor") for _, p in exchanges.calls("/v5/market/account-ratio")]
        assert cursors == [None, "500"]
        assert exchanges.calls("/v5/market/account-ratio")[0][1]["period"] == "5min"

    def test_open_interest_in_coins_is_valued_at_the_close(self, exchanges: FakeExchanges) -> None:
        start, end = seed(exchanges)
        frame = BybitAdapter(exchanges.url).fetch("open_interest", Query("ETH", "bybit", start, end, "1h"))
        truth = exchanges.market.frame("open_interest", "ETH", "bybit", start.value // 10**6, end.value // 10**6, "1h")
        assert frame["usd"].to_numpy() == pytest.approx(truth["usd"].to_numpy(), rel=2e-3)

    def test_ret_code_errors_are_typed(self) -> None:
        with pytest.raises(bybit.UnknownSymbol):
            bybit.result({"retCode": 10001, "retMsg": "params error: symbol invalid"}, "kline")
        with pytest.raises(bybit.RateLimited):
            bybit.result({"retCode": 10006, "retMsg": "Too many visits!"}, "kline")


@pytest.mark.parametrize(
    ("adapter", "exchange", "asset"),
    [(BinanceAdapter, "binance", "NOPE"), (OkxAdapter, "okx", "NOPE"), (BybitAdapter, "bybit", "NOPE")],
)
def test_unknown_symbol_is_named(exchanges: FakeExchanges, adapter: type, exchange: str, asset: str) -> None:
    start, end = seed(exchanges)
    with pytest.raises(okx.UnknownSymbol):
        adapter(exchanges.url).fetch("candles", Query(asset, exchange, start, end, "1h"))


THOUSAND_PEPE_KLINE = [
    [1715126400000, "12.0", "13.0", "11.5", "12.5", "2000", 1715126459999, "25000", 10, "0", "0", "0"]
]


class TestThousandfoldSymbols:
    """A 1000x symbol's candle is per 1,000 coins: prices / 1000 and volume x 1000 give the schema's units."""

    def test_binance_1000pepe_candle_per_one_coin(self) -> None:
        row = binance.parse_klines(THOUSAND_PEPE_KLINE, "PEPE", multiplier=1000.0).iloc[0]
        assert (row.open, row.high, row.low, row.close) == (0.012, 0.013, 0.0115, 0.0125)
        assert row.volume == 2_000_000 and row.quote_volume == 25000

    def test_bybit_shib1000_candle_and_open_interest_per_one_coin(self) -> None:
        rows = [["1715126400000", "12.0", "13.0", "11.5", "12.5", "2000", "25000"]]
        candles = bybit.parse_klines(rows, "SHIB", multiplier=1000.0)
        assert candles.iloc[0].close == 0.0125 and candles.iloc[0].volume == 2_000_000
        oi = bybit.parse_open_interest([{"timestamp": "1715126400000", "openInterest": "4"}], "SHIB", candles, 1000.0)
        assert oi.iloc[0].usd == pytest.approx(4 * 1000 * 0.0125)
