"""The whole market on the recorder: every listed perpetual, in one unit convention, kept in step with new listings.

Decoders resolve native symbols through the fake venues' listings (`tests/fake_exchanges.py`: the 7 assets
plus a long tail with 1000x names, OKX contracts and inverse swaps); the recorder runs against loopback
streams that push a liquidation for every listed symbol.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from data_sources import storage
from data_sources.instruments import InstrumentRegistry
from data_sources.recorder import Recorder
from data_sources.streams import UNKNOWN_SYMBOL, StreamProtocol
from data_sources.venues.binance import BinanceStream
from data_sources.venues.bybit import BybitStream
from data_sources.venues.bybit import parse_listing as parse_bybit
from data_sources.venues.okx import OkxStream
from tests import fake_exchanges
from tests.conftest import ROOT
from tests.db import frame
from tests.fake_exchanges import FAKED, FakeExchanges
from tests.fake_streams import FakeStream, FakeStreams, binance_message, bybit_message, listed, okx_message

T0 = 1_763_900_000_000
BINANCE_LISTING, BYBIT_LISTING = "/fapi/v1/exchangeInfo", "/v5/market/instruments-info"


def registry(fake: FakeExchanges) -> InstrumentRegistry:
    return InstrumentRegistry({e: fake.url for e in FAKED}, timeout=5.0)


class TestOneUnitConvention:
    """Price in USD per one coin, qty in coins, usd the notional; asset the base coin, symbol the native one."""

    def test_binance_1000pepe_and_okx_pepe_swap_give_the_same_pepe(self) -> None:
        """4,000,000 PEPE at $0.0000123: Binance sends 4,000 x 1000PEPE at 0.0123, OKX 0.4 contracts of 10M."""
        (binance,) = BinanceStream("ws://x", listed("binance")).parse(
            binance_message("1000PEPEUSDT", "SELL", 0.0123, 4000, T0)
        )
        (okx,) = OkxStream("ws://x", listed("okx")).parse(
            okx_message("PEPE-USDT-SWAP", [("sell", "long", 0.0000123, 0.4, T0)])
        )
        for event, symbol in ((binance, "1000PEPEUSDT"), (okx, "PEPE-USDT-SWAP")):
            assert (event.asset, event.symbol, event.side) == ("PEPE", symbol, "long")
            assert (event.price, event.qty, event.usd) == pytest.approx((0.0000123, 4_000_000.0, 49.2))

    def test_bybit_prefix_and_suffix_thousands(self) -> None:
        """Bybit `1000PEPEUSDT` (prefix) and `SHIB1000USDT` (suffix) are both per 1,000 coins."""
        stream = BybitStream("ws://x", listed("bybit"))
        pepe = stream.parse(bybit_message([("1000PEPEUSDT", "Sell", 0.0123, 4000, T0)]))
        shib = stream.parse(bybit_message([("SHIB1000USDT", "Buy", 0.0125, 800, T0)]))
        assert [(e.asset, e.side, e.price, e.qty, e.usd) for e in pepe + shib] == [
            ("PEPE", "short", pytest.approx(0.0000123), pytest.approx(4_000_000.0), pytest.approx(49.2)),
            ("SHIB", "long", pytest.approx(0.0000125), pytest.approx(800_000.0), pytest.approx(10.0)),
        ]

    def test_okx_inverse_swap_is_usd_contracts_never_coins(self) -> None:
        """`BTC-USD-SWAP` on the same SWAP channel: 3 contracts of $100 at 60,000 are $300 and 0.005 BTC, not 3 BTC."""
        (event,) = OkxStream("ws://x", listed("okx")).parse(
            okx_message("BTC-USD-SWAP", [("buy", "short", 60_000.0, 3, T0)])
        )
        assert (event.asset, event.symbol, event.side) == ("BTC", "BTC-USD-SWAP", "short")
        assert (event.usd, event.qty, event.price) == pytest.approx((300.0, 0.005, 60_000.0))

    def test_okx_linear_contracts_are_ct_val_coins(self) -> None:
        """`ETH-USDT-SWAP` (ctVal 0.1): 10 contracts at 2,000 are 1 ETH and $2,000."""
        (event,) = OkxStream("ws://x", listed("okx")).parse(
            okx_message("ETH-USDT-SWAP", [("sell", "net", 2000.0, 10, T0)])
        )
        assert (event.asset, event.side, event.qty, event.usd) == ("ETH", "long", pytest.approx(1.0), 2000.0)

    @pytest.mark.parametrize(
        ("protocol", "raw"),
        [
            (BinanceStream("ws://x", listed("binance")), binance_message("NEWCOINUSDT", "SELL", 1.5, 10, T0)),
            (BybitStream("ws://x", listed("bybit")), bybit_message([("NEWCOINUSDT", "Buy", 1.5, 10, T0)])),
            (OkxStream("ws://x", listed("okx")), okx_message("NEWCOIN-USDT-SWAP", [("sell", "net", 1.5, 10, T0)])),
        ],
        ids=["binance", "bybit", "okx"],
    )
    def test_a_symbol_the_listing_does_not_have_is_skipped_never_guessed(
        self, protocol: StreamProtocol, raw: str
    ) -> None:
        reading = protocol.read(raw)
        assert reading.events == [] and len(reading.unknown) == 1 and "NEWCOIN" in reading.unknown[0]
        assert reading.confirmed, "a push on the subscribed channel still proves the stream alive"

    def test_a_batch_keeps_its_known_symbols_and_reports_the_unknown_one(self) -> None:
        reading = BybitStream("ws://x", listed("bybit")).read(
            bybit_message([("WIFUSDT", "Buy", 2.0, 5, T0), ("NEWCOINUSDT", "Buy", 1.0, 1, T0)])
        )
        assert [(e.asset, e.usd) for e in reading.events] == [("WIF", 10.0)]
        assert reading.unknown == ("NEWCOINUSDT",)

    def test_assets_narrow_to_any_listed_coin(self) -> None:
        """`--assets PEPE`: PEPE is kept (a long-tail coin, not one of the seven), BTC is not (and is not unknown)."""
        stream = BinanceStream("ws://x", listed("binance"), frozenset({"PEPE"}))
        assert stream.recorded() == 1
        assert [e.asset for e in stream.parse(binance_message("1000PEPEUSDT", "SELL", 0.01, 1, T0))] == ["PEPE"]
        btc = stream.read(binance_message("BTCUSDT", "SELL", 90_000.0, 1, T0))
        assert btc.events == [] and btc.unknown == ()


class TestBybitSubscriptions:
    def test_topics_split_into_connections_within_the_args_limit_and_batched_requests(self) -> None:
        """Every trading symbol once; each connection's args within the limit; requests of `batch` topics."""
        stream = BybitStream("ws://x", listed("bybit"), args_limit=120, batch=2)
        topics = [t for shard in stream.shards for t in shard]
        trading = {f"allLiquidation.{r['symbol']}" for r in fake_exchanges.BYBIT_LISTED}
        trading -= {"allLiquidation.BTC-26JUN26"}  # a future, not a perpetual
        assert sorted(topics) == sorted(trading) and stream.connections() > 2
        for connection in range(stream.connections()):
            requests, done = stream.requests(connection, 0)
            args = [json.loads(message)["args"] for _, message in requests]
            assert all(1 <= len(a) <= 2 for a in args)
            assert len(json.dumps([t for a in args for t in a])) <= 120
            assert done == len(stream.shards[connection]) and stream.requests(connection, done) == ([], done)

    def test_a_new_listing_joins_the_last_connection_or_opens_one(self) -> None:
        stream = BybitStream("ws://x", listed("bybit"), args_limit=120, batch=2)
        before = [list(shard) for shard in stream.shards]
        extra = fake_exchanges._bybit_listed("NEWCOINUSDT", "NEWCOIN")
        stream.update(parse_bybit([*fake_exchanges.BYBIT_LISTED, extra]))
        assert stream.shards[: len(before) - 1] == before[:-1], "a live connection never gives a topic up"
        assert [t for shard in stream.shards for t in shard].count("allLiquidation.NEWCOINUSDT") == 1
        last = len(stream.shards) - 1
        requests, _ = stream.requests(last, len(before[last]) if last < len(before) else 0)
        assert [json.loads(m)["args"] for _, m in requests] == [["allLiquidation.NEWCOINUSDT"]]


