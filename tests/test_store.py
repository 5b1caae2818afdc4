"""The store contract, against SQLite and a real PostgreSQL server: dedup, rollups that agree with the
events, migrations, coverage, stream health, concurrent readers, and a writer killed mid-batch."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from data_sources import storage
from data_sources.base import Query, from_ms
from data_sources.demo import SEED_DAY, DemoSource
from data_sources.pg_migrations import MIGRATIONS as PG_MIGRATIONS
from data_sources.pg_migrations import migrate
from data_sources.schema import ALL_ASSETS, conform, empty
from data_sources.store import (
    MIGRATIONS,
    Event,
    LiquidationStore,
    SqliteStore,
    StoreError,
    StreamHealth,
    asset_totals_sql,
    rollup_sql,
)
from tests.conftest import ROOT
from tests.db import frame, scalar
from tests.postgres import PostgresServer

T0 = 1_746_662_400_000  # 2025-05-08 00:00 UTC
DAY = 86_400_000
EVERYTHING = (pd.Timestamp(0, tz="UTC"), pd.Timestamp("2030-01-01", tz="UTC"))


def events(n: int) -> list[Event]:
    return [
        Event(
            "okx",
            "ETH-USDT-SWAP",
            "ETH",
            T0 + i * 7_919_000,
            "long" if i % 3 else "short",
            2000.0 + i,
            0.1 * (i % 7 + 1),
        )
        for i in range(n)
    ]


def utc(ms: int) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC")


@pytest.fixture()
def store(db_target: str) -> Iterator[LiquidationStore]:
    opened = storage.connect(db_target)
    yield opened
    opened.close()


def test_replayed_events_are_ignored(store: LiquidationStore) -> None:
    assert store.insert(events(100)) == 100
    assert store.insert(events(120)) == 20
    assert store.insert([*events(3), *events(3)]) == 0
    assert store.insert([]) == 0


def test_rollups_agree_with_the_events(store: LiquidationStore, db_target: str) -> None:
    store.insert(events(150))
    store.insert(events(400))  # the second batch overlaps the first: only new events reach the rollups
    start, end = utc(T0), utc(T0 + 40 * DAY)
    raw = store.events("ETH", "okx", start, end)
    assert len(raw) == 400
    for step in (60_000, 3_600_000, DAY, 7 * DAY):
        sums = store.buckets("ETH", "okx", start, end, step)
        assert sums["usd"].sum() == pytest.approx(raw["usd"].sum())
        by_side = sums.groupby("side")["usd"].sum()
        assert by_side.to_dict() == pytest.approx(raw.groupby("side")["usd"].sum().to_dict())
        assert (sums["ts"].astype("int64") % step == 0).all()
    for table in ("liquidation_minutes", "liquidation_days"):
        assert scalar(db_target, f"SELECT CAST(SUM(count) AS BIGINT) FROM {table}") == 400


def test_the_whole_market_reads_every_asset_of_one_exchange(store: LiquidationStore) -> None:
    """Events and rollups across assets: every asset of the exchange, no other exchange, sums as per asset."""
    coins = ["BTC", "PEPE", "WIF", "1INCH"]
    store.insert(
        [
            Event(exchange, f"{coin}USDT", coin, T0 + i * 61_000, side, 1.0 + i, 2.0 + k)
            for k, coin in enumerate(coins)
            for exchange in ("okx", "bybit")
            for i, side in enumerate(("long", "short", "long"))
        ]
    )
    start, end = EVERYTHING
    whole = store.market_events("okx", start, end)
    assert set(whole["asset"]) == set(coins) and set(whole["exchange"]) == {"okx"} and len(whole) == 12
    for step in (60_000, DAY):
        sums = store.market_buckets("okx", start, end, step)
        assert set(sums["exchange"]) == {"okx"} and set(sums["asset"]) == {ALL_ASSETS} and sums["price"].isna().all()
        per_side = sums.groupby("side")["usd"].sum().to_dict()
        assert per_side == pytest.approx(whole.groupby("side")["usd"].sum().to_dict())
    totals = store.asset_totals("okx", start, end)
    assert set(totals["exchange"]) == {"okx"} and (totals["ts"] == start).all() and totals["price"].isna().all()
    per_asset = totals.groupby("asset")["usd"].sum().to_dict()
    assert per_asset == pytest.approx(whole.groupby("asset")["usd"].sum().to_dict())


def mixed_events(n: int, offset: int = 0) -> list[Event]:
    """`n` events from index `offset` on: two venues, three coins, both sides, four at a time every ~22 min."""
    coins = ("BTC", "ETH", "PEPE")
    return [
        Event(
            ("okx", "bybit")[i % 2],
            f"{coins[i % 3]}USDT",
            coins[i % 3],
            T0 + i // 4 * 1_337_000 + i % 4 * 7_000,
            "long" if i % 7 < 4 else "short",
            1.5 + (i % 11) * 0.1,
            0.01 * (i % 13 + 1),
        )
        for i in range(offset, offset + n)
    ]


def long_events(n: int, offset: int = 0) -> list[Event]:
    """`mixed_events` spread over about 40 days from T0 (so over whole fortnights, days and minutes)."""
    return [replace(e, ts=T0 + (e.ts - T0) * 16) for e in mixed_events(n, offset)]


ROLLUP_KEYS = {  # each rollup table: its key columns and how each is computed from an event
    "liquidation_minutes": {"exchange": "exchange", "asset": "asset", "side": "side", "minute": "ts / 60000 * 60000"},
    "liquidation_days": {"exchange": "exchange", "asset": "asset", "side": "side", "day": f"ts / {DAY} * {DAY}"},
    "liquidation_market_minutes": {"exchange": "exchange", "side": "side", "minute": "ts / 60000 * 60000"},
    "liquidation_market_days": {"exchange": "exchange", "side": "side", "day": f"ts / {DAY} * {DAY}"},
    "liquidation_fortnights": {
        "exchange": "exchange", "asset": "asset", "side": "side", "fortnight": f"ts / {14 * DAY} * {14 * DAY}",
    },
}  # fmt: skip


def assert_rollups_match_the_events(target: str, events: int) -> None:
    """Every rollup table equals a GROUP BY of the stored events (counts exactly, sums to rounding)."""
    assert scalar(target, "SELECT COUNT(*) FROM liquidations") == events
    for table, keys in ROLLUP_KEYS.items():
        order = ", ".join(str(n + 1) for n in range(len(keys)))
        stored = frame(target, f"SELECT {', '.join(keys)}, count, qty, usd FROM {table} ORDER BY {order}")
        computed = ", ".join(f"{expression} AS {name}" for name, expression in keys.items())
        grouped = frame(
            target,
            f"SELECT {computed}, COUNT(*) AS count, SUM(qty) AS qty, SUM(usd) AS usd FROM liquidations "
            f"GROUP BY {order} ORDER BY {order}",
        )
        pd.testing.assert_frame_equal(stored, grouped, check_dtype=False, rtol=1e-9, obj=table)


def test_rollups_equal_a_group_by_of_the_events_after_mixed_batches(store: LiquidationStore, db_target: str) -> None:
    """New, replayed and in-batch duplicate events: each stored event is counted once in both rollups."""
    assert store.insert(long_events(500)) == 500
    assert store.insert([*long_events(300, 400), *long_events(300, 400)]) == 200  # 100 stored, each one twice
    assert store.insert(long_events(700)) == 0  # a replay of everything
    assert store.insert([long_events(1, 900)[0]] * 5) == 1
    assert_rollups_match_the_events(db_target, 701)


def sqlite_store_at_version(path: Path, version: int, rows: list[Event]) -> None:
    """A SQLite store at schema `version` (its migrations only, rollups kept by whatever that version had) holding
    `rows`, written as that version's recorder did (a duplicate by natural key ignored)."""
    with sqlite3.connect(path) as connection:
        connection.executescript(f"BEGIN; {' '.join(MIGRATIONS[:version])} PRAGMA user_version = {version}; COMMIT;")
        connection.executemany(
            "INSERT OR IGNORE INTO liquidations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(e.exchange, e.symbol, e.asset, e.ts, e.side, e.price, e.qty, e.usd) for e in rows],
        )


