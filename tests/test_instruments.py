"""The venues' listings on loopback, the one unit convention, the registry's cache, and the CLI."""

from __future__ import annotations

import io
import json
import logging
import threading

import pandas as pd
import pytest

from data_sources import instruments
from data_sources.cli import main
from data_sources.http import GeoBlocked
from data_sources.instruments import Instrument, InstrumentRegistry, split_base
from data_sources.schema import ASSETS, EXCHANGES
from data_sources.units import UsdUnits, to_usd_units
from data_sources.venues import okx
from tests.fake_exchanges import BYBIT_LISTED, BYBIT_LISTING_PAGE, FakeExchanges, _bybit_cursor, instrument_listing
from tests.fakes.bitget import FakeBitget
from tests.fakes.gate import FakeGate
from tests.fakes.hyperliquid import FakeHyperliquid

OKX_PATH, BYBIT_PATH, BINANCE_PATH = (
    "/api/v5/public/instruments",
    "/v5/market/instruments-info",
    "/fapi/v1/exchangeInfo",
)
GEO_BLOCK = '{"code":0,"msg":"Service unavailable from a restricted location"}'
DAY = 24 * 3600.0


class Clock:
    """A settable clock for the registry's cache (epoch seconds)."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def registry(fake: FakeExchanges, clock: Clock | None = None) -> InstrumentRegistry:
    return InstrumentRegistry({e: fake.url for e in EXCHANGES}, timeout=5.0, clock=clock or Clock())


def row(exchange: str, symbol: str, asset: str, margin: str, quote: str, size: float, mult: float) -> Instrument:
    return Instrument(exchange, symbol, asset, margin, quote, size, mult, "trading")  # type: ignore[arg-type]


class TestSplitBase:
    """A venue's base name -> (asset, coins per quoted unit)."""

    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("1000PEPE", ("PEPE", 1000.0)),
            ("SHIB1000", ("SHIB", 1000.0)),
            ("10000SATS", ("SATS", 10000.0)),
            ("1000000MOG", ("MOG", 1e6)),
            ("1MBABYDOGE", ("BABYDOGE", 1e6)),
            ("1INCH", ("1INCH", 1.0)),
            ("BTC", ("BTC", 1.0)),
        ],
    )
    def test_prefix_suffix_table_and_plain_names(self, name: str, expected: tuple[str, float]) -> None:
        """Powers of ten of at least 1,000 scale a name; 1INCH's leading digit does not; 1M is in the table."""
        assert split_base(name) == expected


class TestBinanceListing:
    """`GET /fapi/v1/exchangeInfo` on loopback."""

    def test_perpetuals_only_with_multipliers_from_base_asset(self, exchanges: FakeExchanges) -> None:
        """USDT/USDC perpetuals are kept (a settling one with its status); the quarterly and TradFi are not."""
        listing = registry(exchanges).listing("binance")
        by_symbol = listing.by_symbol
        assert set(by_symbol) == {
            *(f"{a}USDT" for a in ASSETS),
            "1000PEPEUSDT",
            "1000SHIBUSDT",
            "1000SATSUSDT",
            "1MBABYDOGEUSDT",
            "1INCHUSDT",
            "WIFUSDT",
            "BTCUSDC",
            "TOMOUSDT",
        }
        assert by_symbol["1000PEPEUSDT"] == row("binance", "1000PEPEUSDT", "PEPE", "linear", "USDT", 1000.0, 1000.0)
        assert by_symbol["1INCHUSDT"] == row("binance", "1INCHUSDT", "1INCH", "linear", "USDT", 1.0, 1.0)
        assert by_symbol["1MBABYDOGEUSDT"].asset == "BABYDOGE" and by_symbol["1MBABYDOGEUSDT"].multiplier == 1e6
        assert by_symbol["BTCUSDC"] == row("binance", "BTCUSDC", "BTC", "linear", "USDC", 1.0, 1.0)
        assert by_symbol["TOMOUSDT"].status == "settling" and not by_symbol["TOMOUSDT"].trading
        assert exchanges.calls(BINANCE_PATH) == [(BINANCE_PATH, {})]


