"""Gate (USDT perpetuals): parsers on the docs' payloads, units through `quanto_multiplier`, the side convention,
liquidation history from `contract_stats`, paging, errors, and the `futures.public_liquidates` stream through a
loopback WebSocket and the real recorder.

`tests/payloads/gate/*.json` are copies of `shared/reference/payloads/gate_*.json` (provenance in its SOURCES.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_sources.base import NoCoverage, Query
from data_sources.decode import Malformed
from data_sources.http import BadPayload, RateLimited, UnknownSymbol, Upstream, UpstreamError
from data_sources.instruments import Instrument
from data_sources.recorder import Recorder
from data_sources.store import SqliteStore
from data_sources.streams import Reading
from data_sources.venues import gate
from tests.fakes.gate import CONTRACTS, FakeGate, FakeGateStream, contract_row, liquidates_message

PAYLOADS = Path(__file__).parent / "payloads" / "gate"
T0 = 1_795_000_000_000
FAST = {"heartbeat": 0.1, "silence": 0.4}


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def listed() -> list[Instrument]:
    """The fake's contract list, parsed as the registry will."""
    return gate.parse_listing(CONTRACTS)


def hour(offset_hours: float) -> pd.Timestamp:
    """A whole hour `offset_hours` from now (negative: the past)."""
    return pd.Timestamp.now(tz="UTC").floor("h") + pd.Timedelta(hours=offset_hours)


# ---------------------------------------------------------------- parsers on the docs' payloads


class TestListing:
    def test_docs_contract_is_linear_with_quanto_multiplier_coins_per_contract(self) -> None:
        """`BTC_USDT` `quanto_multiplier "0.0001"`: one contract is 0.0001 BTC; prices are per one BTC."""
        assert gate.parse_listing(payload("futures_contracts")) == [
            Instrument("gate", "BTC_USDT", "BTC", "linear", "USDT", 0.0001, 1.0, "trading")
        ]

    def test_statuses_inverse_rows_and_unusable_rows(self, caplog: pytest.LogCaptureFixture) -> None:
        """prelaunch/delisting/delisted map to pending/settling/closed; an inverse row is skipped, not guessed; a
        row without a usable multiplier is logged and skipped without losing the others."""
        rows = [
            contract_row("NEW_USDT", "1", "prelaunch"),
            contract_row("OLD_USDT", "1", "delisting"),
            contract_row("LUNA_USDT", "1", "delisted"),
            {**contract_row("ETH_USDT", "0.01"), "in_delisting": True},
            contract_row("BTC_USD", "0", kind="inverse"),
            contract_row("BAD_USDT", "0"),
        ]
        with caplog.at_level(logging.WARNING, logger="liqscope.gate"):
            found = {i.symbol: i.status for i in gate.parse_listing(rows)}
        assert found == {"NEW_USDT": "pending", "OLD_USDT": "settling", "LUNA_USDT": "closed", "ETH_USDT": "settling"}
        assert "BAD_USDT" in caplog.text

    def test_not_a_list_is_a_clear_error(self) -> None:
        with pytest.raises(BadPayload, match="Gate sent an unexpected answer for contracts"):
            gate.parse_listing({"label": "SERVER_ERROR"})


