"""Ingest throughput: the recorder's decode + store path fed by a local WebSocket replay, and the naive baseline.

`recorder_rate` runs the real `Recorder` with the real Bybit decoder against `bench.replay` (its own
process, over loopback) and counts committed events per second. `naive_rate` reads the same replay as
a hand-written recorder would: stdlib `json`, one INSERT per event and a commit per frame, and on SQLite
(whose store rolls up per batch, not by trigger) one upsert per new event into each rollup.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import websockets

from data_sources.recorder import Recorder
from data_sources.store import LiquidationStore
from data_sources.venues.bybit import BybitStream
from tests.fake_streams import listed

ROOT = Path(__file__).resolve().parent.parent
FLUSH_EVERY = 0.2  # seconds between committed batches (the recorder's default is 1 s)
ROLLUP_ROW = tuple(
    f"INSERT INTO {table} (exchange, asset, side, {unit}, count, qty, usd) "
    f"VALUES (?, ?, ?, ? / {size} * {size}, 1, ?, ?) "
    f"ON CONFLICT (exchange, asset, side, {unit}) DO UPDATE SET count = count + 1, qty = qty + excluded.qty, "
    "usd = usd + excluded.usd"
    for table, unit, size in (("liquidation_minutes", "minute", 60_000), ("liquidation_days", "day", 86_400_000))
)  # one new event into each SQLite rollup (exchange, asset, side, ts, qty, usd), as the old per-row triggers did


@contextmanager
def replay(events: int) -> Iterator[str]:
    """The URL of a `bench.replay` process serving `events` Bybit liquidations, stopped afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.replay", str(events)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield process.stdout.readline().strip()
    finally:
        process.stdin.close()
        process.wait(timeout=30)


def recorder_rate(store: LiquidationStore, events: int) -> float:
    """Events per second committed by the recorder from a replay of `events` Bybit liquidations."""
    with replay(events) as url:
        stream = BybitStream(url, listed("bybit"), frozenset({"BTC"}))
        recorder = Recorder(store, [stream], flush_every=FLUSH_EVERY)

        async def go() -> float:
            task = asyncio.create_task(recorder.run(status_every=0))
            start = time.perf_counter()
            while recorder.committed < events and not task.done():
                await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - start
            recorder.stop.set()
            await task
            if recorder.committed < events:
                raise RuntimeError(f"the recorder committed {recorder.committed:,} of {events:,} events")
            return elapsed

        return events / asyncio.run(go())


def _rows(raw: str) -> list[tuple]:
    """One Bybit frame as store rows, the plain way."""
    return [
        ("bybit", d["s"], "BTC", d["T"], "long" if d["S"] == "Buy" else "short", float(d["p"]), float(d["v"]))
        for d in json.loads(raw)["data"]
    ]


def naive_rate(target: str, events: int) -> float:
    """Events per second for a row-at-a-time recorder reading a replay of `events` events into the SQLite file or
    PostgreSQL URL `target` (an already migrated store), keeping the rollups exact (PostgreSQL's triggers do)."""
    postgres = target.startswith("postgresql://")
    marker = "%s" if postgres else "?"
    sql = (
        "INSERT INTO liquidations (exchange, symbol, asset, ts, side, price, qty, usd) "
        f"VALUES ({', '.join([marker] * 8)}) ON CONFLICT DO NOTHING"
    )
    connection = psycopg.connect(target) if postgres else sqlite3.connect(target)

    async def go(url: str) -> float:
        async with websockets.connect(url) as socket:
            await socket.send(json.dumps({"op": "subscribe", "req_id": "1", "args": ["allLiquidation.BTCUSDT"]}))
            await socket.recv()  # the ack
            start, stored = time.perf_counter(), 0
            while stored < events:
                for row in _rows(await socket.recv()):
                    exchange, _, asset, ts, side, price, qty = row
                    new = connection.execute(sql, (*row, price * qty)).rowcount == 1
                    for rollup in ROLLUP_ROW if new and not postgres else ():
                        connection.execute(rollup, (exchange, asset, side, ts, qty, price * qty))
                    stored += 1
                connection.commit()
            return time.perf_counter() - start

    try:
        with replay(events) as url:
            return events / asyncio.run(go(url))
    finally:
        connection.close()
