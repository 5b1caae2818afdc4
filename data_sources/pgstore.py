"""The shared liquidation store: PostgreSQL, for a team deployment (one recorder writes, many apps read).

Same semantics as the embedded SQLite store (`data_sources.store`): raw events
deduplicated by their natural key with `ON CONFLICT DO NOTHING`, minute, day, whole-market
and fortnight rollups kept in the same transaction by triggers, coverage intervals, stream
health, and the collector's market series (see `series`). A batch is COPied (binary) into a session temp table and
moved with one `INSERT ... SELECT ... ON CONFLICT DO NOTHING`. Connections come from a
`psycopg_pool` pool, so reads from several app threads and the recorder's writes
run side by side. Every message names the database by its masked URL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pandas as pd
import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from data_sources import series
from data_sources.base import from_ms, ms
from data_sources.dburl import masked, scrub
from data_sources.pg_migrations import current, migrate
from data_sources.schema import conform, empty
from data_sources.store import (
    ALERT_COLUMNS,
    Event,
    SentAlert,
    StoreError,
    StreamHealth,
    alerts_frame,
    asset_totals_sql,
    market_frame,
    merge_spans,
    rollup_sql,
    totals_frame,
)

CONNECT_TIMEOUT = 5  # seconds to reach the server before the store reports it unreachable
POOL_SIZE = 8
COLUMNS = "exchange, symbol, asset, ts, side, price, qty, usd"
COLUMN_TYPES = ("text", "text", "text", "int8", "text", "float8", "float8", "float8")  # binary COPY of COLUMNS
EVENT_ORDER = "ts, exchange, symbol, side, price, qty"


class PostgresStore:
    """LiquidationStore on a PostgreSQL database given by a `postgresql://` URL."""

    def __init__(self, url: str, pool_size: int = POOL_SIZE) -> None:
        self.url = url
        self.where = masked(url)
        with self._errors("open"):
            with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT) as connection:
                migrate(connection, where=self.where)
            self._pool = ConnectionPool(
                url,
                min_size=1,
                max_size=pool_size,
                kwargs={"connect_timeout": CONNECT_TIMEOUT},
                check=ConnectionPool.check_connection,
                name="liqscope",
                open=False,
            )
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT)

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn driver and pool failures into a StoreError that names the masked URL, never the password."""
        try:
            yield
        except (psycopg.Error, PoolTimeout) as error:
            reason = scrub(" ".join(str(error).split()), self.url).rstrip(".")
            hint = " Set LIQSCOPE_DB." if action == "open" else ""
            stop = "" if reason.endswith("?") else "."
            raise StoreError(f"Cannot {action} the liquidation store at {self.where}: {reason}{stop}{hint}") from None

    @property
    def version(self) -> int:
        """The schema version in the database (rows of `schema_version`)."""
        with self._errors("read"), self._pool.connection() as connection:
            return current(connection)

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.close()

    def insert(self, events: Sequence[Event]) -> int:
        """Insert events in one transaction; duplicates by natural key are ignored. Returns new rows."""
        if not events:
            return 0
        with self._errors("write to"), self._pool.connection() as connection, connection.cursor() as cursor:
            cursor.execute("CREATE TEMP TABLE IF NOT EXISTS incoming (LIKE liquidations) ON COMMIT DELETE ROWS")
            with cursor.copy(f"COPY incoming ({COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(COLUMN_TYPES)
                for e in events:
                    copy.write_row((e.exchange, e.symbol, e.asset, e.ts, e.side, e.price, e.qty, e.usd))
            cursor.execute(
                f"INSERT INTO liquidations ({COLUMNS}) SELECT {COLUMNS} FROM incoming ON CONFLICT DO NOTHING"
            )
            return cursor.rowcount

    def open_interval(self, exchange: str, start_ms: int) -> None:
        """Record that the exchange's stream connected at `start_ms`."""
        self._write(
            'INSERT INTO coverage (exchange, start, "end") VALUES (%s, %s, %s) '
            'ON CONFLICT (exchange, start) DO UPDATE SET "end" = excluded."end"',
            (exchange, start_ms, start_ms),
        )

    def extend_interval(self, exchange: str, start_ms: int, end_ms: int) -> None:
        """Move the end of the connected interval that began at `start_ms`."""
        self._write('UPDATE coverage SET "end" = %s WHERE exchange = %s AND start = %s', (end_ms, exchange, start_ms))

    def record_health(self, health: Sequence[StreamHealth]) -> None:
        """Upsert each exchange's stream health (one row per exchange)."""
        rows = [(h.exchange, h.state, h.message, h.last_event_ms, h.last_alive_ms, h.updated_ms) for h in health]
        with self._errors("write to"), self._pool.connection() as connection, connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO stream_health (exchange, state, message, last_event_ms, last_alive_ms, updated_ms) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (exchange) DO UPDATE SET state = excluded.state, "
                "message = excluded.message, last_event_ms = excluded.last_event_ms, "
                "last_alive_ms = excluded.last_alive_ms, updated_ms = excluded.updated_ms",
                rows,
            )

    def stream_health(self) -> dict[str, StreamHealth]:
        """The last stream health of every exchange ever recorded, by exchange."""
        rows = self._rows(
            "SELECT exchange, state, message, last_event_ms, last_alive_ms, updated_ms FROM stream_health "
            "ORDER BY exchange",
            (),
        )
        return {row[0]: StreamHealth(*row) for row in rows}

    def write_series(self, dataset: str, frame: pd.DataFrame, exchange: str, asset: str) -> int:
        """Upsert one exchange x asset's rows of a series dataset (COPY into a temp table, one
        INSERT ... ON CONFLICT DO UPDATE) and its freshness row, in one transaction; returns the rows written."""
        batch = series.rows(dataset, frame, exchange, asset)
        first, last = series.span(batch)
        columns = ", ".join(series.table(dataset).columns)
        with self._errors("write to"), self._pool.connection() as connection, connection.cursor() as cursor:
            if batch:
                cursor.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS incoming_{dataset} (LIKE {dataset}) ON COMMIT DELETE ROWS"
                )
                with cursor.copy(f"COPY incoming_{dataset} ({columns}) FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)
                cursor.execute(series.upsert_sql(dataset, f"SELECT {columns} FROM incoming_{dataset}"))
            cursor.execute(
                "INSERT INTO dataset_freshness (dataset, exchange, asset, first_ts, last_ts, written_ms) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (dataset, exchange, asset) DO UPDATE SET "
                "first_ts = LEAST(dataset_freshness.first_ts, excluded.first_ts), "
                "last_ts = GREATEST(dataset_freshness.last_ts, excluded.last_ts), written_ms = excluded.written_ms",
                (dataset, exchange, asset, first, last, int(time.time() * 1000)),
            )
        return len(batch)

    def series(self, dataset: str, asset: str, exchange: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """The stored rows of a series dataset over [start, end) as its normalized frame."""
        sql, columns = series.select_sql(dataset, "%s")
        return series.frame_from(dataset, self._rows(sql, (exchange, asset, ms(start), ms(end))), columns)

    def freshness(self) -> pd.DataFrame:
        """`dataset_freshness`: dataset, exchange, asset, first_ts, last_ts, written_at (UTC; ts None if none)."""
        return series.freshness_frame(
            self._rows("SELECT dataset, exchange, asset, first_ts, last_ts, written_ms FROM dataset_freshness", ())
        )

    def record_alert(self, alert: SentAlert) -> None:
        """Store an alert the writer sent (or failed to send); the same rule and time again replaces it."""
        updates = ", ".join(f"{c} = excluded.{c}" for c in ALERT_COLUMNS.split(", ")[2:])
        self._write(
            f"INSERT INTO alerts_sent ({ALERT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            f"ON CONFLICT (rule, fired_ms) DO UPDATE SET {updates}",
            alert.row(),
        )

    def sent_alerts(self, limit: int) -> pd.DataFrame:
        """The `limit` latest sent alerts, newest first (see `alerts_frame`)."""
        return alerts_frame(
            self._rows(f"SELECT {ALERT_COLUMNS} FROM alerts_sent ORDER BY fired_ms DESC, rule LIMIT %s", (limit,))
        )

    def _write(self, sql: str, params: Sequence[object]) -> None:
        with self._errors("write to"), self._pool.connection() as connection:
            connection.execute(sql, params)

    def _rows(self, sql: str, params: Sequence[object]) -> list[tuple]:
        with self._errors("read"), self._pool.connection() as connection:
            return connection.execute(sql, params).fetchall()

    def _read(self, sql: str, params: Sequence[object]) -> pd.DataFrame:
        """Rows of a query whose `ts` column is epoch ms, with `ts` as UTC timestamps. Results come in binary
        (int8, float8 and text decoded without parsing text: a year of the whole market's days reads ~2x faster)."""
        with self._errors("read"), self._pool.connection() as connection, connection.cursor(binary=True) as cursor:
            cursor.execute(sql, params)
            frame = pd.DataFrame(cursor.fetchall(), columns=[column.name for column in cursor.description])
        frame["ts"] = from_ms(frame["ts"])
        return frame

    def events(self, asset: str, exchange: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Recorded events of one asset on one exchange in [start, end) as a normalized frame."""
        frame = self._read(
            "SELECT ts, exchange, asset, side, price, qty, usd FROM liquidations "
            f"WHERE asset = %s AND exchange = %s AND ts >= %s AND ts < %s ORDER BY {EVENT_ORDER}",
            (asset, exchange, ms(start), ms(end)),
        )
        return conform("liquidations", frame) if not frame.empty else empty("liquidations")

    def latest(self, asset: str, exchanges: Sequence[str], limit: int) -> pd.DataFrame:
        """The `limit` most recent recorded events of `asset` on `exchanges`, newest first."""
        return self._read(
            "SELECT ts, exchange, asset, side, price, qty, usd FROM liquidations "
            "WHERE asset = %s AND exchange = ANY(%s) ORDER BY ts DESC LIMIT %s",
            (asset, list(exchanges), limit),
        )

    def buckets(self, asset: str, exchange: str, start: pd.Timestamp, end: pd.Timestamp, step_ms: int) -> pd.DataFrame:
        """Recorded liquidations summed per `step_ms` bucket and side, from the rollups (not the events).

        Whole-day steps read the daily rollup; shorter steps the minute rollup. Rows
        are normalized liquidations with `usd` and `qty` set and no price.
        """
        frame = self._read(
            rollup_sql(step_ms, "side", "exchange = %s AND asset = %s", "%s"), (exchange, asset, ms(start), ms(end))
        )
        if frame.empty:
            return empty("liquidations")
        frame["exchange"], frame["asset"], frame["price"] = exchange, asset, float("nan")
        return conform("liquidations", frame)

    def market_events(self, exchange: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Recorded events of every asset on one exchange in [start, end) (the whole market)."""
        frame = self._read(
            "SELECT ts, exchange, asset, side, price, qty, usd FROM liquidations "
            f"WHERE exchange = %s AND ts >= %s AND ts < %s ORDER BY {EVENT_ORDER}",
            (exchange, ms(start), ms(end)),
        )
        return conform("liquidations", frame) if not frame.empty else empty("liquidations")

    def market_buckets(self, exchange: str, start: pd.Timestamp, end: pd.Timestamp, step_ms: int) -> pd.DataFrame:
        """Every asset's recorded liquidations on one exchange summed per `step_ms` bucket and side, from the
        whole-market rollups: rows of asset `ALL_ASSETS`, no price (see `buckets`)."""
        sql = rollup_sql(step_ms, "side", "exchange = %s", "%s", market=True)
        return market_frame(self._read(sql, (exchange, ms(start), ms(end))), exchange)

    def asset_totals(self, exchange: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Each asset's recorded liquidations on one exchange summed over [start, end), per side: rows with ts
        `start` and no price (fortnights, days, minutes at the edges: `store.asset_totals_sql`)."""
        sql, params = asset_totals_sql(exchange, ms(start), ms(end), "%s")
        return totals_frame(self._rows(sql, params), exchange, start)

    def coverage(
        self, exchange: str, start: pd.Timestamp, end: pd.Timestamp
    ) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
        """Connected intervals overlapping [start, end), clipped to it and merged."""
        rows = self._rows(
            'SELECT start, "end" FROM coverage WHERE exchange = %s AND "end" > %s AND start < %s ORDER BY start',
            (exchange, ms(start), ms(end)),
        )
        return merge_spans(rows, ms(start), ms(end))
