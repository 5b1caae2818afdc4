"""Streams that say when they are not recording, against loopback fakes in each venue's format.

Refused subscriptions, malformed messages, silent open sockets, 404 handshakes and
crashing decoders each end in a stream_health state and the right coverage, never in a
silently dead collector.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_sources.decode import Malformed
from data_sources.recorder import Recorder
from data_sources.store import SqliteStore, StreamHealth
from data_sources.stream_health import describe, sentence
from data_sources.stream_runner import StreamStatus, classify_failure
from data_sources.streams import Reading, StreamProtocol
from data_sources.venues.binance import BinanceStream
from data_sources.venues.bybit import BybitStream
from data_sources.venues.okx import OkxStream
from tests.fake_streams import FakeStream, FakeStreams, binance_message, bybit_message, listed, okx_message

T0 = 1_763_900_000_000
TRACKED = frozenset({"BTC", "ETH"})
FAST = {"heartbeat": 0.1, "silence": 0.4}


def valid(exchange: str, i: int) -> str:
    """One valid push carrying one tracked liquidation with a distinct timestamp."""
    if exchange == "binance":
        return binance_message("BTCUSDT", "SELL", 90_000.0 + i, 0.5, T0 + i)
    if exchange == "bybit":
        return bybit_message([("BTCUSDT", "Buy", 90_000.0 + i, 0.5, T0 + i)])
    return okx_message("ETH-USDT-SWAP", [("sell", "net", 2000.0 + i, 10, T0 + i)])


def protocol(exchange: str, url: str, **timing: float) -> StreamProtocol:
    if exchange == "binance":
        return BinanceStream(url, listed("binance"), TRACKED, **timing)
    if exchange == "bybit":
        return BybitStream(url, listed("bybit"), TRACKED, **timing)
    return OkxStream(url, listed("okx"), TRACKED, **timing)


def run(recorder: Recorder, done: Callable[[], bool], timeout: float = 15) -> None:
    """Run the recorder until `done()` (checked every 20 ms) or `timeout`, then stop it."""

    async def go() -> None:
        task = asyncio.create_task(recorder.run(status_every=0))
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline and not task.done():
            await asyncio.sleep(0.02)
        recorder.stop.set()
        await task

    asyncio.run(go())


def coverage_rows(db: Path, exchange: str) -> list[tuple[int, int]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT start, end FROM coverage WHERE exchange = ? ORDER BY start", (exchange,)
        ).fetchall()


def stored(db: Path) -> int:
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT COUNT(*) FROM liquidations").fetchone()[0]


# ---------------------------------------------------------------- decoders under hypothesis

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "abc", "1e400", "nan", "-1", "0", "12.5", "²", "1" * 30]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["s", "data", "o", "x"]), inner),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a dict key or list item inside a JSON value."""
    found = []
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in children:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


@st.composite
def mutated(draw: st.DrawFn, exchange: str) -> str:
    """A valid message with one field missing, emptied, retyped or nested differently, or broken JSON."""
    raw = valid(exchange, draw(st.integers(0, 1000)))
    message = json.loads(raw)
    kind = draw(st.sampled_from(["delete", "replace", "wrap_list", "wrap_object", "truncate"]))
    if kind == "truncate":
        return raw[: draw(st.integers(0, len(raw) - 1))]
    path = draw(st.sampled_from(_paths(message)))
    parent = message
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if kind == "delete":
        del parent[last]
    elif kind == "replace":
        parent[last] = draw(JSON_VALUES)
    elif kind == "wrap_list":
        parent[last] = [parent[last]]
    else:
        parent[last] = {"data": parent[last]}
    return json.dumps(message)