# ---------------------------------------------------------------- the recorder, every symbol

PRICE = {"BTC": 90_000.0, "ETH": 2_000.0, "PEPE": 0.0000123, "SHIB": 0.0000125, "SATS": 0.0000004}


def coin_price(asset: str) -> float:
    """A price per coin for each asset (USD)."""
    return PRICE.get(asset, 1.5)


def market_script(exchange: str) -> tuple[list[str], dict[str, tuple[str, float]]]:
    """One liquidation of 1,000 USD-per-coin-priced units per listed symbol, in the venue's native units;
    and the expected (asset, usd) per native symbol."""
    script, expected = [], {}
    instruments = [i for i in listed(exchange) if exchange != "bybit" or i.trading]
    for n, instrument in enumerate(instruments):
        price, coins = coin_price(instrument.asset), 100.0 + n
        native_price = price * instrument.multiplier
        if instrument.margin == "inverse":
            size = price * coins / instrument.contract_size  # USD contracts
        else:
            size = coins / instrument.contract_size
        ts = T0 + n
        if exchange == "binance":
            script.append(binance_message(instrument.symbol, "SELL", native_price, size, ts))
        elif exchange == "bybit":
            script.append(bybit_message([(instrument.symbol, "Buy", native_price, size, ts)]))
        else:
            script.append(okx_message(instrument.symbol, [("sell", "net", native_price, size, ts)]))
        expected[instrument.symbol] = (instrument.asset, price * coins)
    return script, expected