class TestOkxListing:
    """`GET /api/v5/public/instruments?instType=SWAP` on loopback."""

    def test_linear_contract_sizes_and_inverse_usd_contracts(self, exchanges: FakeExchanges) -> None:
        """ctVal x ctMult coins for linear swaps (PEPE: 10M a contract), ctVal USD for inverse ones."""
        by_symbol = registry(exchanges).listing("okx").by_symbol
        assert by_symbol["PEPE-USDT-SWAP"] == row("okx", "PEPE-USDT-SWAP", "PEPE", "linear", "USDT", 1e7, 1.0)
        assert by_symbol["BTC-USDT-SWAP"] == row("okx", "BTC-USDT-SWAP", "BTC", "linear", "USDT", 0.01, 1.0)
        assert by_symbol["BTC-USD-SWAP"] == row("okx", "BTC-USD-SWAP", "BTC", "inverse", "USD", 100.0, 1.0)
        assert by_symbol["ETH-USD-SWAP"].contract_size == 10.0 and by_symbol["ETH-USD-SWAP"].margin == "inverse"
        assert by_symbol["1INCH-USDT-SWAP"].asset == "1INCH"
        assert by_symbol["LUNA-USDT-SWAP"].status == "suspended"
        assert exchanges.calls(OKX_PATH) == [(OKX_PATH, {"instType": "SWAP"})]

    def test_a_row_without_a_usable_ctval_is_skipped_with_a_warning(self, caplog: pytest.LogCaptureFixture) -> None:
        """One odd row does not cost the venue its listing; the log names it."""
        _, body, _ = instrument_listing(OKX_PATH, {"instType": "SWAP"})  # type: ignore[misc]
        broken = [{**r, "ctVal": ""} if r["instId"] == "WIF-USDT-SWAP" else r for r in body["data"]]
        with caplog.at_level(logging.WARNING, logger="liqscope.instruments"):
            parsed = okx.parse_listing({**body, "data": broken})
        assert "WIF-USDT-SWAP" not in {i.symbol for i in parsed} and len(parsed) == len(broken) - 1
        assert "OKX listed WIF-USDT-SWAP without usable fields" in caplog.text


class TestBybitListing:
    """`GET /v5/market/instruments-info?category=linear` on loopback, paged by cursor."""

    def test_every_page_is_fetched_sending_back_each_cursor(self, exchanges: FakeExchanges) -> None:
        """The fake pages by 4: every page is read, each request carries the previous page's cursor verbatim."""
        listing = registry(exchanges).listing("bybit")
        perpetuals = [r for r in BYBIT_LISTED if r["contractType"] == "LinearPerpetual"]
        assert {i.symbol for i in listing.instruments} == {r["symbol"] for r in perpetuals}
        pages = [BYBIT_LISTED[i : i + BYBIT_LISTING_PAGE] for i in range(0, len(BYBIT_LISTED), BYBIT_LISTING_PAGE)]
        sent = exchanges.calls(BYBIT_PATH)
        assert len(sent) == len(pages) > 2
        assert [params.get("cursor") for _, params in sent] == [None, *(_bybit_cursor(p) for p in pages[:-1])]
        assert all(params["category"] == "linear" and params["limit"] == "1000" for _, params in sent)

    def test_prefix_suffix_and_digit_tickers(self, exchanges: FakeExchanges) -> None:
        """1000PEPEUSDT and SHIB1000USDT are x1000, 10000SATSUSDT x10,000, 1INCHUSDT plain; futures are dropped."""
        by_symbol = registry(exchanges).listing("bybit").by_symbol
        assert by_symbol["1000PEPEUSDT"] == row("bybit", "1000PEPEUSDT", "PEPE", "linear", "USDT", 1000.0, 1000.0)
        assert by_symbol["SHIB1000USDT"] == row("bybit", "SHIB1000USDT", "SHIB", "linear", "USDT", 1000.0, 1000.0)
        assert by_symbol["10000SATSUSDT"].asset == "SATS" and by_symbol["10000SATSUSDT"].multiplier == 1e4
        assert by_symbol["1INCHUSDT"] == row("bybit", "1INCHUSDT", "1INCH", "linear", "USDT", 1.0, 1.0)
        assert by_symbol["BTCPERP"].quote == "USDC" and "BTC-26JUN26" not in by_symbol


