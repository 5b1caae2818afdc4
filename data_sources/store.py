"""The embedded liquidation store: SQLite in WAL mode, shared by the recorder and the app.

Raw events carry a natural key (exchange, symbol, ts, side, price, qty), so a
replay or a reconnect overlap never counts an event twice. Each insert rolls its
new events up per minute and per day (exchange x asset x side: count, qty, usd) in
the same transaction, set-based (see `SqliteStore.insert`), so aggregates over a
year read days or minutes, not events. Coverage
intervals record when each exchange's stream was recording, and `stream_health`
what each stream is doing now (written by the recorder every flush). The schema is
versioned (`PRAGMA user_version`) and migrated on open. The collector's market series
(candles, ratios, open interest, funding) and their freshness live beside them (see
`series`). `LiquidationStore` is the interface the app uses, so a shared deployment can
bring PostgreSQL.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pandas as pd

from data_sources import series
from data_sources.base import SourceError, from_ms, ms
from data_sources.schema import ALL_ASSETS, conform, empty

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE liquidations (
        exchange TEXT NOT NULL, symbol TEXT NOT NULL, asset TEXT NOT NULL, ts INTEGER NOT NULL,
        side TEXT NOT NULL CHECK (side IN ('long', 'short')), price REAL NOT NULL, qty REAL NOT NULL,
        usd REAL NOT NULL,
        PRIMARY KEY (exchange, symbol, ts, side, price, qty)
    ) WITHOUT ROWID;
    CREATE INDEX liquidations_by_time ON liquidations (asset, ts);
    CREATE TABLE liquidation_minutes (
        exchange TEXT NOT NULL, asset TEXT NOT NULL, side TEXT NOT NULL, minute INTEGER NOT NULL,
        count INTEGER NOT NULL, qty REAL NOT NULL, usd REAL NOT NULL,
        PRIMARY KEY (exchange, asset, side, minute)
    ) WITHOUT ROWID;
    CREATE TRIGGER liquidations_rollup AFTER INSERT ON liquidations BEGIN
        INSERT INTO liquidation_minutes (exchange, asset, side, minute, count, qty, usd)
        VALUES (NEW.exchange, NEW.asset, NEW.side, NEW.ts / 60000 * 60000, 1, NEW.qty, NEW.usd)
        ON CONFLICT (exchange, asset, side, minute) DO UPDATE SET
            count = count + 1, qty = qty + excluded.qty, usd = usd + excluded.usd;
    END;
    CREATE TABLE coverage (
        exchange TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
        PRIMARY KEY (exchange, start)
    );
    """,
    """
    CREATE TABLE liquidation_days (
        exchange TEXT NOT NULL, asset TEXT NOT NULL, side TEXT NOT NULL, day INTEGER NOT NULL,
        count INTEGER NOT NULL, qty REAL NOT NULL, usd REAL NOT NULL,
        PRIMARY KEY (exchange, asset, side, day)
    ) WITHOUT ROWID;
    INSERT INTO liquidation_days (exchange, asset, side, day, count, qty, usd)
        SELECT exchange, asset, side, minute / 86400000 * 86400000, SUM(count), SUM(qty), SUM(usd)
        FROM liquidation_minutes GROUP BY 1, 2, 3, 4;
    CREATE TRIGGER liquidations_daily AFTER INSERT ON liquidations BEGIN
        INSERT INTO liquidation_days (exchange, asset, side, day, count, qty, usd)
        VALUES (NEW.exchange, NEW.asset, NEW.side, NEW.ts / 86400000 * 86400000, 1, NEW.qty, NEW.usd)
        ON CONFLICT (exchange, asset, side, day) DO UPDATE SET
            count = count + 1, qty = qty + excluded.qty, usd = usd + excluded.usd;
    END;
    """,
    """
    CREATE TABLE stream_health (
        exchange TEXT PRIMARY KEY, state TEXT NOT NULL, message TEXT NOT NULL,
        last_event_ms INTEGER, last_alive_ms INTEGER, updated_ms INTEGER NOT NULL
    );
    """,
    """
    CREATE TABLE candles (
        exchange TEXT NOT NULL, asset TEXT NOT NULL, ts INTEGER NOT NULL,
        open REAL, high REAL, low REAL, close REAL, volume REAL, quote_volume REAL,
        PRIMARY KEY (exchange, asset, ts)
    ) WITHOUT ROWID;
    CREATE TABLE ratios (
        exchange TEXT NOT NULL, asset TEXT NOT NULL, ts INTEGER NOT NULL, kind TEXT NOT NULL,
        long_share REAL, short_share REAL, ratio REAL,
        PRIMARY KEY (exchange, asset, ts, kind)
    ) WITHOUT ROWID;
    CREATE TABLE open_interest (
        exchange TEXT NOT NULL, asset TEXT NOT NULL, ts INTEGER NOT NULL, usd REAL,
        PRIMARY KEY (exchange, asset, ts)
    ) WITHOUT ROWID;
    CREATE TABLE funding (
        exchange TEXT NOT NULL, asset TEXT NOT NULL, ts INTEGER NOT NULL, rate REAL,
        PRIMARY KEY (exchange, asset, ts)
    ) WITHOUT ROWID;
    CREATE TABLE dataset_freshness (
        dataset TEXT NOT NULL, exchange TEXT NOT NULL, asset TEXT NOT NULL,
        first_ts INTEGER, last_ts INTEGER, written_ms INTEGER NOT NULL,
        PRIMARY KEY (dataset, exchange, asset)
    );
    """,
    """
    CREATE TABLE alerts_sent (
        rule TEXT NOT NULL, fired_ms INTEGER NOT NULL, usd REAL NOT NULL, side TEXT NOT NULL,
        time_window TEXT NOT NULL, exchanges TEXT NOT NULL, assets TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('delivered', 'failed')), error TEXT NOT NULL,
        PRIMARY KEY (rule, fired_ms)
    );
    CREATE INDEX alerts_sent_by_time ON alerts_sent (fired_ms);
    """,
    # 6: the rollups are kept per batch by `SqliteStore.insert` (one grouped upsert per table), no longer by
    # per-row triggers (three writes per event); the day rollup is also indexed in the whole market's read
    # order (`rollup_sql`: exchange, then day, asset, side), covering its values, so a year is read without a sort.
    """
    DROP TRIGGER liquidations_rollup;
    DROP TRIGGER liquidations_daily;
    CREATE INDEX liquidation_days_by_day ON liquidation_days (exchange, day, asset, side, qty, usd);
    """,
    # 7: whole-market rollups beside the per-asset ones (kept by `ROLLUP_BATCH`): every asset summed per exchange,
    # minute or day, and side, so a whole-market timeline reads one row per bucket and side, not one per coin;
    # and each asset per fortnight, so a coin ranking over a year sums about 26 rows per coin, not 365.
    """
    CREATE TABLE liquidation_market_minutes (
        exchange TEXT NOT NULL, side TEXT NOT NULL, minute INTEGER NOT NULL,
        count INTEGER NOT NULL, qty REAL NOT NULL, usd REAL NOT NULL,
        PRIMARY KEY (exchange, minute, side)
    ) WITHOUT ROWID;
    INSERT INTO liquidation_market_minutes
        SELECT exchange, side, minute, SUM(count), SUM(qty), SUM(usd) FROM liquidation_minutes GROUP BY 1, 2, 3;
    CREATE TABLE liquidation_market_days (
        exchange TEXT NOT NULL, side TEXT NOT NULL, day INTEGER NOT NULL,
        count INTEGER NOT NULL, qty REAL NOT NULL, usd REAL NOT NULL,
        PRIMARY KEY (exchange, day, side)
    ) WITHOUT ROWID;
    INSERT INTO liquidation_market_days
        SELECT exchange, side, day, SUM(count), SUM(qty), SUM(usd) FROM liquidation_days GROUP BY 1, 2, 3;
    CREATE TABLE liquidation_fortnights (
        exchange TEXT NOT NULL, asset TEXT NOT NULL, side TEXT NOT NULL, fortnight INTEGER NOT NULL,
        count INTEGER NOT NULL, qty REAL NOT NULL, usd REAL NOT NULL,
        PRIMARY KEY (exchange, asset, side, fortnight)
    ) WITHOUT ROWID;
    INSERT INTO liquidation_fortnights
        SELECT exchange, asset, side, day / 1209600000 * 1209600000, SUM(count), SUM(qty), SUM(usd)
        FROM liquidation_days GROUP BY 1, 2, 3, 4;
    """,
)
DAY_MS = 86_400_000
FORTNIGHT_MS = 14 * DAY_MS  # epoch-aligned fortnights (`liquidation_fortnights`)
ALERT_COLUMNS = "rule, fired_ms, usd, side, time_window, exchanges, assets, status, error"
NATURAL_KEY = ("exchange", "symbol", "ts", "side", "price", "qty")  # liquidations' primary key
# Per-connection scratch tables of `SqliteStore.insert`: the batch keyed by the natural key (a duplicate inside
# the batch is ignored on the way in), and its new events summed per minute.
STAGING = """
CREATE TEMP TABLE incoming (
    exchange TEXT NOT NULL, symbol TEXT NOT NULL, asset TEXT NOT NULL, ts INTEGER NOT NULL, side TEXT NOT NULL,
    price REAL NOT NULL, qty REAL NOT NULL, usd REAL NOT NULL,
    PRIMARY KEY (exchange, symbol, ts, side, price, qty)
) WITHOUT ROWID;
CREATE TEMP TABLE incoming_minutes (
    exchange TEXT NOT NULL, asset TEXT NOT NULL, side TEXT NOT NULL, minute INTEGER NOT NULL,
    count INTEGER NOT NULL, qty REAL NOT NULL, usd REAL NOT NULL
);
"""
DROP_STORED = (  # from the staged batch, the events stored already
    "DELETE FROM incoming WHERE EXISTS (SELECT 1 FROM main.liquidations l WHERE "
    f"{' AND '.join(f'l.{c} = incoming.{c}' for c in NATURAL_KEY)})"
)
ADD_COUNTS = "count = count + excluded.count, qty = qty + excluded.qty, usd = usd + excluded.usd"
ROLLUP_BATCH = (  # the staged new events into every rollup (one grouped upsert each), then clear the staging
    "INSERT INTO incoming_minutes SELECT exchange, asset, side, ts / 60000 * 60000, COUNT(*), SUM(qty), SUM(usd) "
    "FROM incoming GROUP BY 1, 2, 3, 4",
    f"INSERT INTO liquidation_minutes SELECT * FROM incoming_minutes WHERE true ON CONFLICT DO UPDATE SET {ADD_COUNTS}",
    f"INSERT INTO liquidation_days SELECT exchange, asset, side, minute / {DAY_MS} * {DAY_MS}, SUM(count), SUM(qty), "
    f"SUM(usd) FROM incoming_minutes GROUP BY 1, 2, 3, 4 ON CONFLICT DO UPDATE SET {ADD_COUNTS}",
    "INSERT INTO liquidation_market_minutes SELECT exchange, side, minute, SUM(count), SUM(qty), SUM(usd) "
    f"FROM incoming_minutes GROUP BY 1, 2, 3 ON CONFLICT DO UPDATE SET {ADD_COUNTS}",
    f"INSERT INTO liquidation_market_days SELECT exchange, side, minute / {DAY_MS} * {DAY_MS}, SUM(count), SUM(qty), "
    f"SUM(usd) FROM incoming_minutes GROUP BY 1, 2, 3 ON CONFLICT DO UPDATE SET {ADD_COUNTS}",
    f"INSERT INTO liquidation_fortnights SELECT exchange, asset, side, minute / {FORTNIGHT_MS} * {FORTNIGHT_MS}, "
    f"SUM(count), SUM(qty), SUM(usd) FROM incoming_minutes GROUP BY 1, 2, 3, 4 ON CONFLICT DO UPDATE SET {ADD_COUNTS}",
    "DELETE FROM incoming",
    "DELETE FROM incoming_minutes",
)