def test_a_version_5_sqlite_store_keeps_exact_rollups_and_rolls_up_new_inserts(tmp_path: Path) -> None:
    """A store written by the per-row triggers (before migration 6) migrates with its rollups intact and the
    whole-market and fortnight rollups (migration 7) filled from them; the inserts after it are rolled up by the
    store, once (the triggers are gone)."""
    path = tmp_path / "v5.db"
    sqlite_store_at_version(path, 5, long_events(400))
    store = SqliteStore(path)
    assert store.version == len(MIGRATIONS) == 7
    assert_rollups_match_the_events(str(path), 400)
    assert store.insert(long_events(300, 250)) == 150
    store.close()
    assert_rollups_match_the_events(str(path), 550)


@pytest.mark.parametrize("step", [60_000, 3_600_000, DAY, 7 * DAY])
def test_the_whole_market_per_bucket_frame_is_the_events_summed(store: LiquidationStore, step: int) -> None:
    """`market_buckets` is the normalized frame the pages read: one row per bucket x side with a rollup row, of
    asset `ALL_ASSETS`, ordered by bucket, side; schema dtypes; no price; sums equal to every asset's events'."""
    store.insert(long_events(900))
    events = store.market_events("okx", *EVERYTHING)
    bucket = events["ts"].astype("int64") // step * step
    sums = events.assign(ts=bucket).groupby(["ts", "side"], as_index=False)[["qty", "usd"]].sum()
    expected = sums.assign(ts=from_ms(sums["ts"]), exchange="okx", asset=ALL_ASSETS, price=float("nan"))
    pd.testing.assert_frame_equal(
        store.market_buckets("okx", *EVERYTHING, step), conform("liquidations", expected), rtol=1e-9
    )


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (T0, T0 + 60 * DAY),  # whole days from T0 (a Thursday), across fortnights
        (T0 + 5 * DAY + 3_600_000, T0 + 37 * DAY + 7_260_000),  # partial days at both ends, whole fortnights between
        (T0 + 2 * DAY + 61_000, T0 + 9 * DAY + 59_000),  # partial days, no whole fortnight
        (T0 + 3 * DAY + 600_000, T0 + 3 * DAY + 4_000_000),  # inside one day
        (T0 + 4 * DAY, T0 + 4 * DAY),  # empty
    ],
)
def test_asset_totals_are_each_assets_events_summed_over_any_window(
    store: LiquidationStore, start: int, end: int
) -> None:
    """`asset_totals` (fortnights, days and minutes at the edges) equals each asset's events in [start, end)
    summed per side, whatever the window's alignment."""
    store.insert(long_events(900))
    window = (utc(start), utc(end))
    events = store.market_events("okx", *window)
    expected = events.groupby(["asset", "side"], as_index=False)[["qty", "usd"]].sum()
    expected = conform("liquidations", expected.assign(ts=window[0], exchange="okx", price=float("nan")))
    pd.testing.assert_frame_equal(store.asset_totals("okx", *window), expected, rtol=1e-9)