async def record_until(recorder: Recorder, done, timeout: float = 30) -> None:
    task = asyncio.create_task(recorder.run(status_every=0))
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline and not task.done():
        await asyncio.sleep(0.05)
    recorder.stop.set()
    await task


def test_the_recorder_stores_every_listed_symbol_and_subscribes_new_listings(
    tmp_path: Path, exchanges: FakeExchanges, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dozens of symbols on three venues: each stored once with its base coin; the SQL sum over all assets
    equals the expected notionals; Bybit's topics are split within the args limit; a symbol listed while
    recording is subscribed at the next refresh and its liquidation stored."""
    scripts = {exchange: market_script(exchange) for exchange in FAKED}
    new_push = bybit_message([("NEWCOINUSDT", "Sell", 2.0, 50, T0 + 999)])
    limit = 200
    fakes = [
        FakeStream("binance", scripts["binance"][0]),
        FakeStream("okx", scripts["okx"][0]),
        FakeStream("bybit", [*scripts["bybit"][0], new_push], route_topics=True, args_limit=limit),
    ]
    source = registry(exchanges)
    db = tmp_path / "l.db"
    with FakeStreams(fakes) as streams:
        urls = {e: s.url for e, s in streams.streams.items()}
        protocols = [
            BinanceStream(urls["binance"], source.listing("binance").instruments),
            OkxStream(urls["okx"], source.listing("okx").instruments),
            BybitStream(
                urls["bybit"],
                source.listing("bybit").instruments,
                heartbeat=0.1,
                silence=5,
                args_limit=limit,
                batch=3,
            ),
        ]
        recorder = Recorder(storage.connect(str(db)), protocols, flush_every=0.1, registry=source, refresh_every=0.3)
        total = sum(len(expected) for _, expected in scripts.values())

        listed_now = [*fake_exchanges.BYBIT_LISTED, fake_exchanges._bybit_listed("NEWCOINUSDT", "NEWCOIN")]

        def listing_grows_once_all_are_stored() -> bool:
            if recorder.committed >= total and fake_exchanges.BYBIT_LISTED is not listed_now:
                monkeypatch.setattr(fake_exchanges, "BYBIT_LISTED", listed_now)  # a listing between two refreshes
            return recorder.committed >= total + 1

        asyncio.run(record_until(recorder, listing_grows_once_all_are_stored))
    rows = frame(str(db), "SELECT exchange, symbol, asset, usd FROM liquidations")
    expected = {(e, symbol): value for e, (_, by_symbol) in scripts.items() for symbol, value in by_symbol.items()}
    expected[("bybit", "NEWCOINUSDT")] = ("NEWCOIN", 100.0)
    got = {(r.exchange, r.symbol): (r.asset, r.usd) for r in rows.itertuples()}
    assert got.keys() == expected.keys() and len(rows) == len(expected) > 36
    for key, (asset, usd) in expected.items():
        assert got[key] == (asset, pytest.approx(usd)), key
    assert [
        got[key][0] for key in [("binance", "1000PEPEUSDT"), ("bybit", "SHIB1000USDT"), ("okx", "BTC-USD-SWAP")]
    ] == [
        "PEPE",
        "SHIB",
        "BTC",
    ]
    sql_total = frame(str(db), "SELECT SUM(usd) AS usd FROM liquidations")["usd"].iloc[0]
    assert sql_total == pytest.approx(sum(usd for _, usd in expected.values()))

    bybit = streams.streams["bybit"]
    subscribed = [t for connection in bybit.topics for t in connection]
    assert len(bybit.topics) > 1 and all(len(json.dumps(c)) <= limit for c in bybit.topics)
    assert sorted(subscribed) == sorted(f"allLiquidation.{s}" for e, s in expected if e == "bybit")
    requests = [json.loads(r) for r in bybit.subscribed]
    assert len(requests) > len(bybit.topics) and all(1 <= len(r["args"]) <= 3 for r in requests)
    assert len(bybit.topics) == len(protocols[2].shards), "new topics go on live connections or a new one"
    assert recorder.status["bybit"].symbols == len(subscribed)
    assert recorder.status["bybit"].state == "stopped" and not recorder.status["bybit"].skipped


def test_an_unknown_symbol_is_counted_and_triggers_a_listing_refresh(
    tmp_path: Path, exchanges: FakeExchanges, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Binance pushes a symbol its listing lacks: skipped, counted as "unknown symbol", the listing is fetched
    again (long before the hourly refresh), and once listed the symbol's next liquidation is stored."""
    unknown = binance_message("NEWCOINUSDT", "SELL", 2.0, 10, T0)
    btc = [binance_message("BTCUSDT", "SELL", 90_000.0, 1, T0 + i) for i in range(8)]
    later = binance_message("NEWCOINUSDT", "SELL", 2.0, 10, T0 + 100)
    fake = FakeStream("binance", [unknown, unknown, *btc, later], interval=0.15)
    source = registry(exchanges)
    db = tmp_path / "l.db"
    with FakeStreams([fake]) as streams:
        protocol = BinanceStream(streams.streams["binance"].url, source.listing("binance").instruments)
        listed_now = [*fake_exchanges.BINANCE_LISTED, fake_exchanges._binance_listed("NEWCOINUSDT", "NEWCOIN")]
        monkeypatch.setattr(fake_exchanges, "BINANCE_LISTED", listed_now)  # listed after the snapshot was taken
        recorder = Recorder(storage.connect(str(db)), [protocol], flush_every=0.05, registry=source, unknown_after=0.2)
        asyncio.run(record_until(recorder, lambda: recorder.committed >= 9))
    assert dict(recorder.status["binance"].skipped) == {UNKNOWN_SYMBOL: 2}
    assert 2 <= len(exchanges.calls(BINANCE_LISTING)) <= 3, "one fetch at start, one (rate-limited) per unknown"
    rows = frame(str(db), "SELECT symbol, asset, usd FROM liquidations ORDER BY ts")
    assert list(rows.itertuples(index=False, name=None)) == [
        *[("BTCUSDT", "BTC", 90_000.0)] * 8,
        ("NEWCOINUSDT", "NEWCOIN", 20.0),
    ]


def test_assets_must_be_listed_somewhere(tmp_path: Path, exchanges: FakeExchanges) -> None:
    """`--assets NOPE`: a clear error naming it (exit 2); the venues' listings decide, not the seven of schema."""
    result = subprocess.run(
        [sys.executable, "-m", "data_sources.recorder", "--assets", "PEPE,NOPE", "--db", str(tmp_path / "l.db")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "no perpetual on Binance, OKX, Bybit has the base coin NOPE" in result.stderr
    assert "(the listings of Gate, Bitget could not be read)" in result.stderr  # conftest: unreachable
    assert "Traceback" not in result.stderr