@dataclass(frozen=True)
class Event:
    """One liquidation as recorded: `side` is the liquidated position; ts in epoch ms; qty in coins."""

    exchange: str
    symbol: str
    asset: str
    ts: int
    side: str
    price: float
    qty: float

    @property
    def usd(self) -> float:
        """Notional in USD."""
        return self.price * self.qty


@dataclass(frozen=True)
class SentAlert:
    """An alert the writer sent (table `alerts_sent`): the rule's name, `fired_ms` (epoch ms, event time of the
    crossing), `usd` liquidated within `window` (as written, e.g. "5m") on the `exchanges` (ids) and `assets`
    involved; `status` "delivered" or "failed", with `error` saying why (secrets masked; "" when delivered)."""

    rule: str
    fired_ms: int
    usd: float
    side: str
    window: str
    exchanges: tuple[str, ...]
    assets: tuple[str, ...]
    status: str
    error: str = ""

    def row(self) -> tuple[object, ...]:
        """The `alerts_sent` row, in ALERT_COLUMNS order (venues and coins comma-joined)."""
        joined = (",".join(self.exchanges), ",".join(self.assets))
        return (self.rule, self.fired_ms, self.usd, self.side, self.window, *joined, self.status, self.error)


def alerts_frame(records: Sequence[Sequence[object]]) -> pd.DataFrame:
    """`alerts_sent` rows (ALERT_COLUMNS order) as fired_at (UTC), rule, usd, side, window, exchanges, assets,
    status, error; newest first as given."""
    frame = pd.DataFrame(list(records), columns=ALERT_COLUMNS.replace("time_window", "window").split(", "))
    frame.insert(0, "fired_at", from_ms(frame.pop("fired_ms").astype("int64")))
    return frame


