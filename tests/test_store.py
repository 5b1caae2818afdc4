"""The store on its own: dedup, rollups that agree with the events, migrations, coverage."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from data_sources.store import MIGRATIONS, Event, SqliteStore

T0 = 1_746_662_400_000  # 2025-05-08 00:00 UTC
DAY = 86_400_000


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


def test_replayed_events_are_ignored(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    assert store.insert(events(100)) == 100
    assert store.insert(events(120)) == 20


def test_rollups_agree_with_the_events(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    store.insert(events(400))
    start, end = pd.Timestamp(T0, unit="ms", tz="UTC"), pd.Timestamp(T0 + 40 * DAY, unit="ms", tz="UTC")
    raw = store.events("ETH", "okx", start, end)
    for step in (3_600_000, DAY):
        sums = store.buckets("ETH", "okx", start, end, step)
        assert sums["usd"].sum() == pytest.approx(raw["usd"].sum())
        by_side = sums.groupby("side")["usd"].sum()
        assert by_side.to_dict() == pytest.approx(raw.groupby("side")["usd"].sum().to_dict())
        assert (sums["ts"].astype("int64") % step == 0).all()


def test_a_version_1_store_is_migrated_with_its_days_backfilled(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(f"BEGIN; {MIGRATIONS[0]} PRAGMA user_version = 1; COMMIT;")
        connection.executemany(
            "INSERT INTO liquidations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(e.exchange, e.symbol, e.asset, e.ts, e.side, e.price, e.qty, e.usd) for e in events(50)],
        )
    store = SqliteStore(path)
    assert store.version == len(MIGRATIONS) == 3
    start, end = pd.Timestamp(T0, unit="ms", tz="UTC"), pd.Timestamp(T0 + 10 * DAY, unit="ms", tz="UTC")
    days = store.buckets("ETH", "okx", start, end, DAY)
    assert days["usd"].sum() == pytest.approx(sum(e.usd for e in events(50) if e.ts < T0 + 10 * DAY))


def test_coverage_intervals_merge_and_clip(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    for start, end in ((1_000, 5_000), (4_000, 9_000), (20_000, 30_000)):
        store.open_interval("bybit", start)
        store.extend_interval("bybit", start, end)
    spans = store.coverage("bybit", pd.Timestamp(0, tz="UTC"), pd.Timestamp(25_000, unit="ms", tz="UTC"))
    assert [(a.value // 10**6, b.value // 10**6) for a, b in spans] == [(1_000, 9_000), (20_000, 25_000)]
