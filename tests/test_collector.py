"""The collector against the loopback exchanges (REST fake + WebSocket fakes), writing to SQLite and PostgreSQL:
what it stores equals the adapters' frames, it resumes from the last stored ts, a venue outage is backfilled,
and `kill -9` mid-run loses and duplicates nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from data_sources import storage
from data_sources.base import Query
from data_sources.collector import JOBS, Snapshots
from data_sources.live import LiveSource
from tests.conftest import ROOT
from tests.db import frame, scalar
from tests.fake_exchanges import FAKED, FakeExchanges
from tests.fake_streams import FakeStream, FakeStreams, binance_message, bybit_message
from tests.live_helpers import settings_for

NOW = pd.Timestamp.now(tz="UTC").floor("min") - pd.Timedelta(minutes=1)  # a fixed collector clock, in the fake's past
ASSETS = ["BTC", "ETH"]


def by_key(data: pd.DataFrame) -> pd.DataFrame:
    keys = ["exchange", "asset", "ts", *(["kind"] if "kind" in data.columns else [])]
    return data.sort_values(keys, ignore_index=True)


def snapshots(store, url: str, clock: pd.Timestamp, jobs=None, backfill_days: float = 1.0) -> Snapshots:
    adapters = LiveSource(settings_for(url)).adapters
    return Snapshots(
        store,
        adapters,
        FAKED,
        ASSETS,
        list(jobs or JOBS.values()),
        pd.Timedelta(days=backfill_days),
        clock=lambda: clock.timestamp(),
    )


def assert_stored_equals_adapters(store, url: str, start: pd.Timestamp, end: pd.Timestamp, datasets) -> None:
    adapters = LiveSource(settings_for(url)).adapters
    for dataset in datasets:
        interval = JOBS[dataset].interval
        for exchange in FAKED:
            for asset in ASSETS:
                expected = adapters[exchange].fetch(dataset, Query(asset, exchange, start, end, interval))
                stored = store.series(dataset, asset, exchange, start, end)
                assert len(expected) > 0, (dataset, exchange, asset)
                pd.testing.assert_frame_equal(by_key(stored), by_key(expected), obj=f"{dataset} {exchange} {asset}")


def test_one_run_stores_exactly_the_adapters_frames(db_target: str, exchanges: FakeExchanges) -> None:
    store = storage.connect(db_target)
    reports = snapshots(store, exchanges.url, NOW).run_once()
    assert [r.dataset for r in reports] == list(JOBS) and not any(r.failures for r in reports)
    assert all(r.series == len(FAKED) * len(ASSETS) for r in reports)
    assert_stored_equals_adapters(store, exchanges.url, NOW - pd.Timedelta(days=1), NOW, JOBS)
    fresh = store.freshness()
    assert len(fresh) == len(JOBS) * len(FAKED) * len(ASSETS)
    candles = fresh[fresh["dataset"] == "candles"]
    assert (candles["last_ts"] == NOW - pd.Timedelta(minutes=1)).all()
    store.close()


def test_a_restart_resumes_from_the_last_stored_ts_and_fills_the_gap(db_target: str, exchanges: FakeExchanges) -> None:
    """Down for 3 hours: the next run asks each venue only from the last stored candle (less the overlap)."""
    store = storage.connect(db_target)
    before = NOW - pd.Timedelta(hours=3)
    snapshots(store, exchanges.url, before, [JOBS["candles"]]).run_once()
    exchanges.reset()
    (report,) = snapshots(store, exchanges.url, NOW, [JOBS["candles"]]).run_once()
    assert report.rows == len(FAKED) * len(ASSETS) * (180 + 3)  # the 3 h gap, the last bar and the overlap
    resume_ms = int((before - pd.Timedelta(minutes=1) - JOBS["candles"].overlap).timestamp() * 1000)
    binance = [int(p["startTime"]) for path, p in exchanges.calls("/fapi/v1/klines")]
    bybit = [int(p["start"]) for path, p in exchanges.calls("/v5/market/kline")]
    okx = [int(p["before"]) + 1 for path, p in exchanges.calls("/api/v5/market/")]
    assert binance and bybit and okx
    assert min(binance) == min(bybit) == min(okx) == resume_ms
    assert_stored_equals_adapters(store, exchanges.url, NOW - pd.Timedelta(days=1), NOW, ["candles"])
    for exchange in FAKED:
        count = scalar(db_target, f"SELECT COUNT(*) FROM candles WHERE exchange = '{exchange}' AND asset = 'BTC'")
        assert count == 27 * 60  # the first run's day and the 3 h gap, no more, no less
    store.close()


def test_a_venue_outage_is_logged_and_backfilled_on_the_next_run(
    db_target: str, exchanges: FakeExchanges, caplog: pytest.LogCaptureFixture
) -> None:
    store = storage.connect(db_target)
    exchanges.fail("/api/v5/", status=503, times=10_000)
    (report,) = snapshots(store, exchanges.url, NOW - pd.Timedelta(hours=1), [JOBS["open_interest"]]).run_once()
    assert report.series == 4 and {(e, a) for e, a, _ in report.failures} == {("okx", "BTC"), ("okx", "ETH")}
    assert "OKX is having trouble (HTTP 503)" in report.failures[0][2]
    assert "failed: OKX BTC (OKX is having trouble" in caplog.text
    exchanges.reset()
    (report,) = snapshots(store, exchanges.url, NOW, [JOBS["open_interest"]]).run_once()
    assert not report.failures
    assert_stored_equals_adapters(store, exchanges.url, NOW - pd.Timedelta(days=1), NOW, ["open_interest"])
    store.close()


def test_a_window_never_reaches_past_a_venues_history() -> None:
    shots = Snapshots(None, {}, FAKED, ASSETS, [], pd.Timedelta(days=90), clock=lambda: NOW.timestamp())
    start, end = shots.window(JOBS["ratios"], "binance", None)
    assert end == NOW and NOW - pd.Timedelta(days=30) < start < NOW - pd.Timedelta(days=29)
    start, _ = shots.window(JOBS["open_interest"], "okx", NOW - pd.Timedelta(days=20))
    assert NOW - pd.Timedelta(days=5) < start < NOW - pd.Timedelta(days=4)
    start, _ = shots.window(JOBS["candles"], "bybit", None)
    assert start == NOW - pd.Timedelta(days=90)
    start, _ = shots.window(JOBS["candles"], "bybit", NOW - pd.Timedelta(hours=2))
    assert start == NOW - pd.Timedelta(hours=2, minutes=2)


def streams_scripts(now_ms: int) -> tuple[FakeStream, FakeStream]:
    binance = FakeStream(
        "binance",
        [
            binance_message("ETHUSDT" if i % 2 else "BTCUSDT", "SELL" if i % 3 else "BUY", 100.0 + i, 0.5, now_ms + i)
            for i in range(400)
        ],
        interval=0.01,
    )
    bybit = FakeStream(
        "bybit",
        [bybit_message([("BTCUSDT", "Buy", 9e4, 0.01 * (i + 1), now_ms + i * 3)]) for i in range(200)],
        interval=0.02,
    )
    return binance, bybit


def collector(db: str, fake: FakeExchanges, streams: FakeStreams) -> subprocess.Popen:
    env = {
        **os.environ,
        **dict(streams.env()),
        **{f"LIQSCOPE_{name}_URL": fake.url for name in ("BINANCE", "OKX", "BYBIT")},
        "PYTHONUNBUFFERED": "1",
    }
    command = ["--exchanges", "binance,okx,bybit", "--assets", ",".join(ASSETS), "--db", db, "--backfill", "1"]
    return subprocess.Popen(
        [sys.executable, "-m", "data_sources.collector", *command, "--flush-every", "0.2", "--status-every", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except Exception:  # the schema may not exist yet
            pass
        time.sleep(0.1)
    return False


def test_kill_9_mid_run_loses_nothing_committed_and_a_restart_duplicates_nothing(
    db_target: str, exchanges: FakeExchanges
) -> None:
    storage.connect(db_target).close()
    series_count = len(JOBS) * len(FAKED) * len(ASSETS)
    binance, bybit = streams_scripts(int(time.time() * 1000))
    with FakeStreams([binance, bybit]) as streams:
        first = collector(db_target, exchanges, streams)
        assert wait_for(
            lambda: (
                scalar(db_target, "SELECT COUNT(*) FROM liquidations") >= 100
                and scalar(db_target, "SELECT COUNT(*) FROM dataset_freshness") >= 3
            )
        ), first.stderr.read() if first.poll() is not None else "no rows"
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        survived = frame(db_target, "SELECT dataset, exchange, asset, first_ts, last_ts FROM dataset_freshness")
        events = scalar(db_target, "SELECT COUNT(*) FROM liquidations")
        for row in survived.itertuples():  # every series whose transaction committed is complete
            stored = scalar(
                db_target,
                f"SELECT COUNT(DISTINCT ts) FROM {row.dataset} WHERE exchange = '{row.exchange}' "
                f"AND asset = '{row.asset}'",
            )
            assert stored > 0 and row.first_ts <= row.last_ts
        killed_at = pd.Timestamp.now(tz="UTC")
        binance.sent = bybit.sent = 0  # the restarted collector sees every message again
        second = collector(db_target, exchanges, streams)
        assert wait_for(
            lambda: (
                scalar(db_target, "SELECT COUNT(*) FROM liquidations") == 600
                and scalar(db_target, "SELECT COUNT(*) FROM dataset_freshness") == series_count
                and pd.Timestamp(
                    int(scalar(db_target, "SELECT MIN(written_ms) FROM dataset_freshness")), unit="ms", tz="UTC"
                )
                > killed_at
            ),
            timeout=90,
        )
        second.send_signal(signal.SIGTERM)
        _, err = second.communicate(timeout=30)
    assert second.returncode == 0, err
    assert "stopped; " in err and "Traceback" not in err
    assert events >= 100
    rows = frame(db_target, "SELECT * FROM liquidations")
    assert len(rows) == 600 and not rows.duplicated(["exchange", "symbol", "ts", "side", "price", "qty"]).any()
    store = storage.connect(db_target)
    fresh = store.freshness()
    for dataset, rows in fresh.groupby("dataset"):  # one unbroken run per series, from the first backfill on
        start, end = rows["first_ts"].max(), rows["last_ts"].min() + pd.Timedelta(milliseconds=1)
        assert_stored_equals_adapters(store, exchanges.url, start, end, [dataset])
    candles = fresh[fresh["dataset"] == "candles"]
    assert (candles["last_ts"] - candles["first_ts"] >= pd.Timedelta(hours=23, minutes=50)).all()
    store.close()


def test_bad_arguments_are_clear() -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "data_sources.collector", "--datasets", "candles,trades"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "choose from liquidations, candles, ratios, open_interest, funding" in bad.stderr
    assert "Traceback" not in bad.stderr
