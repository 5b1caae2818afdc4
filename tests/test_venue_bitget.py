"""Bitget: parsers on the docs' recorded payloads, the adapter against a loopback fake in Bitget's exact formats
(`tests/fakes/bitget.py`), and the sampled `liquidation` topic through a real loopback WebSocket and the recorder.

Payloads in `tests/payloads/bitget/` are the Bitget docs' examples (provenance: shared/reference/payloads/SOURCES.md).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_sources.base import NoCoverage, Query, ms
from data_sources.decode import Malformed
from data_sources.http import BadPayload, RateLimited, UnknownSymbol, Upstream, UpstreamError
from data_sources.instruments import Instrument
from data_sources.recorder import Recorder
from data_sources.store import SqliteStore
from data_sources.venues import bitget
from data_sources.venues.bitget import BitgetAdapter, BitgetStream
from tests.fakes.bitget import CONTRACTS, SOURCE, FakeBitget, FakeBitgetStream, push
from tests.test_stream_status import coverage_rows, run, stored

PAYLOADS = Path(__file__).parent / "payloads" / "bitget"
DAY = pd.Timedelta(days=1)
T0 = 1_763_900_000_000
FAST = {"heartbeat": 0.1, "silence": 0.4}


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def listed() -> list[Instrument]:
    """The fake's contract list, parsed as the registry will parse it."""
    return bitget.parse_listing({"code": "00000", "msg": "success", "requestTime": 0, "data": CONTRACTS})


def today() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").floor("D")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeBitget]:
    with FakeBitget() as fake:
        yield fake


@pytest.fixture()
def fake(server: FakeBitget) -> FakeBitget:
    server.reset()
    return server


# ---------------------------------------------------------------- parsers on the docs' payloads