class TestRestParsers:
    def test_candles_times_are_seconds_and_volume_is_contracts_times_quanto(self) -> None:
        """`t` 1539852480 is 2018-10-18 08:48 (seconds, not ms); `v` 97151 contracts x 0.0001 = 9.7151 coins."""
        frame = gate.parse_candles(payload("futures_candlesticks"), "BTC", 0.0001)
        row = frame.iloc[0]
        assert row["ts"] == pd.Timestamp("2018-10-18 08:48", tz="UTC")
        assert (row["open"], row["close"], row["quote_volume"]) == (1.032, 1.032, 3580.0)
        assert row["volume"] == pytest.approx(9.7151)

    def test_contract_stats_ratios_and_open_interest(self) -> None:
        """Ratios are longs per short: `lsr_account` 0.5 is a long share of 1/3; OI is `open_interest_usd`."""
        raw = payload("futures_contract_stats")
        ratios = gate.parse_ratios(raw, "BTC").set_index("kind")
        assert ratios.loc["accounts", "long_share"] == pytest.approx(1 / 3)
        assert ratios.loc["top_accounts", "long_share"] == pytest.approx(0.6)
        assert ratios.loc["top_positions", "ratio"] == pytest.approx(1.02)
        assert ratios.loc["taker", "short_share"] == pytest.approx(1 / 101)
        assert set(ratios["ts"]) == {pd.Timestamp(1603865400, unit="s", tz="UTC")}
        assert gate.parse_open_interest(raw, "BTC")["usd"].tolist() == [1511.0]

    def test_contract_stats_liquidations_are_usd_buckets_named_by_the_field(self) -> None:
        """`long_liq_usd` is the long side, `short_liq_usd` the short side; zero sides give no row; `_new` (mark
        price) is not used; price and qty are unknown, as for Coinalyze buckets."""
        (row,) = payload("futures_contract_stats")
        assert gate.parse_liquidations([row], "BTC").empty
        stats = [{**row, "long_liq_usd": 1000.0, "long_liq_usd_new": 1010.0, "short_liq_usd": 0, "short_liq_size": 0}]
        stats.append({**row, "time": row["time"] + 300, "long_liq_usd": 0, "short_liq_usd": 250.5})
        frame = gate.parse_liquidations(stats, "BTC")
        assert frame[["side", "usd"]].values.tolist() == [["long", 1000.0], ["short", 250.5]]
        assert frame["price"].isna().all() and frame["qty"].isna().all()
        assert set(frame["exchange"]) == {"gate"}

    def test_funding_rate_string_and_seconds(self) -> None:
        frame = gate.parse_funding(payload("futures_funding_rate"), "BTC")
        assert frame[["ts", "rate"]].values.tolist() == [[pd.Timestamp("2018-12-05", tz="UTC"), 0.000157]]


# ---------------------------------------------------------------- the stream decoder on its own


class TestStreamDecoder:
    def stream(self) -> gate.GateStream:
        return gate.GateStream("ws://127.0.0.1:9", listed())

    def test_ack_confirms_and_pong_is_neither_event_nor_problem(self) -> None:
        stream = self.stream()
        assert stream.read(json.dumps(payload("ws_public_liquidates_subscribe_ack"))) == Reading(confirmed=True)
        assert stream.read(json.dumps(payload("ws_futures_pong"))) == Reading()

    def test_refusal_carries_the_venues_words(self) -> None:
        refusal = {
            "time": 1,
            "channel": gate.CHANNEL,
            "event": "subscribe",
            "error": {"code": 2, "message": "invalid argument"},
        }
        assert self.stream().read(json.dumps(refusal)).refused == "invalid argument (code 2)"

    def test_side_convention_negative_order_size_is_a_long(self) -> None:
        """ETH_USDT (0.01 ETH per contract): -200 is a SELL liquidation order closing a long of 2 ETH, +300 a BUY
        closing a short of 3 ETH. An inverted mapping, or contracts read as coins, fails here."""
        raw = liquidates_message([("ETH_USDT", -200, 2000.0, T0), ("ETH_USDT", 300, 2001.0, T0 + 1)])
        events = self.stream().parse(raw)
        assert [(e.asset, e.side, e.qty, e.usd) for e in events] == [
            ("ETH", "long", pytest.approx(2.0), pytest.approx(4000.0)),
            ("ETH", "short", pytest.approx(3.0), pytest.approx(6003.0)),
        ]

    def test_both_documented_shapes(self) -> None:
        """2026-08 (price string, `time` ms, batched) and 2025 (price float, `time_ms`); the 2025 example's `BTC_USD`
        is not a USDT contract, so it is reported unknown, never guessed."""
        stream = self.stream()
        batched = stream.read(json.dumps(payload("ws_public_liquidates_2026-08")))
        assert [(e.symbol, e.ts, e.side, e.price, e.qty) for e in batched.events] == [
            ("BTC_USDT", 1541486601123, "long", 215.1, pytest.approx(0.0124)),
            ("BTC_USDT", 1541486601456, "long", 215.2, pytest.approx(0.001)),
        ]
        old = payload("ws_public_liquidates")
        assert stream.read(json.dumps(old)) == Reading(confirmed=True, unknown=("BTC_USD",))
        old["result"][0]["contract"] = "BTC_USDT"
        (event,) = stream.parse(json.dumps(old))
        assert (event.ts, event.side, event.price, event.qty) == (1541486601123, "long", 215.1, pytest.approx(0.0124))

    def test_decimal_string_sizes_and_tracked_assets(self) -> None:
        """`X-Gate-Size-Decimal: 1` sends sizes as decimal strings; assets not asked for are dropped quietly."""
        raw = liquidates_message([("BTC_USDT", "-0.5", 90_000.0, T0), ("ETH_USDT", "12", 2000.0, T0)])
        events = gate.GateStream("ws://x", listed(), frozenset({"BTC"})).parse(raw)
        assert [(e.asset, e.side, e.qty) for e in events] == [("BTC", "long", pytest.approx(0.00005))]

    def test_any_shape_reads_or_is_malformed(self) -> None:
        """A mutated push gives a Reading or raises Malformed, never another exception."""
        stream = self.stream()
        base = json.loads(liquidates_message([("BTC_USDT", -3, 90_000.0, T0)]))
        values = (
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5) | st.just([]) | st.just({})
        )

        @settings(max_examples=300, deadline=None)
        @given(key=st.sampled_from(["channel", "event", "result", "price", "size", "time", "contract"]), value=values)
        def check(key: str, value: object) -> None:
            message = json.loads(json.dumps(base))
            target = message["result"][0] if key in ("price", "size", "time", "contract") else message
            target[key] = value
            try:
                reading = stream.read(json.dumps(message))
            except Malformed as problem:
                assert problem.kind
                return
            for event in reading.events:
                assert event.price > 0 and event.qty > 0 and event.ts > 10**12

        check()