def test_a_year_of_the_whole_market_reads_its_rollups_in_index_order(db_target: str) -> None:
    """The whole market's daily read walks the whole-market day rollup's key in its ORDER BY (no sort), and a
    coin ranking reads the fortnight rollup by its key."""
    storage.connect(db_target).close()
    totals_sql, totals_params = asset_totals_sql("okx", 0, 365 * DAY, "%s" if "://" in db_target else "?")
    if db_target.startswith("postgresql://"):
        with psycopg.connect(db_target) as connection:
            connection.execute("SET enable_seqscan = off")  # an empty table would be scanned and sorted
            sql = rollup_sql(DAY, "side", "exchange = %s", "%s", market=True)
            plan = " ".join(row[0] for row in connection.execute(f"EXPLAIN {sql}", ("okx", 0, T0)))
            totals = " ".join(row[0] for row in connection.execute(f"EXPLAIN {totals_sql}", totals_params))
        assert "Sort" not in plan and "liquidation_market_days_pkey" in plan, plan
        assert "liquidation_fortnights_pkey" in totals, totals
        return
    with sqlite3.connect(db_target) as connection:
        sql = rollup_sql(DAY, "side", "exchange = ?", "?", market=True)
        plan = " ".join(row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", ("okx", 0, T0)))
        totals = " ".join(row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {totals_sql}", totals_params))
    assert "TEMP B-TREE" not in plan and "SEARCH liquidation_market_days USING PRIMARY KEY" in plan, plan
    assert "SEARCH liquidation_fortnights USING PRIMARY KEY" in totals, totals


def test_a_version_1_sqlite_store_is_migrated_with_its_days_backfilled(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    sqlite_store_at_version(path, 1, events(50))
    store = SqliteStore(path)
    assert store.version == len(MIGRATIONS)
    days = store.buckets("ETH", "okx", utc(T0), utc(T0 + 10 * DAY), DAY)
    assert days["usd"].sum() == pytest.approx(sum(e.usd for e in events(50) if e.ts < T0 + 10 * DAY))


def test_a_version_1_postgres_store_is_migrated_with_its_days_backfilled(postgres: PostgresServer) -> None:
    url = postgres.database()
    with psycopg.connect(url) as connection:
        migrate(connection, PG_MIGRATIONS[:1])
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO liquidations VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                [(e.exchange, e.symbol, e.asset, e.ts, e.side, e.price, e.qty, e.usd) for e in events(50)],
            )
    store = storage.connect(url)
    assert store.version == len(PG_MIGRATIONS) == len(MIGRATIONS) == 7
    days = store.buckets("ETH", "okx", utc(T0), utc(T0 + 10 * DAY), DAY)
    assert days["usd"].sum() == pytest.approx(sum(e.usd for e in events(50) if e.ts < T0 + 10 * DAY))
    store.close()


def test_opening_again_migrates_nothing_and_keeps_the_data(db_target: str) -> None:
    first = storage.connect(db_target)
    first.insert(events(30))
    version = first.version
    first.close()
    second, third = storage.connect(db_target), storage.connect(db_target)
    assert second.version == third.version == version
    assert len(second.events("ETH", "okx", *EVERYTHING)) == 30
    if db_target.startswith("postgresql://"):
        assert scalar(db_target, "SELECT COUNT(*) FROM schema_version") == version
    second.close()
    third.close()


def test_coverage_intervals_merge_and_clip(store: LiquidationStore) -> None:
    for start, end in ((1_000, 5_000), (4_000, 9_000), (20_000, 30_000)):
        store.open_interval("bybit", start)
        store.extend_interval("bybit", start, end)
    store.open_interval("okx", 2_000)
    spans = store.coverage("bybit", pd.Timestamp(0, tz="UTC"), utc(25_000))
    assert [(a.value // 10**6, b.value // 10**6) for a, b in spans] == [(1_000, 9_000), (20_000, 25_000)]
    store.open_interval("bybit", 20_000)  # a reconnect at the same instant restarts that interval
    assert store.coverage("bybit", utc(15_000), utc(40_000)) == []
    assert store.coverage("okx", *EVERYTHING) == []  # connected, never extended: no time covered yet


def test_latest_is_newest_first_across_exchanges(store: LiquidationStore) -> None:
    store.insert(events(20))
    store.insert([Event("bybit", "ETHUSDT", "ETH", T0 + 5 + i * 7_919_000, "long", 2100.0, 1.0) for i in range(20)])
    store.insert([Event("bybit", "BTCUSDT", "BTC", T0 + 10**12, "long", 1.0, 1.0)])
    latest = store.latest("ETH", ("okx", "bybit"), 5)
    assert list(latest["exchange"]) == ["bybit", "okx", "bybit", "okx", "bybit"]
    assert latest["ts"].is_monotonic_decreasing and latest["ts"].iloc[0] == utc(T0 + 5 + 19 * 7_919_000)
    assert list(store.latest("ETH", ("okx",), 100)["exchange"].unique()) == ["okx"]
    assert store.latest("SOL", ("okx",), 5).empty


def test_stream_health_is_upserted_per_exchange(store: LiquidationStore) -> None:
    if not hasattr(store, "record_health"):
        pytest.skip("SQLite stream_health arrives with the streams branch (migration 3)")
    assert store.stream_health() == {}
    store.record_health(
        [
            StreamHealth("bybit", "recording", "", T0, T0 + 5, T0 + 10),
            StreamHealth("binance", "refused", "Invalid request: unknown stream", None, None, T0 + 10),
        ]
    )
    store.record_health([StreamHealth("bybit", "down", "connection reset", T0, T0 + 5, T0 + 20)])
    assert store.stream_health() == {
        "binance": StreamHealth("binance", "refused", "Invalid request: unknown stream", None, None, T0 + 10),
        "bybit": StreamHealth("bybit", "down", "connection reset", T0, T0 + 5, T0 + 20),
    }


def test_sqlite_and_postgres_answer_identically(tmp_path: Path, postgres: PostgresServer) -> None:
    stores = [storage.connect(tmp_path / "s.db"), storage.connect(postgres.database())]
    mixed = [
        *events(300),
        *(Event("bybit", "ETHUSDT", "ETH", T0 + i * 61_001, "short", 2050.5, 0.3) for i in range(300)),
    ]
    for store in stores:
        assert store.insert(mixed) == 600
        store.open_interval("okx", T0)
        store.extend_interval("okx", T0, T0 + DAY)
        store.open_interval("okx", T0 + 2 * DAY)
        store.extend_interval("okx", T0 + 2 * DAY, T0 + 3 * DAY)
    window = (utc(T0 + 3_600_000), utc(T0 + 20 * DAY))
    sqlite, pg = stores
    pd.testing.assert_frame_equal(sqlite.events("ETH", "okx", *window), pg.events("ETH", "okx", *window))
    pd.testing.assert_frame_equal(sqlite.latest("ETH", ("okx", "bybit"), 50), pg.latest("ETH", ("okx", "bybit"), 50))
    for step in (300_000, 3_600_000, DAY):
        pd.testing.assert_frame_equal(
            sqlite.buckets("ETH", "bybit", *window, step), pg.buckets("ETH", "bybit", *window, step), rtol=1e-12
        )
    assert sqlite.coverage("okx", *window) == pg.coverage("okx", *window)
    assert sqlite.events("BTC", "okx", *window).equals(pg.events("BTC", "okx", *window))
    assert sqlite.buckets("BTC", "okx", *window, DAY).equals(pg.buckets("BTC", "okx", *window, DAY))
    for step in (3_600_000, DAY):
        pd.testing.assert_frame_equal(
            sqlite.market_buckets("bybit", *window, step), pg.market_buckets("bybit", *window, step), rtol=1e-12
        )
    pd.testing.assert_frame_equal(sqlite.asset_totals("okx", *window), pg.asset_totals("okx", *window), rtol=1e-12)
    for store in stores:
        store.close()


def test_a_reader_sees_whole_batches_while_a_writer_commits(db_target: str) -> None:
    writer, reader = storage.connect(db_target), storage.connect(db_target)
    batches, size = 30, 100
    done = threading.Event()

    def write() -> None:
        for b in range(batches):
            writer.insert(
                [Event("okx", "BTC-USDT-SWAP", "BTC", T0 + b * size + i, "long", 1.0, 1.0) for i in range(size)]
            )
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    seen = [0]
    while not done.is_set():
        count = len(reader.events("BTC", "okx", *EVERYTHING))
        assert count % size == 0 and count >= seen[-1]
        seen.append(count)
    thread.join()
    assert len(reader.events("BTC", "okx", *EVERYTHING)) == batches * size
    assert len(seen) > 2
    writer.close()
    reader.close()


def batch(number: int, size: int) -> list[Event]:
    """The `number`-th batch of a writer's sequence: `size` distinct Bybit events, 250 ms apart."""
    first = number * size
    return [
        Event(
            "bybit",
            "BTCUSDT",
            "BTC",
            T0 + (first + i) * 250,
            "long" if i % 2 else "short",
            9e4 + i % 50,
            1e-3 * (i % 9 + 1),
        )
        for i in range(size)
    ]


WRITER = """
import sys
from data_sources import storage
from tests.test_store import batch
store, size = storage.connect(sys.argv[1]), int(sys.argv[2])
for number in range(10_000):
    store.insert(batch(number, size))
    print(number, flush=True)
"""


def test_kill_9_mid_batch_loses_no_committed_batch_and_duplicates_nothing(db_target: str) -> None:
    size = 2_000
    storage.connect(db_target).close()  # the schema exists before the writer starts
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, db_target, str(size)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    acknowledged = [int(writer.stdout.readline()) for _ in range(3)]
    writer.kill()  # SIGKILL, most likely inside the next batch's transaction
    writer.wait(timeout=10)
    writer.stdout.close()
    count = scalar(db_target, "SELECT COUNT(*) FROM liquidations")
    assert count >= (acknowledged[-1] + 1) * size  # every acknowledged batch survived
    assert count % size == 0  # and no half of a batch did
    for table in ("liquidation_minutes", "liquidation_days"):
        assert scalar(db_target, f"SELECT CAST(SUM(count) AS BIGINT) FROM {table}") == count
    committed = count // size
    store = storage.connect(db_target)
    replay = [event for number in range(committed + 2) for event in batch(number, size)]
    assert store.insert(replay) == 2 * size
    store.close()
    rows = frame(db_target, "SELECT * FROM liquidations")
    assert len(rows) == (committed + 2) * size
    assert not rows.duplicated(["exchange", "symbol", "ts", "side", "price", "qty"]).any()
    assert scalar(db_target, "SELECT SUM(usd) FROM liquidation_days") == pytest.approx(rows["usd"].sum())


def demo(dataset: str, asset: str, exchange: str, hours: int = 6, interval: str = "1m") -> pd.DataFrame:
    """A realistic frame of a series dataset: the demo market from its seed day, in the store's key order."""
    frame = DemoSource().fetch(
        dataset, Query(asset, exchange, SEED_DAY, SEED_DAY + pd.Timedelta(hours=hours), interval)
    )
    return frame.sort_values(["ts", "kind"] if dataset == "ratios" else "ts", ignore_index=True)


@pytest.mark.parametrize(("dataset", "interval"), [("candles", "1m"), ("ratios", "5m"), ("open_interest", "5m")])
def test_series_round_trip_and_upsert_by_natural_key(store: LiquidationStore, dataset: str, interval: str) -> None:
    frame = demo(dataset, "ETH", "okx", interval=interval)
    assert store.write_series(dataset, frame, "okx", "ETH") == len(frame)
    everything = store.series(dataset, "ETH", "okx", *EVERYTHING)
    pd.testing.assert_frame_equal(everything, frame)
    changed = frame.copy()
    value = next(c for c in frame.columns if c not in ("ts", "exchange", "asset", "kind"))
    changed[value] = changed[value] * 2
    store.write_series(dataset, pd.concat([changed.iloc[-10:], changed.iloc[-10:]]), "okx", "ETH")
    again = store.series(dataset, "ETH", "okx", *EVERYTHING)
    assert len(again) == len(frame)  # replaced, not added
    pd.testing.assert_frame_equal(again.iloc[-10:].reset_index(drop=True), changed.iloc[-10:].reset_index(drop=True))
    pd.testing.assert_frame_equal(again.iloc[:-10], frame.iloc[:-10])
    window = (frame["ts"].iloc[5], frame["ts"].iloc[20])
    assert store.series(dataset, "ETH", "okx", *window)["ts"].between(*window, inclusive="left").all()
    assert (
        store.series(dataset, "BTC", "okx", *EVERYTHING).empty and store.series(dataset, "ETH", "bybit", *window).empty
    )


def test_ratio_kinds_at_the_same_time_are_distinct_rows(store: LiquidationStore) -> None:
    frame = demo("ratios", "BTC", "binance", hours=1, interval="5m")
    assert frame["kind"].nunique() == 4
    store.write_series("ratios", frame, "binance", "BTC")
    assert store.series("ratios", "BTC", "binance", *EVERYTHING).groupby("kind").size().to_dict() == (
        frame.groupby("kind").size().to_dict()
    )


def test_missing_values_round_trip_as_nan(store: LiquidationStore) -> None:
    frame = demo("candles", "SOL", "bybit", hours=1)
    frame.loc[3, "quote_volume"] = float("nan")
    store.write_series("candles", frame, "bybit", "SOL")
    pd.testing.assert_frame_equal(store.series("candles", "SOL", "bybit", *EVERYTHING), frame)


def test_freshness_tracks_first_and_last_ts_and_the_last_write(store: LiquidationStore) -> None:
    assert store.freshness().empty
    frame = demo("funding", "ETH", "binance", hours=72)
    before = pd.Timestamp.now(tz="UTC").floor("ms")
    store.write_series("funding", frame.iloc[2:], "binance", "ETH")
    store.write_series("funding", frame.iloc[:3], "binance", "ETH")  # an older stretch, backfilled later
    store.write_series("funding", frame.iloc[:0], "binance", "ETH")  # checked again: nothing new
    store.write_series("candles", empty("candles"), "okx", "BTC")  # checked, never anything stored
    fresh = store.freshness()
    assert list(fresh.columns) == ["dataset", "exchange", "asset", "first_ts", "last_ts", "written_at"]
    row = fresh[fresh["dataset"] == "funding"].iloc[0]
    assert (row["exchange"], row["asset"]) == ("binance", "ETH")
    assert (row["first_ts"], row["last_ts"]) == (frame["ts"].min(), frame["ts"].max())
    assert before <= row["written_at"] <= pd.Timestamp.now(tz="UTC")
    never = fresh[fresh["dataset"] == "candles"].iloc[0]
    assert pd.isna(never["first_ts"]) and pd.isna(never["last_ts"]) and never["written_at"] >= before


def test_series_rows_of_another_asset_or_dataset_are_refused(store: LiquidationStore) -> None:
    with pytest.raises(ValueError, match="include okx BTC"):
        store.write_series("candles", demo("candles", "BTC", "okx", hours=1), "okx", "ETH")
    with pytest.raises(ValueError, match="not a stored series"):
        store.write_series("liquidations", demo("candles", "BTC", "okx", hours=1), "okx", "BTC")
    assert store.freshness().empty


def test_series_answers_are_identical_in_sqlite_and_postgres(tmp_path: Path, postgres: PostgresServer) -> None:
    stores = [storage.connect(tmp_path / "s.db"), storage.connect(postgres.database())]
    frames = {d: demo(d, "XRP", "bybit", hours=30, interval="5m") for d in ("candles", "ratios", "open_interest")}
    for store in stores:
        for dataset, rows in frames.items():
            store.write_series(dataset, rows, "bybit", "XRP")
    window = (utc(T0 + 3_600_000), utc(T0 + DAY))
    sqlite, pg = stores
    for dataset in frames:
        pd.testing.assert_frame_equal(
            sqlite.series(dataset, "XRP", "bybit", *window), pg.series(dataset, "XRP", "bybit", *window)
        )
    pd.testing.assert_frame_equal(
        sqlite.freshness().drop(columns="written_at"), pg.freshness().drop(columns="written_at")
    )
    for store in stores:
        store.close()


def test_a_store_a_newer_liqscope_migrated_is_refused_with_what_to_do(db_target: str) -> None:
    """A store at a schema version this code does not know is not opened (an older recorder writing to it would
    skip the newer rollups and leave their totals short): the error says so and names the store."""
    storage.connect(db_target).close()
    newer = len(MIGRATIONS) + 1
    if db_target.startswith("postgresql://"):
        with psycopg.connect(db_target, autocommit=True) as connection:
            connection.execute("INSERT INTO schema_version (version) VALUES (%s)", (newer,))
    else:
        with sqlite3.connect(db_target) as connection:
            connection.execute(f"PRAGMA user_version = {newer}")
    with pytest.raises(StoreError, match=rf"schema version {newer}, newer than this liqscope's \({len(MIGRATIONS)}\)"):
        storage.connect(db_target)


def test_a_sqlite_read_that_fails_is_a_store_error_naming_the_file(tmp_path: Path) -> None:
    """Every read (rollups, coverage, stream health, series, freshness, sent alerts) turns SQLite's error into a
    StoreError naming the file and SQLite's reason (not the query's text), as writes do: the panel that asked
    says why, with no traceback."""
    path = tmp_path / "broken.db"
    store = SqliteStore(path)
    with sqlite3.connect(path) as connection:
        for table in ("coverage", "stream_health", "candles", "dataset_freshness", "alerts_sent"):
            connection.execute(f"DROP TABLE {table}")
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE liquidation_market_days")
    reads = (
        lambda: store.market_buckets("okx", *EVERYTHING, DAY),  # through pandas, which adds the query's text
        lambda: store.coverage("okx", *EVERYTHING),
        store.stream_health,
        lambda: store.series("candles", "ETH", "okx", *EVERYTHING),
        store.freshness,
        lambda: store.sent_alerts(5),
    )
    for read in reads:
        with pytest.raises(StoreError, match=f"Cannot read the liquidation store at {path}: no such table") as raised:
            read()
        assert "SELECT" not in str(raised.value)
    store.close()