@pytest.mark.parametrize("exchange", ["binance", "bybit", "okx"])
class TestDecoders:
    def test_any_shape_reads_or_is_malformed_never_anything_else(self, exchange: str) -> None:
        """A message of any unexpected shape gives a Reading or raises Malformed: no other exception."""
        stream = protocol(exchange, "ws://127.0.0.1:9")

        @settings(max_examples=400, deadline=None)
        @given(raw=mutated(exchange) | st.text(max_size=40))
        def check(raw: str) -> None:
            try:
                reading = stream.read(raw)
            except Malformed as problem:
                assert problem.kind
                return
            assert isinstance(reading, Reading)
            for event in reading.events:
                assert event.price > 0 and event.qty > 0 and event.ts > 0 and event.side in ("long", "short")

        check()

    def test_collector_skips_malformed_messages_and_stores_the_next_valid_one(
        self, exchange: str, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        """Through a real socket: bad messages are skipped and counted, and the valid one after them is stored."""

        @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
        @given(bad=st.lists(mutated(exchange), min_size=1, max_size=6))
        def check(bad: list[str]) -> None:
            stream = protocol(exchange, "ws://127.0.0.1:9")
            expected, skipped = set(), 0
            for raw in [*bad, valid(exchange, 5000)]:
                try:
                    reading = stream.read(raw)
                except Malformed:
                    skipped += 1
                    continue
                expected |= {(e.symbol, e.ts, e.side, e.price, e.qty) for e in reading.events}
                skipped += len(reading.unknown)  # a symbol the listing does not have: skipped and counted too
            db = tmp_path_factory.mktemp("s") / "l.db"
            fake = FakeStream(exchange, [*bad, valid(exchange, 5000)])
            with FakeStreams([fake]):
                recorder = Recorder(SqliteStore(db), [protocol(exchange, fake.url)], flush_every=0.05, backoff=0.05)
                run(recorder, lambda: stored(db) >= len(expected))
            status = recorder.status[exchange]
            assert stored(db) == len(expected)
            assert sum(status.skipped.values()) == skipped
            assert fake.connections == 1, "a malformed message must not end the connection"

        check()


def test_one_log_line_per_kind_of_problem_per_minute(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Five messages missing the same field are five skips but one log line, with an excerpt."""
    broken = json.loads(valid("bybit", 1))
    del broken["data"][0]["p"]
    fake = FakeStream("bybit", [json.dumps(broken)] * 5 + ["{not json", valid("bybit", 2)])
    with FakeStreams([fake]), caplog.at_level(logging.WARNING, logger="liqscope.recorder"):
        recorder = Recorder(
            SqliteStore(tmp_path / "l.db"), [BybitStream(fake.url, listed("bybit"), TRACKED)], flush_every=0.05
        )
        run(recorder, lambda: recorder.committed >= 1)
    assert recorder.committed == 1
    assert dict(recorder.status["bybit"].skipped) == {
        "'data[].p' is missing or not a number": 5,
        "invalid JSON": 1,
    }
    lines = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
    assert len(lines) == 2
    assert "allLiquidation.BTCUSDT" in lines[0] and "{not json" in lines[1]


# ---------------------------------------------------------------- refused, silent, misconfigured, crashed

REFUSALS = {
    "okx": "Wrong URL or channel:liquidation-orders,instType:SWAP doesn't exist.",
    "bybit": "error:handler not found,topic:allLiquidation.BTCUSDT",
    "binance": "Invalid request: unknown stream",
}


@pytest.mark.parametrize("exchange", ["binance", "bybit", "okx"])
def test_a_refused_subscription_is_not_recording_with_the_exchanges_words(exchange: str, tmp_path: Path) -> None:
    """The exchange's own message reaches the status and stream_health; no coverage row is written."""
    db = tmp_path / "l.db"
    fake = FakeStream(exchange, [valid(exchange, 1)], refuse=REFUSALS[exchange])
    reader = SqliteStore(db)
    seen: list[tuple[StreamHealth, str, str]] = []

    def refused_row() -> bool:
        row = reader.stream_health().get(exchange)
        if row is not None and row.state == "refused":
            seen.append((row, describe([exchange], db_path=str(db))[exchange], recorder.status[exchange].line(0)))
        return bool(seen)

    with FakeStreams([fake]):
        recorder = Recorder(SqliteStore(db), [protocol(exchange, fake.url, **FAST)], flush_every=0.05, backoff=0.05)
        run(recorder, refused_row)
    row, sentence_seen, line = seen[0]
    assert REFUSALS[exchange] in row.message
    assert f"refused: {REFUSALS[exchange]}" in line
    name = {"binance": "Binance", "okx": "OKX", "bybit": "Bybit"}[exchange]
    assert sentence_seen.startswith(f"{name}: not recording: subscription refused (")
    assert REFUSALS[exchange] in sentence_seen
    assert coverage_rows(db, exchange) == []
    assert stored(db) == 0
    assert reader.stream_health()[exchange].state == "stopped"


@pytest.mark.parametrize("exchange", ["binance", "bybit", "okx"])
def test_a_silent_open_socket_is_reconnected_and_the_gap_recorded(exchange: str, tmp_path: Path) -> None:
    """Silent (no data, no pong) past `silence`: closed, reconnected; coverage ends at the last alive moment."""
    db = tmp_path / "l.db"
    fake = FakeStream(exchange, [valid(exchange, i) for i in range(10)], interval=0.02, silent_after=4)
    states: set[str] = set()
    with FakeStreams([fake]):
        recorder = Recorder(SqliteStore(db), [protocol(exchange, fake.url, **FAST)], flush_every=0.05, backoff=0.05)

        def all_stored() -> bool:
            states.add(recorder.status[exchange].state)
            return stored(db) >= 10

        run(recorder, all_stored)
    assert stored(db) == 10 and fake.connections == 2
    assert "down" in states
    (first_start, first_end), (second_start, _) = coverage_rows(db, exchange)
    assert first_start < first_end
    assert second_start - first_end >= FAST["silence"] * 1000 * 0.9, "coverage must end at the last alive moment"


def test_a_404_handshake_is_misconfigured_naming_the_setting_and_url(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    fake = FakeStream("okx", [], http_status=404)
    reader = SqliteStore(db)
    rows: list[StreamHealth] = []

    def written() -> bool:
        rows.extend(row for row in [reader.stream_health().get("okx")] if row and row.state != "connecting")
        return bool(rows)

    with FakeStreams([fake]):
        recorder = Recorder(SqliteStore(db), [protocol("okx", fake.url)], flush_every=0.05, backoff=0.05)
        run(recorder, written)
    row = rows[0]
    expected = f"LIQSCOPE_OKX_WS answered 404 at {fake.url}: check the URL"
    assert (row.state, row.message) == ("misconfigured", expected)
    assert sentence(row, row.updated_ms) == f"OKX: not recording: {expected}"
    assert coverage_rows(db, "okx") == []


@pytest.mark.parametrize(("errno", "state"), [(socket.EAI_AGAIN, "down"), (socket.EAI_NONAME, "misconfigured")])
def test_a_host_that_does_not_resolve_names_the_network_and_the_setting(errno: int, state: str) -> None:
    """No DNS (temporary failure) is a drop to retry; a name that does not exist is a configuration error.
    Both say to check this server's network and the setting, not only "the URL"."""
    stream = protocol("okx", "wss://ws.okx.example:8443/ws/v5/public")
    failure = socket.gaierror(errno, "resolver said no")
    got_state, message = classify_failure(stream, failure, False)
    assert got_state == state
    assert message == (
        "cannot resolve the host 'ws.okx.example' of wss://ws.okx.example:8443/ws/v5/public: "
        "check this server's network and DNS, and LIQSCOPE_OKX_WS if you set it"
    )


class Poisoned(BybitStream):
    """A decoder with a bug: an unexpected exception (not Malformed) on one message."""

    def read(self, raw: str) -> Reading:
        if "poison" in raw:
            raise RuntimeError("decoder bug")
        return super().read(raw)


def test_a_crashing_decoder_restarts_the_collector_and_says_crashed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "l.db"
    script = [valid("bybit", i) for i in range(3)] + ['{"poison": 1}'] + [valid("bybit", i) for i in range(3, 6)]
    fake = FakeStream("bybit", script, interval=0.02)
    states: list[str] = []
    with FakeStreams([fake]), caplog.at_level(logging.ERROR, logger="liqscope.recorder"):
        recorder = Recorder(
            SqliteStore(db), [Poisoned(fake.url, listed("bybit"), TRACKED, **FAST)], flush_every=0.05, backoff=0.05
        )

        def watch() -> bool:
            status = recorder.status["bybit"]
            if not states or states[-1] != status.state:
                states.append(status.state)
            return stored(db) >= 6

        run(recorder, watch)
    assert stored(db) == 6 and fake.connections == 2
    assert "crashed" in states and states[-1] == "recording"
    assert any("crashed" in r.getMessage() and "decoder bug" in r.getMessage() for r in caplog.records)
    assert len(coverage_rows(db, "bybit")) == 2


def test_recorder_writes_health_every_flush_and_stopped_on_exit(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    fake = FakeStream("bybit", [valid("bybit", i) for i in range(3)], interval=0.05)
    reader = SqliteStore(db)
    rows: list[StreamHealth] = []
    with FakeStreams([fake]):
        recorder = Recorder(SqliteStore(db), [BybitStream(fake.url, listed("bybit"), TRACKED)], flush_every=0.05)

        def live() -> bool:
            row = reader.stream_health().get("bybit")
            if row is not None and row.state == "recording" and row.last_event_ms:
                rows.append(row)
            return len({row.updated_ms for row in rows}) >= 3

        run(recorder, live)
    assert len({row.updated_ms for row in rows}) >= 3, "a row per flush"
    assert rows[-1].message == "" and rows[-1].last_alive_ms >= rows[-1].last_event_ms
    final = reader.stream_health()["bybit"]
    assert final.state == "stopped" and final.last_event_ms == rows[-1].last_event_ms
    span = reader.coverage("bybit", pd.Timestamp(0, tz="UTC"), pd.Timestamp.now(tz="UTC"))
    assert len(span) == 1


# ---------------------------------------------------------------- sentences for the app

NOW = 1_763_900_000_000


def health(state: str, message: str = "", event_ago: int | None = 3_000, alive_ago: int | None = 1_000, **kw: int):
    return StreamHealth(
        kw.get("exchange", "bybit"),  # type: ignore[arg-type]
        state,
        message,
        None if event_ago is None else NOW - event_ago,
        None if alive_ago is None else NOW - alive_ago,
        NOW - kw.get("updated_ago", 500),
    )


class TestSentences:
    def test_live_stream(self) -> None:
        assert sentence(health("recording"), NOW) == "Bybit: live, last event 3 s ago"
        assert sentence(health("recording", event_ago=None), NOW) == "Bybit: live, no event yet"

    def test_a_recorder_not_writing_for_30_s_is_silent_whatever_it_last_said(self) -> None:
        assert sentence(health("recording", updated_ago=14 * 60_000), NOW) == "Bybit: recorder silent for 14 min"
        assert sentence(health("down", "x", updated_ago=31_000), NOW) == "Bybit: recorder silent for 31 s"

    def test_not_recording_states_carry_the_reason(self) -> None:
        refused = health("refused", "Invalid request (code 2)", exchange="binance")  # type: ignore[arg-type]
        assert sentence(refused, NOW) == "Binance: not recording: subscription refused (Invalid request (code 2))"
        down = health("down", "ConnectionClosedError: no close frame", alive_ago=130_000)
        assert sentence(down, NOW) == "Bybit: reconnecting since 2 min (ConnectionClosedError: no close frame)"
        wrong = health("misconfigured", "LIQSCOPE_BYBIT_WS answered 404 at ws://h/x: check the URL")
        assert sentence(wrong, NOW) == "Bybit: not recording: LIQSCOPE_BYBIT_WS answered 404 at ws://h/x: check the URL"
        assert "crashed (RuntimeError: bug)" in sentence(health("crashed", "RuntimeError: bug"), NOW)
        assert sentence(health("connecting"), NOW) == "Bybit: connecting, not recording yet"
        assert sentence(health("stopped", updated_ago=2 * 3_600_000), NOW) == "Bybit: recorder stopped 2 h ago"

    def test_describe_reads_the_store_for_the_asked_exchanges(self, tmp_path: Path) -> None:
        assert describe(["bybit"], NOW, str(tmp_path / "none.db")) == {}
        store = SqliteStore(tmp_path / "h.db")
        store.record_health([health("recording"), health("refused", "no", exchange="okx")])  # type: ignore[arg-type]
        assert describe(["bybit", "binance"], NOW, str(tmp_path / "h.db")) == {
            "bybit": "Bybit: live, last event 3 s ago"
        }
        assert set(describe(["okx", "bybit"], NOW, str(tmp_path / "h.db"))) == {"okx", "bybit"}


def test_a_url_that_is_not_websocket_is_misconfigured(tmp_path: Path) -> None:
    """`http://` instead of `ws://` in the setting: misconfigured, naming the setting (no socket opened)."""
    db = tmp_path / "l.db"
    recorder = Recorder(SqliteStore(db), [protocol("bybit", "http://127.0.0.1:9/v5/public/linear")], flush_every=0.05)
    seen: list[tuple[str, str]] = []

    def classified() -> bool:
        status = recorder.status["bybit"]
        if status.state != "connecting":
            seen.append((status.state, status.message))
        return bool(seen)

    run(recorder, classified)
    state, message = seen[0]
    assert state == "misconfigured"
    assert message == "LIQSCOPE_BYBIT_WS is not a WebSocket URL ('http://127.0.0.1:9/v5/public/linear'): check the URL"


class TestEventRate:
    """The status line's events per minute, kept in time and memory per message, not per event."""

    def test_counts_the_events_of_the_last_minute(self) -> None:
        """Events older than a minute leave the rate; the total keeps them."""
        status = StreamStatus("bybit")
        status.saw(500, 1_000.0)
        status.saw(300, 1_030.0)
        assert " 800 ev/min" in status.line(1_059.0)
        status.saw(100, 1_070.0)
        assert " 400 ev/min" in status.line(1_070.0)
        assert status.events == 900

    def test_a_burst_is_remembered_as_one_arrival(self) -> None:
        """100,000 events in one message cost one entry (one per event made each message slower than the last)."""
        status = StreamStatus("bybit")
        status.saw(100_000, 1_000.0)
        status.saw(1, 1_001.0)
        assert len(status.recent) == 2
        assert "100001 ev/min" in status.line(1_001.0)