# ---------------------------------------------------------------- REST adapter against the loopback fake


@pytest.fixture(scope="module")
def fake_gate() -> Any:
    with FakeGate() as server:
        yield server


@pytest.fixture()
def fake(fake_gate: FakeGate) -> FakeGate:
    rest = fake_gate.rest
    rest.requests.clear()
    rest.faults.clear()
    rest.stats_fill, rest.funding_fill = "start", "end"
    return fake_gate


def adapter(fake: FakeGate) -> gate.GateAdapter:
    return gate.GateAdapter(fake.url, timeout=5.0)


class TestAdapter:
    def test_candles_volume_in_coins_through_quanto_multiplier(self, fake: FakeGate) -> None:
        """Three days of 1m candles: windows of under 2,000 points with `from`/`to` and no `limit` (the fake refuses
        the rest); the volume equals the market's coins, so contracts read as coins (10,000x) fail."""
        start, end = hour(-72), hour(0)
        frame = adapter(fake).fetch("candles", Query("BTC", "gate", start, end, "1m"))
        market = fake.rest.market.frame("candles", "BTC", "binance", start.value // 10**6, end.value // 10**6, "1m")
        assert len(frame) == len(market) == 72 * 60
        assert frame["volume"].sum() == pytest.approx(market["volume"].sum(), rel=1e-4)
        assert frame["close"].tolist() == pytest.approx(market["close"].tolist())
        calls = fake.rest.calls(gate.CANDLES)
        assert len(calls) >= 3 and all("limit" not in p for _, p in calls)

    def test_2h_candles_are_built_from_1h(self, fake: FakeGate) -> None:
        """Gate documents no 2h interval: 1h bars merged give the market's 2h bars."""
        end = hour(0).floor("2h")  # whole 2h bars, whatever the hour the test runs at
        start = end - pd.Timedelta(hours=48)
        frame = adapter(fake).fetch("candles", Query("ETH", "gate", start, end, "2h"))
        market = fake.rest.market.frame("candles", "ETH", "binance", start.value // 10**6, end.value // 10**6, "2h")
        assert {p["interval"] for _, p in fake.rest.calls(gate.CANDLES)} == {"1h"}
        assert frame["ts"].tolist() == market["ts"].tolist()
        for column in ("open", "high", "low", "close", "volume"):
            assert frame[column].tolist() == pytest.approx(market[column].tolist(), rel=1e-4)

    def test_a_2h_bar_opening_before_an_odd_start_hour_is_left_out(self, fake: FakeGate) -> None:
        """From 1h bars starting at an odd hour, the 2h bar that opened an hour earlier would hold one hour only."""
        start = hour(0).floor("2h") - pd.Timedelta(hours=47)
        frame = adapter(fake).fetch("candles", Query("ETH", "gate", start, start + pd.Timedelta(hours=10), "2h"))
        assert frame["ts"].min() == start + pd.Timedelta(hours=1)

    def test_candles_older_than_10000_points_are_not_covered_with_a_sentence(self, fake: FakeGate) -> None:
        """1m reaches back 10,000 points (~6.9 days): an 8-day-old window is NoCoverage without a request; a window
        straddling the limit is cut at it instead of failing."""
        with pytest.raises(NoCoverage, match=r"Gate serves only the latest 10,000 1m candles \(since "):
            adapter(fake).fetch("candles", Query("BTC", "gate", hour(-8 * 24), hour(-8 * 24 + 2), "1m"))
        assert fake.rest.calls(gate.CANDLES) == []
        frame = adapter(fake).fetch("candles", Query("BTC", "gate", hour(-7 * 24), hour(-6 * 24), "1m"))
        assert frame["ts"].min() >= pd.Timestamp.now(tz="UTC") - pd.Timedelta(minutes=10_000)
        assert frame["ts"].max() == hour(-6 * 24) - pd.Timedelta(minutes=1)

    def test_liquidation_history_equals_the_windows_per_side_buckets(self, fake: FakeGate) -> None:
        """Two days of 5m `contract_stats` (several pages, each one row past `limit`): per side, the history equals
        the sum of the window's `long_liq_usd`/`short_liq_usd` buckets, which are the market's events summed."""
        start, end = hour(-50), hour(-2)
        frame = adapter(fake).fetch("liquidations", Query("BTC", "gate", start, end, "5m"))
        table = fake.rest.stats_table("BTC", "5m")
        window = table[(table["ts"] >= start) & (table["ts"] < end)]
        events = fake.rest.market.frame(
            "liquidations", "BTC", "binance", start.value // 10**6, end.value // 10**6, "1m"
        )
        by_side = frame.groupby("side")["usd"].sum()
        assert (
            by_side["long"]
            == pytest.approx(window["long_usd"].sum())
            == pytest.approx(events.loc[events["side"] == "long", "usd"].sum())
        )
        assert by_side["short"] == pytest.approx(window["short_usd"].sum())
        assert frame["ts"].min() >= start and frame["ts"].max() < end
        assert frame.duplicated(["ts", "side"]).sum() == 0
        assert len(fake.rest.calls(gate.STATS)) >= 5

    def test_stats_page_not_filled_from_from_is_refused_not_kept_partial(self, fake: FakeGate) -> None:
        """If Gate sent the newest rows instead of those from `from`, older buckets would be silently lost."""
        fake.rest.stats_fill = "end"
        with pytest.raises(BadPayload, match="rows in between may be missing"):
            adapter(fake).fetch("liquidations", Query("BTC", "gate", hour(-72), hour(-2), "5m"))

    def test_ratios_and_open_interest_from_contract_stats(self, fake: FakeGate) -> None:
        start, end = hour(-24), hour(-1)
        query = Query("SOL", "gate", start, end, "1h")
        ratios = adapter(fake).fetch("ratios", query)
        market = fake.rest.market.frame("ratios", "SOL", "binance", start.value // 10**6, end.value // 10**6, "1h")
        merged = ratios.merge(market, on=["ts", "kind"], suffixes=("", "_market"))
        assert len(merged) == len(market) == 4 * 23
        assert merged["long_share"].tolist() == pytest.approx(merged["long_share_market"].tolist())
        oi = adapter(fake).fetch("open_interest", query)
        market_oi = fake.rest.market.frame(
            "open_interest", "SOL", "binance", start.value // 10**6, end.value // 10**6, "1h"
        )
        assert oi["usd"].tolist() == pytest.approx(market_oi["usd"].tolist())

    @pytest.mark.parametrize("fill", ["end", "start"])
    def test_funding_whichever_end_an_over_full_range_keeps(self, fake: FakeGate, fill: str) -> None:
        """Newest-first rows in seconds; windows fit one page, so either fill order gives every row once."""
        fake.rest.funding_fill = fill
        start, end = hour(-24 * 20), hour(0)
        frame = adapter(fake).fetch("funding", Query("BTC", "gate", start, end, "1h"))
        market = fake.rest.market.frame("funding", "BTC", "binance", start.value // 10**6, end.value // 10**6, "1h")
        assert frame["ts"].tolist() == market["ts"].tolist() and len(frame) >= 55
        assert frame["rate"].tolist() == pytest.approx(market["rate"].tolist())

    def test_contract_list_pages_by_limit_and_offset(self, fake: FakeGate) -> None:
        """Pages of 3: every contract once, offsets 0, 3, 6, 9; PEPE's multiplier read from the list."""
        upstream = Upstream(gate.NAME, fake.url, gate.URL_SETTING, 5.0, classify=gate.classify)
        found = {i.symbol: i for i in gate.fetch_listing(upstream, page=3)}
        assert sorted(found) == sorted(r["name"] for r in CONTRACTS)
        assert [p["offset"] for _, p in fake.rest.calls(gate.CONTRACTS)] == ["0", "3", "6", "9"]
        assert (found["PEPE_USDT"].contract_size, found["LUNA_USDT"].status) == (10_000_000.0, "closed")

    def test_unknown_contract_and_refused_parameters_carry_gates_words(self, fake: FakeGate) -> None:
        with pytest.raises(UnknownSymbol, match=r"Gate does not list this contract \(Contract not found\)"):
            adapter(fake).fetch("candles", Query("NOPE", "gate", hour(-2), hour(0), "1h"))
        upstream = adapter(fake).upstream
        with pytest.raises(UpstreamError, match=r"HTTP 400 INVALID_PARAM_VALUE.*limit cannot be used with from or to"):
            upstream.get_json(gate.CANDLES, {"contract": "BTC_USDT", "from": 1, "limit": 5})

    def test_429_too_many_requests_after_retries_is_rate_limited(self, fake: FakeGate) -> None:
        fake.rest.fail(gate.PREFIX, 429, "TOO_MANY_REQUESTS", "Request Rate limit Exceeded", times=10)
        with pytest.raises(RateLimited, match="HTTP 429"):
            adapter(fake).fetch("funding", Query("BTC", "gate", hour(-24), hour(0), "1h"))


# ---------------------------------------------------------------- the stream through a loopback WebSocket


def run(recorder: Recorder, done: Any, timeout: float = 15) -> None:
    """Run the recorder until `done()` (checked every 20 ms) or `timeout`, then stop it."""

    async def go() -> None:
        task = asyncio.create_task(recorder.run(status_every=0))
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline and not task.done():
            await asyncio.sleep(0.02)
        recorder.stop.set()
        await task

    asyncio.run(go())


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


def stored(db: Path) -> int:
    return rows(db, "SELECT COUNT(*) FROM liquidations")[0][0]


class TestStreamLoopback:
    def test_every_pushed_event_is_stored_once_with_asset_side_and_usd(self, tmp_path: Path) -> None:
        """Both push shapes, batches, both signs, a 10,000,000-per-contract PEPE and an unlisted contract: each
        liquidation is stored once, in coins and USD; the ack (to `["!all"]` with a current `time`) confirms."""
        pushes = [
            liquidates_message([("BTC_USDT", -1500, 90_000.0, T0), ("BTC_USDT", 700, 90_100.0, T0 + 5)]),
            liquidates_message([("ETH_USDT", 250, 2_000.0, T0 + 10)], shape="2025"),
            liquidates_message([("PEPE_USDT", -4, 0.0000123, T0 + 20), ("DOGE_USDT", "-35", 0.2, T0 + 30)]),
            liquidates_message([("NOTLISTED_USDT", -1, 1.0, T0 + 40)]),
        ]
        expected = {
            ("BTC", "long", 0.15, 13_500.0),
            ("BTC", "short", 0.07, 6_307.0),
            ("ETH", "short", 2.5, 5_000.0),
            ("PEPE", "long", 40_000_000.0, 492.0),
            ("DOGE", "long", 350.0, 70.0),
        }
        db = tmp_path / "l.db"
        with FakeGate(FakeGateStream(pushes, interval=0.02)) as fake:
            recorder = Recorder(
                SqliteStore(db), [gate.GateStream(fake.ws_url, listed())], flush_every=0.05, backoff=0.05
            )
            run(recorder, lambda: stored(db) >= len(expected) and recorder.status["gate"].skipped)
        got = rows(db, "SELECT asset, side, qty, usd, exchange, symbol FROM liquidations ORDER BY ts")
        assert {(a, s, round(q, 6), round(u, 6)) for a, s, q, u, _, _ in got} == expected
        assert len(got) == len(expected) and {r[4] for r in got} == {"gate"}
        assert dict(recorder.status["gate"].skipped) == {"unknown symbol": 1}
        (request,) = fake.stream.subscribed
        assert (request["channel"], request["event"], request["payload"]) == (gate.CHANNEL, "subscribe", ["!all"])
        assert abs(request["time"] - time.time()) < 60
        assert rows(db, "SELECT COUNT(*) FROM coverage WHERE exchange = 'gate'")[0][0] == 1

    def test_a_refusal_surfaces_gates_message_and_records_nothing(self, tmp_path: Path) -> None:
        db = tmp_path / "l.db"
        reader = SqliteStore(db)
        seen: list[str] = []
        pushes = [liquidates_message([("BTC_USDT", -1, 90_000.0, T0)])]
        with FakeGate(FakeGateStream(pushes, refuse="invalid argument")) as fake:
            stream = gate.GateStream(fake.ws_url, listed(), **FAST)
            recorder = Recorder(SqliteStore(db), [stream], flush_every=0.05, backoff=0.05)

            def refused() -> bool:
                row = reader.stream_health().get("gate")
                if row is not None and row.state == "refused":
                    seen.append(row.message)
                return bool(seen)

            run(recorder, refused)
        assert seen[0] == "invalid argument (code 2)"
        assert stored(db) == 0 and rows(db, "SELECT COUNT(*) FROM coverage")[0][0] == 0

    @pytest.mark.parametrize("answer_pings", [True, False])
    def test_futures_pong_keeps_a_quiet_stream_alive(self, tmp_path: Path, answer_pings: bool) -> None:
        """No liquidation for 1.5 s: with `futures.pong` answers the one connection stays recording and its
        coverage grows; without them the socket is silent, declared dead and reconnected."""
        db = tmp_path / "l.db"
        with FakeGate(FakeGateStream([], answer_pings=answer_pings)) as fake:
            stream = gate.GateStream(fake.ws_url, listed(), **FAST)
            recorder = Recorder(SqliteStore(db), [stream], flush_every=0.05, backoff=0.05)
            run(recorder, lambda: False, timeout=1.5)
        spans = rows(db, "SELECT start, end FROM coverage WHERE exchange = 'gate'")
        assert fake.stream.pings >= 3
        if answer_pings:
            assert fake.stream.connections == 1 and len(spans) == 1
            assert not recorder.status["gate"].skipped, "a pong is an answer, not a skipped message"
            assert spans[0][1] - spans[0][0] >= 1000
        else:
            assert fake.stream.connections >= 2
            assert all(end - start < 600 for start, end in spans)


def test_tickers_value_open_interest_through_the_quanto_multiplier(fake: FakeGate) -> None:
    """`total_size` is contracts: BTC_USDT holds 0.0001 BTC per contract, PEPE_USDT 10,000,000 PEPE."""
    upstream = Upstream("Gate", fake.url, "LIQSCOPE_GATE_URL", 5.0)
    by_symbol = {i.symbol: i for i in gate.fetch_listing(upstream)}
    per_coin = gate.TICKERS.parse(gate.TICKERS.request(upstream), by_symbol)
    expected = fake.rest.open_interest_usd()
    assert per_coin["BTC"] == pytest.approx(expected["BTC"], rel=1e-6)
    assert per_coin["PEPE"] == pytest.approx(expected["PEPE"], rel=1e-3)
    assert "LUNA" not in per_coin  # delisted
    assert fake.rest.calls("/api/v4/futures/usdt/tickers") == [("/api/v4/futures/usdt/tickers", {})]
    with pytest.raises(BadPayload):
        gate.parse_tickers({"label": "x"}, by_symbol)
