"""The recorder against loopback WebSocket servers speaking each exchange's protocol."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from components import liquidation_table
from data_sources import storage
from data_sources.recorder import Recorder
from data_sources.venues.binance import BinanceStream
from data_sources.venues.bybit import BybitStream
from data_sources.venues.okx import OkxStream
from tests.conftest import ROOT
from tests.db import frame
from tests.fake_exchanges import FakeExchanges
from tests.fake_streams import FakeStream, FakeStreams, binance_message, bybit_message, listed, okx_message

T0 = 1_763_900_000_000
TRACKED = frozenset({"BTC", "ETH"})


def binance_script(n: int) -> list[str]:
    """n pushes alternating SELL (long liquidated) and BUY (short), plus one untracked symbol."""
    messages = [
        binance_message("BTCUSDT" if i % 2 else "ETHUSDT", "SELL" if i % 3 else "BUY", 100.0 + i, 0.5, T0 + i * 1000)
        for i in range(n)
    ]
    return [*messages, binance_message("PEPEUSDT", "SELL", 0.00001, 1e9, T0)]


def bybit_script(n: int) -> list[str]:
    """n batches of two; `S` is the position side (Buy = long liquidated)."""
    return [
        bybit_message(
            [
                ("BTCUSDT", "Buy", 90_000.0, 0.01 * (i + 1), T0 + i * 500),
                ("BTCUSDT", "Sell", 90_100.0, 0.02, T0 + i * 500 + 1),
            ]
        )
        for i in range(n)
    ]


def okx_script(n: int) -> list[str]:
    """n pushes of ETH swap liquidations in contracts (ctVal 0.1), net mode and hedge mode."""
    return [
        okx_message(
            "ETH-USDT-SWAP", [("sell", "net", 2000.0, 10, T0 + i * 700), ("buy", "short", 2010.0, 3, T0 + i * 700 + 5)]
        )
        for i in range(n)
    ]


async def record_until(recorder: Recorder, done, timeout: float = 20) -> None:
    task = asyncio.create_task(recorder.run(status_every=0))
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    recorder.stop.set()
    await task


class TestParsers:
    def test_binance_sell_order_means_a_long_was_liquidated(self) -> None:
        stream = BinanceStream("ws://x/market", listed("binance"), TRACKED)
        (event,) = stream.parse(binance_message("BTCUSDT", "SELL", 35_000.0, 1.437, T0))
        assert (event.side, event.price, event.qty, event.ts) == ("long", 35_000.0, 1.437, T0)
        (event,) = stream.parse(
            '{"stream":"!forceOrder@arr","data":' + binance_message("ETHUSDT", "BUY", 2e3, 1, T0) + "}"
        )
        assert event.side == "short"
        assert stream.parse(binance_message("PEPEUSDT", "SELL", 1, 1, T0)) == []
        assert stream.url == "ws://x/market/ws/!forceOrder@arr"

    def test_bybit_buy_means_a_long_was_liquidated(self) -> None:
        events = BybitStream("ws://x", listed("bybit"), TRACKED).parse(bybit_script(1)[0])
        assert [(e.side, e.qty, e.usd) for e in events] == [("long", 0.01, 900.0), ("short", 0.02, 90_100 * 0.02)]

    def test_okx_contracts_times_ct_val_and_net_mode_sides(self) -> None:
        events = OkxStream("ws://x", listed("okx"), TRACKED).parse(okx_script(1)[0])
        assert [(e.side, e.qty) for e in events] == [("long", pytest.approx(1.0)), ("short", pytest.approx(0.3))]
        assert OkxStream("ws://x", listed("okx"), TRACKED).parse("pong") == []


def test_store_ends_with_exactly_the_expected_events(db_target: str) -> None:
    fakes = [
        FakeStream("binance", binance_script(40)),
        FakeStream("bybit", bybit_script(25)),
        FakeStream("okx", okx_script(30)),
    ]
    with FakeStreams(fakes) as streams:
        store = storage.connect(db_target)
        protocols = [
            BinanceStream(streams.streams["binance"].url, listed("binance"), TRACKED),
            BybitStream(streams.streams["bybit"].url, listed("bybit"), TRACKED),
            OkxStream(streams.streams["okx"].url, listed("okx"), TRACKED),
        ]
        recorder = Recorder(store, protocols, flush_every=0.1)
        asyncio.run(record_until(recorder, lambda: recorder.committed >= 40 + 50 + 60))
    store.close()
    rows = frame(db_target, "SELECT * FROM liquidations")
    counts = rows.groupby("exchange").size().to_dict()
    assert counts == {"binance": 40, "bybit": 50, "okx": 60}
    binance = rows[rows["exchange"] == "binance"]
    assert (binance["side"] == "long").sum() == sum(1 for i in range(40) if i % 3)
    bybit = rows[rows["exchange"] == "bybit"]
    assert bybit.loc[bybit["side"] == "long", "usd"].sum() == pytest.approx(sum(900.0 * (i + 1) for i in range(25)))
    okx = rows[rows["exchange"] == "okx"]
    assert okx["usd"].sum() == pytest.approx(30 * (2000.0 * 1.0 + 2010.0 * 0.3))
    assert "allLiquidation.BTCUSDT" in streams.streams["bybit"].subscribed[0]
    assert '"channel": "liquidation-orders"' in streams.streams["okx"].subscribed[0]


def test_drop_and_reconnect_records_the_gap_and_no_duplicates(db_target: str) -> None:
    fake = FakeStream("bybit", bybit_script(30), interval=0.01, drop_after=10, overlap=4)
    with FakeStreams([fake]) as streams:
        store = storage.connect(db_target)
        recorder = Recorder(
            store, [BybitStream(streams.streams["bybit"].url, listed("bybit"), TRACKED)], flush_every=0.1, backoff=0.2
        )
        asyncio.run(record_until(recorder, lambda: recorder.committed >= 60))
    rows = frame(db_target, "SELECT * FROM liquidations")
    assert len(rows) == 60 and fake.connections == 2
    intervals = store.coverage("bybit", pd.Timestamp(0, tz="UTC"), pd.Timestamp.now(tz="UTC") + pd.Timedelta(minutes=1))
    store.close()
    assert len(intervals) == 2 and intervals[0][1] < intervals[1][0]


def _recorder(db: Path, streams: FakeStreams) -> subprocess.Popen:
    env = {**os.environ, **dict(streams.env()), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "data_sources.recorder",
            "--exchanges",
            "binance,bybit",
            "--assets",
            "BTC,ETH",
            "--db",
            str(db),
            "--flush-every",
            "0.2",
            "--status-every",
            "0",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_rows(db: Path, at_least: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        if db.exists():
            try:
                with sqlite3.connect(db) as connection:
                    count = connection.execute("SELECT COUNT(*) FROM liquidations").fetchone()[0]
            except sqlite3.OperationalError:
                count = 0
            if count >= at_least:
                return count
        time.sleep(0.1)
    return count


def test_kill_9_mid_stream_loses_no_committed_event_and_restart_adds_no_duplicate(
    tmp_path: Path, exchanges: FakeExchanges
) -> None:
    """(The recorder reads the venues' listings from the fake exchanges: `exchanges` sets LIQSCOPE_*_URL.)"""
    db = tmp_path / "l.db"
    binance, bybit = (
        FakeStream("binance", binance_script(300), interval=0.01),
        FakeStream("bybit", bybit_script(150), interval=0.02),
    )
    with FakeStreams([binance, bybit]) as streams:
        first = _recorder(db, streams)
        committed_before = _wait_rows(db, 100)
        assert committed_before >= 100
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        with sqlite3.connect(db) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            survived = connection.execute("SELECT COUNT(*) FROM liquidations").fetchone()[0]
        assert survived >= committed_before
        binance.sent = bybit.sent = 0  # the restarted recorder sees every message again
        second = _recorder(db, streams)
        final = _wait_rows(db, 300 + 300, timeout=120)  # returns at 600; a loaded CI machine needed over 40 s
        second.send_signal(signal.SIGTERM)
        _, err = second.communicate(timeout=20)
    assert second.returncode == 0, err
    assert "stopped;" in err
    assert "recording binance (3 symbols), bybit (3 symbols) for BTC, ETH into" in err  # BTCUSDC, BTCPERP too
    assert final == 600
    rows = frame(str(db), "SELECT * FROM liquidations")
    assert not rows.duplicated(["exchange", "symbol", "ts", "side", "price", "qty"]).any()
    with sqlite3.connect(db) as connection:
        rollup = connection.execute("SELECT SUM(count), SUM(usd) FROM liquidation_minutes").fetchone()
    assert rollup[0] == 600 and rollup[1] == pytest.approx(rows["usd"].sum())


def test_bad_arguments_and_unwritable_db_are_clear(tmp_path: Path) -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "data_sources.recorder", "--exchanges", "ftx"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "choose from binance, okx, bybit" in bad.stderr
    blocker = tmp_path / "file"
    blocker.write_text("")
    unwritable = subprocess.run(
        [sys.executable, "-m", "data_sources.recorder", "--db", str(blocker / "x.db")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unwritable.returncode == 2 and "Cannot open the liquidation store" in unwritable.stderr
    assert "Traceback" not in unwritable.stderr


def test_app_reading_a_recorded_store_matches_a_direct_sql_sum(
    db_target: str, exchanges, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events the recorder stored appear in the app (LIQSCOPE_DB: a file or a URL) with exactly the totals SQL gives."""
    from streamlit.testing.v1 import AppTest

    from components import summary

    now = int(time.time() * 1000)
    binance = FakeStream(
        "binance",
        [binance_message("ETHUSDT", "SELL" if i % 4 else "BUY", 2000.0 + i, 1.5, now - 60_000 + i) for i in range(80)],
    )
    bybit = FakeStream(
        "bybit", [bybit_message([("ETHUSDT", "Sell", 2100.0, 0.5 + i, now - 30_000 + i)]) for i in range(40)]
    )
    with FakeStreams([binance, bybit]):
        store = storage.connect(db_target)
        protocols = [
            BinanceStream(binance.url, listed("binance"), TRACKED),
            BybitStream(bybit.url, listed("bybit"), TRACKED),
        ]
        recorder = Recorder(store, protocols, flush_every=0.1)
        asyncio.run(record_until(recorder, lambda: recorder.committed >= 120))
    store.close()
    total, shorts = frame(
        db_target,
        "SELECT SUM(usd), SUM(CASE WHEN side = 'short' THEN usd ELSE 0 END) FROM liquidations WHERE asset = 'ETH'",
    ).iloc[0]
    monkeypatch.setenv("LIQSCOPE_DATA", "live")
    monkeypatch.setenv("LIQSCOPE_DB", db_target)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(
        {
            "range": [time.strftime("%Y-%m-%d", time.gmtime())],
            "assets": ["ETH"],
            "exchanges": ["binance", "bybit"],
            "interval": "1h",
        }
    )
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Total liquidations"] == summary.usd(total)
    assert metrics["Shorts liquidated"] == summary.usd(shorts)
    notes = " ".join(c.value for c in at.caption)
    assert "Binance: recorded" in notes and "lower bound" in notes
    at.switch_page("app_pages/asset.py").run()
    feed = at.dataframe[-1].value
    assert len(feed) == 15 and feed[liquidation_table.TIME].is_monotonic_decreasing


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_the_listings_load_stops_at_once_with_exit_0(
    tmp_path: Path, exchanges: FakeExchanges, signum: int
) -> None:
    """Ctrl-C during start-up (the venues' listings are slow to answer) exits 0 promptly, not after the fetch."""
    for prefix in ("/fapi/v1/exchangeInfo", "/v5/market/instruments-info"):
        exchanges.fail(prefix, status=200, delay=30.0, times=5)
    with FakeStreams([FakeStream("binance", binance_script(5))]) as streams:
        recorder = _recorder(tmp_path / "l.db", streams)
        time.sleep(1.5)
        started = time.monotonic()
        recorder.send_signal(signum)
        _, err = recorder.communicate(timeout=15)
    assert recorder.returncode == 0, err
    assert time.monotonic() - started < 5
    assert "stopped before recording started" in err