class TestUnits:
    """`to_usd_units`: price in USD per one coin, qty in coins, usd the notional."""

    def test_a_1000pepe_trade_and_the_same_okx_pepe_trade_agree(self, exchanges: FakeExchanges) -> None:
        """4,000,000 PEPE at $0.0000123: Binance/Bybit send 4,000 x 1000PEPE at 0.0123; OKX 0.4 contracts."""
        source = registry(exchanges)
        expected = UsdUnits(price=0.0000123, qty=4_000_000.0, usd=49.2)
        trades = [
            ("binance", "1000PEPEUSDT", "0.0123", "4000"),
            ("bybit", "1000PEPEUSDT", "0.0123", "4000"),
            ("okx", "PEPE-USDT-SWAP", "0.0000123", "0.4"),
        ]
        for exchange, symbol, price, size in trades:
            got = to_usd_units(source.instrument(exchange, symbol), price, size)  # type: ignore[arg-type]
            assert got == pytest.approx(expected), (exchange, symbol)

    def test_bybit_suffix_form_is_thousands_too(self, exchanges: FakeExchanges) -> None:
        """SHIB1000USDT at 0.0125 for 800 units is 800,000 SHIB at $0.0000125."""
        got = to_usd_units(registry(exchanges).instrument("bybit", "SHIB1000USDT"), 0.0125, 800)  # type: ignore[arg-type]
        assert got == pytest.approx(UsdUnits(0.0000125, 800_000.0, 10.0))

    def test_okx_inverse_swap_is_usd_contracts_never_coins(self, exchanges: FakeExchanges) -> None:
        """BTC-USD-SWAP: 3 contracts of $100 at 60,000 are $300 and 0.005 BTC, not 3 BTC."""
        instrument = registry(exchanges).instrument("okx", "BTC-USD-SWAP")
        got = to_usd_units(instrument, "60000", "3")  # type: ignore[arg-type]
        assert got == pytest.approx(UsdUnits(price=60000.0, qty=0.005, usd=3 * 100.0))

    def test_okx_linear_contracts_are_ctval_coins(self, exchanges: FakeExchanges) -> None:
        """BTC-USDT-SWAP: 13 contracts of 0.01 BTC at 60,000 are 0.13 BTC and $7,800."""
        got = to_usd_units(registry(exchanges).instrument("okx", "BTC-USDT-SWAP"), 60000, 13)  # type: ignore[arg-type]
        assert got == pytest.approx(UsdUnits(60000.0, 0.13, 7800.0))

    @pytest.mark.parametrize(
        ("instrument", "price", "size", "message"),
        [
            (row("okx", "BTC-USD-SWAP", "BTC", "inverse", "USD", 100.0, 1.0), "0", "3", "price above 0"),
            (row("binance", "BTCUSDT", "BTC", "linear", "USDT", 1.0, 1.0), "60000", "-1", "size '-1'"),
            (row("binance", "BTCUSDT", "BTC", "linear", "USDT", 1.0, 1.0), "n/a", "1", "price 'n/a' is not a number"),
        ],
    )
    def test_bad_values_are_clear_errors(self, instrument: Instrument, price: str, size: str, message: str) -> None:
        """A zero inverse price, a negative size or a non-number name the instrument and the value."""
        with pytest.raises(ValueError, match=message) as error:
            to_usd_units(instrument, price, size)
        assert instrument.symbol in str(error.value)