class TestParsers:
    def test_candles_are_oldest_first_coins_and_usdt(self) -> None:
        """`[ts, open, high, low, close, baseVolume, quoteVolume]` strings -> the candle schema."""
        frame = bitget.parse_candles(bitget.rows_of(payload("v2_mix_market_candles"), "candles"), "BTC")
        assert [t.value // 10**6 for t in frame["ts"]] == [1695835800000, 1695836100000]
        assert frame.iloc[0][["open", "high", "low", "close", "volume", "quote_volume"]].tolist() == [
            26210.5,
            26210.5,
            26194.5,
            26194.5,
            26.26,
            687897.63,
        ]
        assert set(frame["exchange"]) == {"bitget"} and set(frame["asset"]) == {"BTC"}

    def test_account_ratio_comes_from_the_two_shares_not_the_venues_ratio_field(self) -> None:
        """The docs' rows say long 0.01, short 0.12, "ratio" 1.2: the shares win (0.01/0.12), duplicates once."""
        frame = bitget.parse_ratios(bitget.rows_of(payload("v2_mix_market_account_long_short"), "r"), "BTC")
        assert len(frame) == 1
        row = frame.iloc[0]
        assert row["kind"] == "accounts"
        assert row["long_share"] == pytest.approx(0.01 / 0.13)
        assert row["long_share"] + row["short_share"] == pytest.approx(1.0)
        assert row["ratio"] == pytest.approx(0.01 / 0.12)

    def test_open_interest_is_coins_times_price(self) -> None:
        frame = bitget.parse_open_interest(bitget.data(payload("v2_mix_market_open_interest"), "oi"), "BTC", 26_000.0)
        assert frame["usd"].tolist() == pytest.approx([34278.06 * 26_000.0])
        assert int(frame["ts"].iloc[0].value // 10**6) == 1695796781616

    def test_funding_newest_first_becomes_ascending(self) -> None:
        frame = bitget.parse_funding(bitget.rows_of(payload("v2_mix_market_history_fund_rate"), "f"), "BTC")
        assert frame["rate"].tolist() == [0.000013, 0.0005]
        assert [t.value // 10**6 for t in frame["ts"]] == [1695715200000, 1695776400000]

    def test_listing_sizes_are_base_coin_and_size_multiplier_is_only_an_order_step(self) -> None:
        """The docs' BTCUSDT row has `sizeMultiplier` 0.01: one unit of size is still one BTC."""
        assert bitget.parse_listing(payload("v2_mix_market_contracts")) == [
            Instrument("bitget", "BTCUSDT", "BTC", "linear", "USDT", 1.0, 1.0, "trading")
        ]

    def test_listing_keeps_perpetuals_with_their_status(self) -> None:
        by_symbol = {i.symbol: i for i in listed()}
        assert "BTCUSDT1226" not in by_symbol, "delivery contracts are not perpetuals"
        assert by_symbol["LUNAUSDT"].status == "suspended"
        assert by_symbol["PEPEUSDT"].asset == "PEPE" and by_symbol["ETHUSDT"].trading

    def test_error_envelopes_become_typed_errors_with_the_venues_message(self) -> None:
        def envelope(code: str, msg: str) -> dict:
            return {"code": code, "msg": msg, "requestTime": 0, "data": None}

        with pytest.raises(UnknownSymbol, match="Bitget error 40034 for candles: Parameter XUSDT does not exist"):
            bitget.data(envelope("40034", "Parameter XUSDT does not exist"), "candles")
        with pytest.raises(RateLimited, match="Too Many Requests"):
            bitget.data(envelope("429", "Too Many Requests"), "candles")
        with pytest.raises(UpstreamError, match="40019 for funding: Parameter symbol cannot be empty"):
            bitget.data(envelope("40019", "Parameter symbol cannot be empty"), "funding")
        with pytest.raises(BadPayload, match="no code/data envelope"):
            bitget.data([1, 2], "candles")


# ---------------------------------------------------------------- the liquidation topic decoder


class TestStreamDecoder:
    def test_the_docs_push_is_a_long_with_amount_as_usdt_notional(self) -> None:
        """`side: buy` is the POSITION side: a long was liquidated; usd = amount, qty = amount / price."""
        (event,) = BitgetStream("ws://x", listed()).parse(json.dumps(payload("ws_liquidation")))
        assert (event.exchange, event.symbol, event.asset, event.side, event.ts) == (
            "bitget",
            "BTCUSDT",
            "BTC",
            "long",
            1736371332162,
        )
        assert (event.price, event.usd, event.qty) == pytest.approx((89_000.0, 37.722858, 37.722858 / 89_000))

    def test_side_convention_buy_is_long_sell_is_short(self) -> None:
        """One push, a large `buy` and a small `sell` in a falling market (longs wiped out): an inverted mapping
        (reading `side` as the order side, Binance-style) would report the $1M as shorts."""
        raw = push([("ETHUSDT", "buy", 2_000.0, 1_000_000.0, T0), ("ETHUSDT", "sell", 2_010.0, 2_500.0, T0)])
        events = BitgetStream("ws://x", listed()).parse(raw)
        by_side = {e.side: e.usd for e in events}
        assert by_side == pytest.approx({"long": 1_000_000.0, "short": 2_500.0})

    def test_ack_refusal_pong_and_other_topics(self) -> None:
        stream = BitgetStream("ws://x", listed())
        assert stream.read(json.dumps(payload("ws_liquidation_subscribe"))).confirmed
        refusal = {"event": "error", "code": 30001, "msg": "instType:usdt-futures,topic:liquidation doesn't exist"}
        assert stream.read(json.dumps(refusal)).refused == (
            "instType:usdt-futures,topic:liquidation doesn't exist (code 30001)"
        )
        pong = stream.read("pong")
        assert not pong.confirmed and not pong.events and pong.refused is None
        ticker = {"arg": {"instType": "usdt-futures", "topic": "ticker"}, "data": [{}]}
        with pytest.raises(Malformed, match=r"'arg\.topic'"):
            stream.read(json.dumps(ticker))

    def test_a_thousand_coin_base_is_priced_per_coin(self) -> None:
        """A `1000BONK` base (synthetic row): price per 1,000 BONK; $200 at 0.02 is 10,000,000 BONK at $0.00002."""
        row = {**CONTRACTS[0], "symbol": "1000BONKUSDT", "baseCoin": "1000BONK"}
        (instrument,) = bitget.parse_listing({"code": "00000", "msg": "success", "requestTime": 0, "data": [row]})
        assert (instrument.asset, instrument.contract_size, instrument.multiplier) == ("BONK", 1000.0, 1000.0)
        (event,) = BitgetStream("ws://x", [instrument]).parse(push([("1000BONKUSDT", "sell", 0.02, 200.0, T0)]))
        assert (event.asset, event.side) == ("BONK", "short")
        assert (event.price, event.qty, event.usd) == pytest.approx((0.00002, 10_000_000.0, 200.0))

    def test_unknown_symbols_and_untracked_assets_are_not_events(self) -> None:
        stream = BitgetStream("ws://x", listed(), frozenset({"BTC"}))
        reading = stream.read(push([("NEWUSDT", "buy", 1.0, 10.0, T0), ("ETHUSDT", "sell", 2_000.0, 100.0, T0)]))
        assert reading.events == [] and reading.unknown == ("NEWUSDT",) and reading.confirmed

    def test_the_protocol_is_a_lower_bound_and_says_why(self) -> None:
        stream = BitgetStream(bitget.DEFAULT_WS, listed())
        assert stream.lower_bound is True
        assert "LOWER BOUND" in (BitgetStream.__doc__ or "") and "largest" in (BitgetStream.__doc__ or "")
        assert stream.url == "wss://ws.bitget.com/v3/ws/public" and stream.ping == "ping"
        assert stream.requests(0, 0) == (
            [("liquidation", '{"op": "subscribe", "args": [{"instType": "usdt-futures", "topic": "liquidation"}]}')],
            1,
        )
        assert stream.requests(0, 1) == ([], 1)

    @settings(max_examples=300, deadline=None)
    @given(
        data=st.recursive(
            st.none() | st.booleans() | st.integers() | st.sampled_from(["", "buy", "0", "-1", "1e400", "x"]),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.sampled_from(["symbol", "side", "price", "amount", "ts"]), inner)
            ),
            max_leaves=8,
        )
    )
    def test_any_data_shape_reads_or_is_malformed(self, data: Any) -> None:
        """Whatever `data` holds, the decoder gives a Reading with sane events or raises Malformed."""
        message = {"data": data, "arg": {"instType": "usdt-futures", "topic": "liquidation"}, "action": "update"}
        try:
            reading = BitgetStream("ws://x", listed()).read(json.dumps(message))
        except Malformed:
            return
        assert all(e.price > 0 and e.qty > 0 and e.side in ("long", "short") for e in reading.events)


# ---------------------------------------------------------------- the adapter against the loopback fake


def truth(
    fake: FakeBitget, dataset: str, asset: str, start: pd.Timestamp, end: pd.Timestamp, interval: str
) -> pd.DataFrame:
    """The fake market's own frame for the window (the demo's Bybit series, served as Bitget's)."""
    return fake.market.frame(dataset, asset, SOURCE, ms(start), ms(end), interval)


def both_fills(fake: FakeBitget, adapter: BitgetAdapter, query: Query) -> pd.DataFrame:
    """The candles with over-full ranges filled from the end, then from the start: they must be equal."""
    frames = []
    for fill in ("end", "start"):
        fake.fill = fill
        frames.append(adapter.fetch("candles", query))
    pd.testing.assert_frame_equal(frames[0], frames[1])
    return frames[0]


class TestCandles:
    def test_recent_candles_whole_window_either_fill_order(self, fake: FakeBitget) -> None:
        """3 days of 1m bars (4,320 > one page of 1,000) come back whole and once, whichever end a page holds."""
        query = Query("ETH", "bitget", today() - 3 * DAY, today(), "1m")
        frame = both_fills(fake, BitgetAdapter(fake.url), query)
        want = truth(fake, "candles", "ETH", query.start, query.end, "1m")
        assert len(want) > bitget.CANDLE_LIMIT
        assert list(frame["ts"]) == list(want["ts"])
        assert frame["close"].tolist() == pytest.approx(want["close"].tolist())
        assert frame["volume"].tolist() == pytest.approx(want["volume"].tolist())
        paths = {path for path, _ in fake.calls()}
        assert paths == {bitget.CANDLES}
        sent = fake.calls()[0][1]
        assert (sent["productType"], sent["granularity"], sent["symbol"]) == ("USDT-FUTURES", "1m", "ETHUSDT")

    def test_candles_beyond_the_depth_come_from_history_candles(self, fake: FakeBitget) -> None:
        """5m bars older than a month (by the adapter's clock) use `/history-candles`, 200 per page, whole."""
        clock = time.time() + 40 * 86_400
        query = Query("BTC", "bitget", today() - 20 * DAY, today() - 18 * DAY, "5m")
        frame = both_fills(fake, BitgetAdapter(fake.url, clock=lambda: clock), query)
        want = truth(fake, "candles", "BTC", query.start, query.end, "5m")
        assert len(want) > bitget.HISTORY_CANDLE_LIMIT
        assert list(frame["ts"]) == list(want["ts"])
        assert {path for path, _ in fake.calls()} == {bitget.HISTORY_CANDLES}
        assert {int(p["limit"]) for _, p in fake.calls()} == {bitget.HISTORY_CANDLE_LIMIT}

    def test_daily_candles_stay_within_the_90_day_span(self, fake: FakeBitget) -> None:
        """UTC days (`1Dutc`) over the whole demo: each request spans under 90 days (the fake refuses more)."""
        query = Query("SOL", "bitget", today() - 27 * DAY, today() + DAY, "1d")
        frame = both_fills(fake, BitgetAdapter(fake.url), query)
        want = truth(fake, "candles", "SOL", query.start, query.end, "1d")
        assert list(frame["ts"]) == list(want["ts"]) and len(want) >= 27
        assert {p["granularity"] for _, p in fake.calls()} == {"1Dutc"}


class TestRatiosOpenInterestFunding:
    def test_account_ratio_is_the_same_in_either_row_order(self, fake: FakeBitget) -> None:
        """The endpoint's row order is undocumented: ascending and descending answers give one frame."""
        query = Query("BTC", "bitget", today() - DAY, pd.Timestamp.now(tz="UTC") + DAY, "5m")
        frames = []
        for order in ("ascending", "descending"):
            fake.ratio_order = order
            frames.append(BitgetAdapter(fake.url).fetch("ratios", query))
        pd.testing.assert_frame_equal(frames[0], frames[1])
        want = truth(fake, "ratios", "BTC", query.start, query.end, "5m")
        want = want[want["kind"] == "accounts"].iloc[-30:]
        assert list(frames[0]["ts"]) == list(want["ts"])
        assert frames[0]["long_share"].tolist() == pytest.approx(want["long_share"].tolist())
        assert fake.calls()[0][1] == {"symbol": "BTCUSDT", "period": "5m"}

    def test_account_ratio_for_an_old_window_is_not_covered(self, fake: FakeBitget) -> None:
        query = Query("BTC", "bitget", today() - 20 * DAY, today() - 19 * DAY, "1h")
        with pytest.raises(NoCoverage, match="Bitget publishes only its latest account long/short rows"):
            BitgetAdapter(fake.url).fetch("ratios", query)

    def test_open_interest_is_the_current_coins_valued_at_the_last_close(self, fake: FakeBitget) -> None:
        now = pd.Timestamp.now(tz="UTC")
        frame = BitgetAdapter(fake.url).fetch("open_interest", Query("ETH", "bitget", now - DAY, now, "5m"))
        want = truth(fake, "open_interest", "ETH", now - DAY, now + DAY, "5m")["usd"].iloc[-1]
        assert len(frame) == 1 and frame["usd"].iloc[0] == pytest.approx(want, rel=1e-6)
        with pytest.raises(NoCoverage, match="current open interest only"):
            BitgetAdapter(fake.url).fetch("open_interest", Query("ETH", "bitget", now - 5 * DAY, now - 4 * DAY, "5m"))

    def test_funding_pages_reach_the_window_start_once_per_row(
        self, fake: FakeBitget, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Pages of 10 (newest first) walked back past the start: every funding time once, nothing outside."""
        monkeypatch.setattr(bitget, "FUNDING_LIMIT", 10)
        query = Query("BTC", "bitget", today() - 20 * DAY, today() - 5 * DAY, "1h")
        frame = BitgetAdapter(fake.url).fetch("funding", query)
        want = truth(fake, "funding", "BTC", query.start, query.end, "1h")
        assert len(want) > 10
        assert list(frame["ts"]) == list(want["ts"])
        assert frame["rate"].tolist() == pytest.approx(want["rate"].tolist())
        pages = [int(p["pageNo"]) for _, p in fake.calls(bitget.FUNDING)]
        assert pages == list(range(1, len(pages) + 1)) and {p["pageSize"] for _, p in fake.calls()} == {"10"}

    def test_funding_out_of_the_documented_order_is_refused(self, fake: FakeBitget) -> None:
        fake.funding_order = "oldest"
        query = Query("BTC", "bitget", today() - 3 * DAY, today(), "1h")
        with pytest.raises(BadPayload, match="newest-first"):
            BitgetAdapter(fake.url).fetch("funding", query)


class TestCoverageAndErrors:
    def test_liquidations_over_rest_are_not_covered_with_a_reason(self, fake: FakeBitget) -> None:
        query = Query("BTC", "bitget", today() - DAY, today(), "5m")
        with pytest.raises(NoCoverage, match=r"no liquidation history over REST.*lower bound"):
            BitgetAdapter(fake.url).fetch("liquidations", query)
        assert fake.calls() == []

    def test_an_unknown_symbol_names_the_venues_words(self, fake: FakeBitget) -> None:
        query = Query("NOPE", "bitget", today() - DAY, today(), "1h")
        with pytest.raises(UnknownSymbol, match="Bitget error 40034: Parameter NOPEUSDT does not exist"):
            BitgetAdapter(fake.url).fetch("funding", query)

    def test_http_429_is_a_rate_limit(self, fake: FakeBitget) -> None:
        fake.fail(bitget.FUNDING, 429, json.dumps({"code": "429", "msg": "Too Many Requests"}), times=4)
        with pytest.raises(RateLimited, match="HTTP 429"):
            BitgetAdapter(fake.url).fetch("funding", Query("BTC", "bitget", today() - DAY, today(), "1h"))

    def test_the_listing_from_the_fake(self, fake: FakeBitget) -> None:
        raw = BitgetAdapter(fake.url).upstream.get_json(bitget.CONTRACTS, {"productType": bitget.PRODUCT_TYPE})
        symbols = {i.symbol for i in bitget.parse_listing(raw)}
        assert symbols == {f"{a}USDT" for a in ("BTC", "ETH", "SOL", "XRP", "DOGE", "ADA", "BNB", "PEPE", "LUNA")}


# ---------------------------------------------------------------- the stream through a real socket and the recorder


def rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT exchange, symbol, asset, ts, side, price, qty, usd FROM liquidations ORDER BY ts, side"
        ).fetchall()


class TestRecordedStream:
    def test_events_are_stored_once_with_asset_side_and_usd(self, tmp_path: Path) -> None:
        """Pushes after the ack are stored once each (one repeated push included); acks, pongs and unknown
        symbols store nothing; the ack opens a coverage interval."""
        script = [
            push([("BTCUSDT", "buy", 90_000.0, 450_000.0, T0)]),
            push([("ETHUSDT", "sell", 2_500.0, 50_000.0, T0 + 1000), ("ETHUSDT", "buy", 2_490.0, 24_900.0, T0 + 1000)]),
            push([("NEWUSDT", "buy", 1.0, 5.0, T0 + 2000)]),
            push([("BTCUSDT", "buy", 90_000.0, 450_000.0, T0)]),
        ]
        db = tmp_path / "l.db"
        with FakeBitgetStream(script) as fake:
            recorder = Recorder(SqliteStore(db), [BitgetStream(fake.url, listed())], flush_every=0.05, backoff=0.05)
            run(recorder, lambda: stored(db) >= 3 and recorder.status["bitget"].skipped["unknown symbol"] >= 1)
        assert rows(db) == [
            ("bitget", "BTCUSDT", "BTC", T0, "long", 90_000.0, pytest.approx(5.0), pytest.approx(450_000.0)),
            ("bitget", "ETHUSDT", "ETH", T0 + 1000, "long", 2_490.0, pytest.approx(10.0), pytest.approx(24_900.0)),
            ("bitget", "ETHUSDT", "ETH", T0 + 1000, "short", 2_500.0, pytest.approx(20.0), pytest.approx(50_000.0)),
        ]
        assert json.loads(fake.subscribed[0]) == {
            "op": "subscribe",
            "args": [{"instType": "usdt-futures", "topic": "liquidation"}],
        }
        assert fake.connections == 1 and len(coverage_rows(db, "bitget")) == 1

    def test_a_refusal_surfaces_the_venues_message_and_records_nothing(self, tmp_path: Path) -> None:
        words = "instType:usdt-futures,topic:liquidation doesn't exist"
        db = tmp_path / "l.db"
        seen: list[tuple[str, str]] = []
        with FakeBitgetStream([push([("BTCUSDT", "buy", 1.0, 1.0, T0)])], refuse=words) as fake:
            recorder = Recorder(SqliteStore(db), [BitgetStream(fake.url, listed(), **FAST)], flush_every=0.05)

            def refused() -> bool:
                status = recorder.status["bitget"]
                if status.state == "refused":
                    seen.append((status.state, status.message))
                return bool(seen)

            run(recorder, refused)
        assert seen[0] == ("refused", f"{words} (code 30001)")
        assert coverage_rows(db, "bitget") == [] and stored(db) == 0

    @pytest.mark.parametrize("answer_pings", [True, False])
    def test_pong_counts_as_alive(self, tmp_path: Path, answer_pings: bool) -> None:
        """With no liquidations at all, the `pong`s keep the stream recording on one connection; a venue that
        stops answering `ping` is silent and the stream goes down and reconnects."""
        db = tmp_path / "l.db"
        states: set[str] = set()
        with FakeBitgetStream([], answer_pings=answer_pings) as fake:
            stream = BitgetStream(fake.url, listed(), **FAST)
            recorder = Recorder(SqliteStore(db), [stream], flush_every=0.05, backoff=0.05)
            deadline = time.monotonic() + 1.5

            def watch() -> bool:
                states.add(recorder.status["bitget"].state)
                return time.monotonic() > deadline

            run(recorder, watch)
        if answer_pings:
            assert fake.connections == 1 and fake.pings >= 5
            assert sum(recorder.status["bitget"].skipped.values()) == 0, "a pong is not a malformed message"
            assert "down" not in states and "recording" in states
            ((start, end),) = coverage_rows(db, "bitget")
            assert end - start >= 1000, "every pong extends the coverage"
        else:
            assert fake.connections >= 2 and "down" in states


def test_tickers_value_holding_amount_in_coins_at_the_mark_price(fake: FakeBitget) -> None:
    """`holdingAmount` is open interest in coins; a delivery contract and a coin under maintenance do not rank."""
    upstream = Upstream("Bitget", fake.url, "LIQSCOPE_BITGET_URL", 5.0)
    by_symbol = {i.symbol: i for i in listed()}
    per_coin = bitget.TICKERS.parse(bitget.TICKERS.request(upstream), by_symbol)
    expected = fake.open_interest_usd()
    assert per_coin["BTC"] == pytest.approx(expected["BTC"], rel=1e-6)
    assert per_coin["PEPE"] == pytest.approx(expected["PEPE"], rel=1e-6)
    assert "LUNA" not in per_coin
    assert [p for p, q in fake.requests if p.endswith("/tickers")] == ["/api/v2/mix/market/tickers"]
