"""Whole-market aggregates over a year of rollups, on SQLite and PostgreSQL, and the naive baseline.

`fill` writes the minute rollup a recorder would have kept after `days` of realistic flow (the 7
majors busy on three venues, a long tail of small coins liquidated now and then) and derives the other
rollups from it, as migrations 2 and 7 do. `whole_market` is what the overview asks the store for a year
with no coin selected, per exchange: the market's liquidations per day and side (`market_buckets`) and each
coin's over the year (`asset_totals`). The naive baseline sums the minute rows per day and coin instead.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import psycopg

from data_sources.store import FORTNIGHT_MS, LiquidationStore

DAY_MS = 86_400_000
T0 = 1_700_006_400_000  # epoch ms, a UTC midnight
VENUES = {"binance": 0.4, "okx": 0.3, "bybit": 0.3}  # share of the flow
MAJORS = {"BTC": 0.35, "ETH": 0.3, "SOL": 0.1, "XRP": 0.07, "DOGE": 0.08, "ADA": 0.05, "BNB": 0.05}
TAIL = 100  # small coins, a few liquidations an hour each
COLUMNS = ("exchange", "asset", "side", "minute", "count", "qty", "usd")
DERIVED_SQL = (  # the other rollups from the minute rollup, as migrations 2 and 7 derive them
    "INSERT INTO liquidation_days (exchange, asset, side, day, count, qty, usd) "
    f"SELECT exchange, asset, side, minute / {DAY_MS} * {DAY_MS}, SUM(count), SUM(qty), SUM(usd) "
    "FROM liquidation_minutes GROUP BY 1, 2, 3, 4",
    "INSERT INTO liquidation_market_minutes (exchange, side, minute, count, qty, usd) "
    "SELECT exchange, side, minute, SUM(count), SUM(qty), SUM(usd) FROM liquidation_minutes GROUP BY 1, 2, 3",
    "INSERT INTO liquidation_market_days (exchange, side, day, count, qty, usd) "
    "SELECT exchange, side, day, SUM(count), SUM(qty), SUM(usd) FROM liquidation_days GROUP BY 1, 2, 3",
    "INSERT INTO liquidation_fortnights (exchange, asset, side, fortnight, count, qty, usd) "
    f"SELECT exchange, asset, side, day / {FORTNIGHT_MS} * {FORTNIGHT_MS}, SUM(count), SUM(qty), SUM(usd) "
    "FROM liquidation_days GROUP BY 1, 2, 3, 4",
)


def _rows(days: int, events_per_day: int = 300_000) -> Iterator[tuple]:
    """Minute rollup rows (COLUMNS) of `days` days, series by series."""
    rng = np.random.default_rng(5)
    minutes = np.arange(days * 1440, dtype=np.int64) * 60_000 + T0
    coins = {**MAJORS, **{f"TAIL{i}": 0.002 for i in range(TAIL)}}
    for exchange, share in VENUES.items():
        for asset, weight in coins.items():
            for side in ("long", "short"):
                counts = rng.poisson(events_per_day / 1440 / 2 * share * weight * 0.3, minutes.size)
                active = counts > 0
                usd = counts[active] * rng.lognormal(9, 1, active.sum())
                series = zip(minutes[active].tolist(), counts[active].tolist(), usd.tolist(), strict=True)
                for minute, count, dollars in series:
                    yield exchange, asset, side, minute, count, dollars / 1000, dollars


def fill(target: str, days: int) -> int:
    """Write `days` of rollups into the migrated, empty store at `target` (SQLite file or PostgreSQL URL);
    returns the minute rows written."""
    written = 0
    if target.startswith("postgresql://"):
        with psycopg.connect(target) as connection, connection.cursor() as cursor:
            with cursor.copy(f"COPY liquidation_minutes ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text", "text", "text", "int8", "int8", "float8", "float8"])
                for row in _rows(days):
                    copy.write_row(row)
                    written += 1
            for sql in DERIVED_SQL:
                cursor.execute(sql)
        with psycopg.connect(target, autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE")  # what autovacuum does on a live database
        return written
    connection = sqlite3.connect(target)
    try:
        with connection:
            for chunk in _chunks(_rows(days)):
                connection.executemany(f"INSERT INTO liquidation_minutes VALUES ({', '.join('?' * 7)})", chunk)
                written += len(chunk)
            for sql in DERIVED_SQL:
                connection.execute(sql)
        connection.execute("ANALYZE")
    finally:
        connection.close()
    return written


def _chunks(rows: Iterator[tuple], size: int = 100_000) -> Iterator[list[tuple]]:
    chunk: list[tuple] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def window(days: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The filled span [start, end)."""
    start = pd.Timestamp(T0, unit="ms", tz="UTC")
    return start, start + pd.Timedelta(days=days)


def whole_market(store: LiquidationStore, days: int) -> float:
    """Seconds for what a whole-market page reads over the filled span on every venue (best of 3): the market's
    liquidations per day and side (`market_buckets`), and each coin's over the span (`asset_totals`)."""
    start, end = window(days)

    def once() -> float:
        frames = [store.market_buckets(exchange, start, end, DAY_MS) for exchange in VENUES]
        coins = [store.asset_totals(exchange, start, end) for exchange in VENUES]
        return pd.concat(frames)["usd"].sum() + pd.concat(coins)["usd"].sum()

    return _best(once)


def naive_whole_market(target: str, days: int) -> float:
    """Seconds for the same answer summed from the minute rows (no day rollup), best of 3."""
    start, end = window(days)
    marker = "%s" if target.startswith("postgresql://") else "?"
    sql = (
        f"SELECT minute / {DAY_MS} * {DAY_MS} AS ts, asset, side, SUM(qty), SUM(usd) FROM liquidation_minutes "
        f"WHERE exchange = {marker} AND minute >= {marker} AND minute < {marker} GROUP BY 1, 2, 3 ORDER BY 1"
    )
    postgres = target.startswith("postgresql://")
    connection = psycopg.connect(target) if postgres else sqlite3.connect(target)
    try:

        def once() -> float:
            bounds = (int(start.value // 10**6), int(end.value // 10**6))
            frames = [pd.DataFrame(connection.execute(sql, (e, *bounds)).fetchall()) for e in VENUES]
            return pd.concat(frames)[4].sum()

        return _best(once)
    finally:
        connection.close()


def _best(action: Callable[[], object]) -> float:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)