class TestCache:
    """The registry fetches each venue at most once a day and keeps the last good listing."""

    def test_a_second_call_makes_no_request(self, exchanges: FakeExchanges) -> None:
        """Cached for the day: the second listing and an instrument lookup cost nothing."""
        source = registry(exchanges)
        first = source.listing("okx")
        assert source.listing("okx") is first and source.instrument("okx", "BTC-USD-SWAP") is not None
        assert len(exchanges.calls(OKX_PATH)) == 1

    def test_refreshed_after_a_day(self, exchanges: FakeExchanges) -> None:
        """Past the TTL the next call fetches again."""
        clock = Clock()
        source = registry(exchanges, clock)
        source.listing("binance")
        clock.now += DAY - 1
        source.listing("binance")
        assert len(exchanges.calls(BINANCE_PATH)) == 1
        clock.now += 2
        source.listing("binance")
        assert len(exchanges.calls(BINANCE_PATH)) == 2

    def test_a_failed_refresh_serves_the_last_good_listing_with_its_age(self, exchanges: FakeExchanges) -> None:
        """A geo-block after a good day: yesterday's rows, the reason, their age; retried after 5 minutes."""
        clock = Clock()
        source = registry(exchanges, clock)
        good = source.listing("okx")
        clock.now += DAY + 60
        exchanges.fail(OKX_PATH, status=451, body=GEO_BLOCK, times=2)
        stale = source.listing("okx")
        assert stale.instruments == good.instruments
        assert stale.error is not None and "LIQSCOPE_OKX_URL" in stale.error
        assert stale.age(clock()) == DAY + 60
        assert source.listing("okx") is stale and len(exchanges.calls(OKX_PATH)) == 2  # no hammering
        clock.now += instruments.RETRY_SECONDS + 1
        exchanges.reset()
        fresh = source.listing("okx")
        assert fresh.error is None and fresh.age(clock()) == 0 and len(exchanges.calls(OKX_PATH)) == 1

    def test_a_failure_with_nothing_cached_raises_the_venue_error(self, exchanges: FakeExchanges) -> None:
        """No listing yet: the typed error with a sentence to act on."""
        exchanges.fail(BINANCE_PATH, status=451, body=GEO_BLOCK)
        with pytest.raises(GeoBlocked, match="Set LIQSCOPE_BINANCE_URL"):
            registry(exchanges).listing("binance")

    def test_concurrent_misses_share_one_fetch(self, exchanges: FakeExchanges) -> None:
        """Eight threads asking at once while the venue is slow cause one request."""
        _, body, _ = instrument_listing(BINANCE_PATH, {})  # type: ignore[misc]
        exchanges.fail(BINANCE_PATH, status=200, body=json.dumps(body), delay=0.3)
        source = registry(exchanges)
        barrier = threading.Barrier(8)
        results: list[int] = []

        def ask() -> None:
            barrier.wait()
            results.append(len(source.listing("binance").instruments))

        threads = [threading.Thread(target=ask) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(results) == 8 and len(set(results)) == 1 and results[0] > len(ASSETS)
        assert len(exchanges.calls(BINANCE_PATH)) == 1

    def test_an_unknown_exchange_is_a_clear_error(self, exchanges: FakeExchanges) -> None:
        with pytest.raises(ValueError, match="Unknown exchange 'kraken'"):
            registry(exchanges).listing("kraken")


class TestCli:
    """`python -m data_sources instruments [--exchange EX] [--format csv|json]`."""

    def test_csv_lists_every_venue(
        self, exchanges: FakeExchanges, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with FakeGate() as gate, FakeBitget() as bitget, FakeHyperliquid() as hyperliquid:
            monkeypatch.setenv("LIQSCOPE_GATE_URL", gate.url)
            monkeypatch.setenv("LIQSCOPE_BITGET_URL", bitget.url)
            monkeypatch.setenv("LIQSCOPE_HYPERLIQUID_URL", hyperliquid.url)
            assert main(["instruments"]) == 0
        frame = pd.read_csv(io.StringIO(capsys.readouterr().out))
        assert list(frame.columns) == instruments.COLUMNS
        assert set(frame["exchange"]) == set(EXCHANGES)
        pepe = frame[(frame["exchange"] == "binance") & (frame["symbol"] == "1000PEPEUSDT")].iloc[0]
        assert (pepe["asset"], pepe["multiplier"], pepe["contract_size"]) == ("PEPE", 1000.0, 1000.0)

    def test_json_for_one_venue(self, exchanges: FakeExchanges, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["instruments", "--exchange", "OKX", "--format", "json"]) == 0
        records = json.loads(capsys.readouterr().out)
        assert {r["exchange"] for r in records} == {"okx"}
        inverse = next(r for r in records if r["symbol"] == "BTC-USD-SWAP")
        assert inverse == {
            "exchange": "okx",
            "symbol": "BTC-USD-SWAP",
            "asset": "BTC",
            "margin": "inverse",
            "quote": "USD",
            "contract_size": 100.0,
            "multiplier": 1.0,
            "status": "trading",
        }

    def test_a_bad_exchange_exits_2(self, exchanges: FakeExchanges, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exit_:
            main(["instruments", "--exchange", "kraken"])
        assert exit_.value.code == 2
        assert "invalid choice: 'kraken'" in capsys.readouterr().err

    def test_a_failing_venue_is_named_and_exits_1(
        self, exchanges: FakeExchanges, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The others are still printed; the failure is one sentence on stderr, no traceback."""
        exchanges.fail(OKX_PATH, status=451, body=GEO_BLOCK)
        assert main(["instruments"]) == 1
        out, err = capsys.readouterr()
        assert err.startswith("error: OKX refuses requests") and "Traceback" not in err
        assert set(pd.read_csv(io.StringIO(out))["exchange"]) == {"binance", "bybit"}