STREAM_STATES = ("recording", "connecting", "down", "refused", "misconfigured", "crashed", "stopped")


@dataclass(frozen=True)
class StreamHealth:
    """What the recorder's stream for one exchange is doing (see specs/stream_status.md).

    `state` is one of STREAM_STATES; `message` the exchange's own words or our reason ("" when
    recording); times are epoch ms: the last liquidation received, the last data or heartbeat
    answer received, and when the recorder wrote this row (every flush, ~1 s).
    """

    exchange: str
    state: str
    message: str
    last_event_ms: int | None
    last_alive_ms: int | None
    updated_ms: int


class LiquidationStore(Protocol):
    """What the app and the recorder need from a store (SQLite here; PostgreSQL in `pgstore`)."""

    @property
    def version(self) -> int:
        """The schema version the store is migrated to."""
        ...

    def close(self) -> None:
        """Release the store's connections."""
        ...

    def insert(self, events: Sequence[Event]) -> int:
        """Insert events in one transaction; returns how many were new."""
        ...

    def open_interval(self, exchange: str, start_ms: int) -> None:
        """Record that the exchange's stream connected at `start_ms`."""
        ...

    def extend_interval(self, exchange: str, start_ms: int, end_ms: int) -> None:
        """Move the end of the connected interval that began at `start_ms`."""
        ...

    def events(self, asset: str, exchange: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Recorded events as a normalized liquidations frame."""
        ...

    def latest(self, asset: str, exchanges: Sequence[str], limit: int) -> pd.DataFrame:
        """The `limit` most recent recorded events, newest first."""
        ...

    def buckets(self, asset: str, exchange: str, start: pd.Timestamp, end: pd.Timestamp, step_ms: int) -> pd.DataFrame:
        """Recorded liquidations summed per `step_ms` bucket and side, from the rollups."""
        ...

    def coverage(
        self, exchange: str, start: pd.Timestamp, end: pd.Timestamp
    ) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
        """Connected intervals of the exchange's stream overlapping [start, end), merged."""
        ...

    def market_events(self, exchange: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Recorded events of every asset on one exchange in [start, end) (the whole market)."""
        ...

    def market_buckets(self, exchange: str, start: pd.Timestamp, end: pd.Timestamp, step_ms: int) -> pd.DataFrame:
        """Every asset's recorded liquidations on one exchange summed per `step_ms` bucket and side (asset
        `ALL_ASSETS`), from the whole-market rollups."""
        ...

    def asset_totals(self, exchange: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Each asset's recorded liquidations on one exchange summed over [start, end), per side (ts `start`)."""
        ...

    def record_health(self, health: Sequence[StreamHealth]) -> None:
        """Upsert each exchange's stream health row."""
        ...

    def stream_health(self) -> dict[str, StreamHealth]:
        """The stream health row of every exchange ever recorded, by exchange."""
        ...

    def write_series(self, dataset: str, frame: pd.DataFrame, exchange: str, asset: str) -> int:
        """Upsert one exchange x asset's rows of a `series.SERIES` dataset (natural key exchange, asset, ts[, kind])
        and its `dataset_freshness` row, in one transaction; returns the rows written."""
        ...

    def series(self, dataset: str, asset: str, exchange: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """The stored rows of a series dataset over [start, end) as its normalized frame."""
        ...

    def freshness(self) -> pd.DataFrame:
        """`dataset_freshness`: dataset, exchange, asset, first_ts, last_ts, written_at (UTC; ts None if none)."""
        ...

    def record_alert(self, alert: SentAlert) -> None:
        """Store an alert the writer sent (or failed to send); the same rule and time again replaces it."""
        ...

    def sent_alerts(self, limit: int) -> pd.DataFrame:
        """The `limit` latest sent alerts, newest first (see `alerts_frame`)."""
        ...


class StoreError(SourceError):
    """The store cannot be opened, read or written; the message says what to fix."""


def newer_schema(where: str, version: int) -> StoreError:
    """The refusal to open a store migrated by a newer liqscope: writing to it would skip the rollups this
    version does not know (and leave their totals short), reading it could miss what they hold."""
    return StoreError(
        f"The liquidation store at {where} has schema version {version}, newer than this liqscope's "
        f"({len(MIGRATIONS)}): upgrade liqscope (the recorder, the collector and the app together)."
    )


class SqliteStore:
    """LiquidationStore on one SQLite file (WAL: one writer process, many readers)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(self.path, check_same_thread=False, timeout=10, isolation_level=None)
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
            self._connection.executescript(STAGING)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"Cannot open the liquidation store at {self.path}: {error}. Set LIQSCOPE_DB.") from None
        self._lock = threading.Lock()

    def _migrate(self) -> None:
        version = self._connection.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise newer_schema(str(self.path), version)
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self._connection.executescript(f"BEGIN; {script} PRAGMA user_version = {number}; COMMIT;")

    @property
    def version(self) -> int:
        """The schema version on disk."""
        return self._connection.execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        self._connection.close()

    def insert(self, events: Sequence[Event]) -> int:
        """Insert events in one transaction; duplicates by natural key (stored already, or twice in the batch)
        are ignored. Returns new rows.

        Set-based, like PostgreSQL's statement-level triggers: the batch is staged in a temp table, the
        events stored already are dropped from it (`DROP_STORED`), the rest are inserted and added to the
        minute and day rollups with one grouped upsert each (`ROLLUP_BATCH`).
        """
        if not events:
            return 0
        rows = [(e.exchange, e.symbol, e.asset, e.ts, e.side, e.price, e.qty, e.usd) for e in events]
        with self._lock:
            try:
                self._connection.execute("BEGIN IMMEDIATE")
                self._connection.executemany("INSERT OR IGNORE INTO incoming VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
                self._connection.execute(DROP_STORED)
                inserted = self._connection.execute("INSERT INTO main.liquidations SELECT * FROM incoming").rowcount
                for statement in ROLLUP_BATCH:
                    self._connection.execute(statement)
                self._connection.execute("COMMIT")
            except sqlite3.Error as error:
                self._connection.execute("ROLLBACK")
                raise StoreError(f"Cannot write to the liquidation store at {self.path}: {error}.") from None
        return inserted

    def open_interval(self, exchange: str, start_ms: int) -> None:
        """Record that the exchange's stream connected at `start_ms`."""
        with self._lock:
            self._connection.execute(
                "INSERT OR REPLACE INTO coverage (exchange, start, end) VALUES (?, ?, ?)",
                (exchange, start_ms, start_ms),
            )

    def extend_interval(self, exchange: str, start_ms: int, end_ms: int) -> None:
        """Move the end of the connected interval that began at `start_ms`."""
        with self._lock:
            self._connection.execute(
                "UPDATE coverage SET end = ? WHERE exchange = ? AND start = ?", (end_ms, exchange, start_ms)
            )

    def record_health(self, health: Sequence[StreamHealth]) -> None:
        """Upsert each exchange's stream health row (one statement, autocommitted)."""
        rows = [(h.exchange, h.state, h.message, h.last_event_ms, h.last_alive_ms, h.updated_ms) for h in health]
        with self._lock:
            try:
                self._connection.executemany(
                    "INSERT OR REPLACE INTO stream_health "
                    "(exchange, state, message, last_event_ms, last_alive_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
            except sqlite3.Error as error:
                raise StoreError(f"Cannot write to the liquidation store at {self.path}: {error}.") from None

    def stream_health(self) -> dict[str, StreamHealth]:
        """The stream health row of every exchange ever recorded, by exchange."""
        rows = self._rows(
            "SELECT exchange, state, message, last_event_ms, last_alive_ms, updated_ms FROM stream_health", ()
        )
        return {row[0]: StreamHealth(*row) for row in rows}

    def write_series(self, dataset: str, frame: pd.DataFrame, exchange: str, asset: str) -> int:
        """Upsert one exchange x asset's rows of a series dataset and its freshness row in one transaction."""
        batch = series.rows(dataset, frame, exchange, asset)
        first, last = series.span(batch)
        marks = ", ".join("?" * len(series.table(dataset).columns))
        with self._lock:
            try:
                self._connection.execute("BEGIN IMMEDIATE")
                self._connection.executemany(series.upsert_sql(dataset, f"VALUES ({marks})"), batch)
                self._connection.execute(
                    "INSERT INTO dataset_freshness (dataset, exchange, asset, first_ts, last_ts, written_ms) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dataset, exchange, asset) DO UPDATE SET "
                    "first_ts = COALESCE(MIN(first_ts, excluded.first_ts), first_ts, excluded.first_ts), "
                    "last_ts = COALESCE(MAX(last_ts, excluded.last_ts), last_ts, excluded.last_ts), "
                    "written_ms = excluded.written_ms",
                    (dataset, exchange, asset, first, last, int(time.time() * 1000)),
                )
                self._connection.execute("COMMIT")
            except sqlite3.Error as error:
                self._connection.execute("ROLLBACK")
                raise StoreError(f"Cannot write to the liquidation store at {self.path}: {error}.") from None
        return len(batch)

    def series(self, dataset: str, asset: str, exchange: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """The stored rows of a series dataset over [start, end) as its normalized frame."""
        sql, columns = series.select_sql(dataset, "?")
        records = self._rows(sql, (exchange, asset, ms(start), ms(end)))
        return series.frame_from(dataset, records, columns)

    def freshness(self) -> pd.DataFrame:
        """`dataset_freshness`: dataset, exchange, asset, first_ts, last_ts, written_at (UTC; ts None if none)."""
        records = self._rows(
            "SELECT dataset, exchange, asset, first_ts, last_ts, written_ms FROM dataset_freshness", ()
        )
        return series.freshness_frame(records)

    def record_alert(self, alert: SentAlert) -> None:
        """Store an alert the writer sent (or failed to send); the same rule and time again replaces it."""
        with self._lock:
            try:
                self._connection.execute(
                    f"INSERT OR REPLACE INTO alerts_sent ({ALERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    alert.row(),
                )
            except sqlite3.Error as error:
                raise StoreError(f"Cannot write to the liquidation store at {self.path}: {error}.") from None

    def sent_alerts(self, limit: int) -> pd.DataFrame:
        """The `limit` latest sent alerts, newest first (see `alerts_frame`)."""
        records = self._rows(f"SELECT {ALERT_COLUMNS} FROM alerts_sent ORDER BY fired_ms DESC, rule LIMIT ?", (limit,))
        return alerts_frame(records)

    def _read(self, sql: str, params: Sequence[object]) -> pd.DataFrame:
        """Rows of a query whose `ts` column is epoch ms, with `ts` as UTC timestamps."""
        try:
            frame = pd.read_sql_query(sql, self._connection, params=params)
        except pd.errors.DatabaseError as error:  # pandas wraps SQLite's error (its cause) with the query's text
            raise self._read_error(error.__cause__ or error) from None
        frame["ts"] = from_ms(frame["ts"])
        return frame

    def _rows(self, sql: str, params: Sequence[object]) -> list[tuple]:
        """The rows of a read query; StoreError naming the file when SQLite cannot answer it."""
        try:
            with self._lock:
                return self._connection.execute(sql, params).fetchall()
        except sqlite3.Error as error:
            raise self._read_error(error) from None

    def _read_error(self, error: Exception) -> StoreError:
        return StoreError(f"Cannot read the liquidation store at {self.path}: {error}.")

    def events(self, asset: str, exchange: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Recorded events of one asset on one exchange in [start, end) as a normalized frame."""
        frame = self._read(
            "SELECT ts, exchange, asset, side, price, qty, usd FROM liquidations "
            "WHERE asset = ? AND exchange = ? AND ts >= ? AND ts < ? ORDER BY ts",
            (asset, exchange, ms(start), ms(end)),
        )
        return conform("liquidations", frame) if not frame.empty else empty("liquidations")

    def latest(self, asset: str, exchanges: Sequence[str], limit: int) -> pd.DataFrame:
        """The `limit` most recent recorded events of `asset` on `exchanges`, newest first."""
        return self._read(
            "SELECT ts, exchange, asset, side, price, qty, usd FROM liquidations "
            f"WHERE asset = ? AND exchange IN ({','.join('?' * len(exchanges))}) ORDER BY ts DESC LIMIT ?",
            (asset, *exchanges, limit),
        )

    def buckets(self, asset: str, exchange: str, start: pd.Timestamp, end: pd.Timestamp, step_ms: int) -> pd.DataFrame:
        """Recorded liquidations summed per `step_ms` bucket and side, from the rollups (not the events).

        Whole-day steps read the daily rollup; shorter steps the minute rollup. Rows
        are normalized liquidations with `usd` and `qty` set and no price.
        """
        frame = self._read(
            rollup_sql(step_ms, "side", "exchange = ? AND asset = ?", "?"), (exchange, asset, ms(start), ms(end))
        )
        if frame.empty:
            return empty("liquidations")
        frame["exchange"], frame["asset"], frame["price"] = exchange, asset, float("nan")
        return conform("liquidations", frame)

    def market_events(self, exchange: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Recorded events of every asset on one exchange in [start, end) (the whole market)."""
        frame = self._read(
            "SELECT ts, exchange, asset, side, price, qty, usd FROM liquidations "
            "WHERE exchange = ? AND ts >= ? AND ts < ? ORDER BY ts",
            (exchange, ms(start), ms(end)),
        )
        return conform("liquidations", frame) if not frame.empty else empty("liquidations")

    def market_buckets(self, exchange: str, start: pd.Timestamp, end: pd.Timestamp, step_ms: int) -> pd.DataFrame:
        """Every asset's recorded liquidations on one exchange summed per `step_ms` bucket and side, from the
        whole-market rollups: rows of asset `ALL_ASSETS`, no price (see `buckets`)."""
        sql = rollup_sql(step_ms, "side", "exchange = ?", "?", market=True)
        return market_frame(self._read(sql, (exchange, ms(start), ms(end))), exchange)

    def asset_totals(self, exchange: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Each asset's recorded liquidations on one exchange summed over [start, end), per side: rows with ts
        `start` and no price. Reads fortnights, then days, then minutes at the edges (`asset_totals_sql`), so a
        year sums about 26 rows per coin and side."""
        sql, params = asset_totals_sql(exchange, ms(start), ms(end), "?")
        return totals_frame(self._rows(sql, params), exchange, start)

    def coverage(
        self, exchange: str, start: pd.Timestamp, end: pd.Timestamp
    ) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
        """Connected intervals overlapping [start, end), clipped to it and merged."""
        rows = self._rows(
            "SELECT start, end FROM coverage WHERE exchange = ? AND end > ? AND start < ? ORDER BY start",
            (exchange, ms(start), ms(end)),
        )
        return merge_spans(rows, ms(start), ms(end))


def rollup_sql(step_ms: int, keys: str, where: str, marker: str, market: bool = False) -> str:
    """The query summing the rollups per `step_ms` bucket and `keys` ("side" or "asset, side") under `where`
    and a [start, end) pair of `marker` parameters, ordered by bucket then keys.

    Whole-day steps read the daily rollup, others the minute rollup (the whole market's with `market`); a
    step of exactly the rollup's own unit reads its rows as they are (no grouping, which would sort a year of
    rows for nothing).
    """
    prefix = "liquidation_market" if market else "liquidation"
    table, unit, size = (
        (f"{prefix}_days", "day", DAY_MS) if step_ms % DAY_MS == 0 else (f"{prefix}_minutes", "minute", 60_000)
    )
    span = f"{where} AND {unit} >= {marker} AND {unit} < {marker}"
    if step_ms == size:
        return f"SELECT {unit} AS ts, {keys}, qty, usd FROM {table} WHERE {span} ORDER BY {unit}, {keys}"
    bucket = f"{unit} / {int(step_ms)} * {int(step_ms)}"
    return (
        f"SELECT {bucket} AS ts, {keys}, SUM(qty) AS qty, SUM(usd) AS usd FROM {table} WHERE {span} "
        f"GROUP BY {bucket}, {keys} ORDER BY {bucket}, {keys}"
    )


def asset_totals_sql(exchange: str, start_ms: int, end_ms: int, marker: str) -> tuple[str, tuple[object, ...]]:
    """The query (and its parameters) summing each asset's rollups on `exchange` over [start_ms, end_ms) per
    side: whole fortnights from `liquidation_fortnights`, the whole days around them from `liquidation_days`,
    the partial days at either end from `liquidation_minutes`. Rows: (asset, side, qty, usd)."""
    first_day = min(-(-start_ms // DAY_MS) * DAY_MS, end_ms)
    last_day = max(end_ms // DAY_MS * DAY_MS, first_day)
    first_fortnight = min(-(-first_day // FORTNIGHT_MS) * FORTNIGHT_MS, last_day)
    last_fortnight = max(last_day // FORTNIGHT_MS * FORTNIGHT_MS, first_fortnight)
    spans = [
        ("liquidation_minutes", "minute", start_ms, first_day),
        ("liquidation_days", "day", first_day, first_fortnight),
        ("liquidation_fortnights", "fortnight", first_fortnight, last_fortnight),
        ("liquidation_days", "day", last_fortnight, last_day),
        ("liquidation_minutes", "minute", last_day, end_ms),
    ]
    spans = [span for span in spans if span[2] < span[3]] or spans[:1]  # an empty window reads nothing
    parts = " UNION ALL ".join(
        f"SELECT asset, side, qty, usd FROM {table} WHERE exchange = {marker} AND {unit} >= {marker} "
        f"AND {unit} < {marker}"
        for table, unit, _, _ in spans
    )
    sql = (
        f"SELECT asset, side, SUM(qty) AS qty, SUM(usd) AS usd FROM ({parts}) AS parts "
        "GROUP BY asset, side ORDER BY asset, side"
    )
    return sql, tuple(value for _, _, low, high in spans for value in (exchange, low, high))


def market_frame(frame: pd.DataFrame, exchange: str) -> pd.DataFrame:
    """Whole-market rollup rows (ts, side, qty, usd) as normalized liquidations of asset `ALL_ASSETS`."""
    if frame.empty:
        return empty("liquidations")
    frame["exchange"], frame["asset"], frame["price"] = exchange, ALL_ASSETS, float("nan")
    return conform("liquidations", frame)


def totals_frame(rows: Sequence[tuple[str, str, float, float]], exchange: str, start: pd.Timestamp) -> pd.DataFrame:
    """(asset, side, qty, usd) rows as normalized liquidations at `start` on `exchange`, no price."""
    if not rows:
        return empty("liquidations")
    frame = pd.DataFrame(rows, columns=["asset", "side", "qty", "usd"])
    frame["ts"], frame["exchange"], frame["price"] = start, exchange, float("nan")
    return conform("liquidations", frame)


def merge_spans(rows: Sequence[tuple[int, int]], start_ms: int, end_ms: int) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """(start, end) epoch-ms rows sorted by start, clipped to [start_ms, end_ms) and merged where they touch."""
    merged: list[list[int]] = []
    for lo, hi in rows:
        lo, hi = max(lo, start_ms), min(hi, end_ms)
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        elif hi > lo:
            merged.append([lo, hi])
    return [(pd.Timestamp(lo, unit="ms", tz="UTC"), pd.Timestamp(hi, unit="ms", tz="UTC")) for lo, hi in merged]


_stores: dict[str, SqliteStore] = {}
_stores_lock = threading.Lock()


def open_store(path: str | Path) -> SqliteStore:
    """The process-wide store for `path` (one connection per file)."""
    key = str(Path(path).resolve())
    with _stores_lock:
        if key not in _stores:
            _stores[key] = SqliteStore(path)
        return _stores[key]
