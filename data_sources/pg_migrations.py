"""The PostgreSQL schema of the liquidation store, as numbered migrations (same numbers as SQLite's).

Each migration runs once, in order, inside one transaction that holds an advisory
lock, so the `migrate` command, a recorder and any number of app replicas may
start together. Applied versions are rows of `schema_version`. The rollups are
kept by statement-level triggers over the inserted rows (a transition table), so
a batch updates each minute and day row once, in the same transaction as its events.
"""

from __future__ import annotations

import psycopg

from data_sources.store import newer_schema

LOCK_KEY = 0x6C69_7173_636F  # "liqsco": the advisory lock every migrating session takes

_ROLLUP = """
CREATE FUNCTION {table}_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {table} (exchange, asset, side, {unit}, count, qty, usd)
    SELECT exchange, asset, side, ts / {ms} * {ms}, COUNT(*), SUM(qty), SUM(usd)
    FROM inserted GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (exchange, asset, side, {unit}) DO UPDATE SET
        count = {table}.count + excluded.count, qty = {table}.qty + excluded.qty, usd = {table}.usd + excluded.usd;
    RETURN NULL;
END $$;
CREATE TRIGGER {table}_rollup AFTER INSERT ON liquidations REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION {table}_rollup();
"""
_MARKET_ROLLUP = """
CREATE FUNCTION {table}_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {table} (exchange, side, {unit}, count, qty, usd)
    SELECT exchange, side, ts / {ms} * {ms}, COUNT(*), SUM(qty), SUM(usd)
    FROM inserted GROUP BY 1, 2, 3 ORDER BY 1, 3, 2
    ON CONFLICT (exchange, {unit}, side) DO UPDATE SET
        count = {table}.count + excluded.count, qty = {table}.qty + excluded.qty, usd = {table}.usd + excluded.usd;
    RETURN NULL;
END $$;
CREATE TRIGGER {table}_rollup AFTER INSERT ON liquidations REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION {table}_rollup();
"""

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE liquidations (
        exchange TEXT NOT NULL, symbol TEXT NOT NULL, asset TEXT NOT NULL, ts BIGINT NOT NULL,
        side TEXT NOT NULL CHECK (side IN ('long', 'short')), price DOUBLE PRECISION NOT NULL,
        qty DOUBLE PRECISION NOT NULL, usd DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (exchange, symbol, ts, side, price, qty)
    );
    CREATE INDEX liquidations_by_time ON liquidations (asset, ts);
    CREATE TABLE liquidation_minutes (
        exchange TEXT NOT NULL, asset TEXT NOT NULL, side TEXT NOT NULL, minute BIGINT NOT NULL,
        count BIGINT NOT NULL, qty DOUBLE PRECISION NOT NULL, usd DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (exchange, asset, side, minute)
    );
    CREATE TABLE coverage (
        exchange TEXT NOT NULL, start BIGINT NOT NULL, "end" BIGINT NOT NULL,
        PRIMARY KEY (exchange, start)
    );
    """
    + _ROLLUP.format(table="liquidation_minutes", unit="minute", ms=60_000),
    """
    CREATE TABLE liquidation_days (
        exchange TEXT NOT NULL, asset TEXT NOT NULL, side TEXT NOT NULL, day BIGINT NOT NULL,
        count BIGINT NOT NULL, qty DOUBLE PRECISION NOT NULL, usd DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (exchange, asset, side, day)
    );
    INSERT INTO liquidation_days (exchange, asset, side, day, count, qty, usd)
        SELECT exchange, asset, side, minute / 86400000 * 86400000, SUM(count), SUM(qty), SUM(usd)
        FROM liquidation_minutes GROUP BY 1, 2, 3, 4;
    """
    + _ROLLUP.format(table="liquidation_days", unit="day", ms=86_400_000),
    """
    CREATE TABLE stream_health (
        exchange TEXT PRIMARY KEY, state TEXT NOT NULL, message TEXT NOT NULL,
        last_event_ms BIGINT, last_alive_ms BIGINT, updated_ms BIGINT NOT NULL
    );
    """,
    """
    CREATE TABLE candles (
        exchange TEXT NOT NULL, asset TEXT NOT NULL, ts BIGINT NOT NULL,
        open DOUBLE PRECISION, high DOUBLE PRECISION, low DOUBLE PRECISION, close DOUBLE PRECISION,
        volume DOUBLE PRECISION, quote_volume DOUBLE PRECISION,
        PRIMARY KEY (exchange, asset, ts)
    );
    CREATE TABLE ratios (
        exchange TEXT NOT NULL, asset TEXT NOT NULL, ts BIGINT NOT NULL, kind TEXT NOT NULL,
        long_share DOUBLE PRECISION, short_share DOUBLE PRECISION, ratio DOUBLE PRECISION,
        PRIMARY KEY (exchange, asset, ts, kind)
    );
    CREATE TABLE open_interest (
        exchange TEXT NOT NULL, asset TEXT NOT NULL, ts BIGINT NOT NULL, usd DOUBLE PRECISION,
        PRIMARY KEY (exchange, asset, ts)
    );
    CREATE TABLE funding (
        exchange TEXT NOT NULL, asset TEXT NOT NULL, ts BIGINT NOT NULL, rate DOUBLE PRECISION,
        PRIMARY KEY (exchange, asset, ts)
    );
    CREATE TABLE dataset_freshness (
        dataset TEXT NOT NULL, exchange TEXT NOT NULL, asset TEXT NOT NULL,
        first_ts BIGINT, last_ts BIGINT, written_ms BIGINT NOT NULL,
        PRIMARY KEY (dataset, exchange, asset)
    );
    """,
    """
    CREATE TABLE alerts_sent (
        rule TEXT NOT NULL, fired_ms BIGINT NOT NULL, usd DOUBLE PRECISION NOT NULL, side TEXT NOT NULL,
        time_window TEXT NOT NULL, exchanges TEXT NOT NULL, assets TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('delivered', 'failed')), error TEXT NOT NULL,
        PRIMARY KEY (rule, fired_ms)
    );
    CREATE INDEX alerts_sent_by_time ON alerts_sent (fired_ms);
    """,
    # 6 (SQLite's 6 also drops its per-row rollup triggers; the statement-level ones here stay): the day rollup
    # indexed in the whole market's read order (`rollup_sql`), covering its values (an index-only scan, no sort).
    """
    CREATE INDEX liquidation_days_by_day ON liquidation_days (exchange, day, asset, side) INCLUDE (qty, usd);
    """,
    # 7: the whole market's rollups (every asset summed per exchange, minute or day, and side) and each asset per
    # fortnight, filled from the rollups already kept (see SQLite's 7).
    """
    CREATE TABLE liquidation_market_minutes (
        exchange TEXT NOT NULL, side TEXT NOT NULL, minute BIGINT NOT NULL,
        count BIGINT NOT NULL, qty DOUBLE PRECISION NOT NULL, usd DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (exchange, minute, side)
    );
    INSERT INTO liquidation_market_minutes (exchange, side, minute, count, qty, usd)
        SELECT exchange, side, minute, SUM(count), SUM(qty), SUM(usd) FROM liquidation_minutes GROUP BY 1, 2, 3;
    CREATE TABLE liquidation_market_days (
        exchange TEXT NOT NULL, side TEXT NOT NULL, day BIGINT NOT NULL,
        count BIGINT NOT NULL, qty DOUBLE PRECISION NOT NULL, usd DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (exchange, day, side)
    );
    INSERT INTO liquidation_market_days (exchange, side, day, count, qty, usd)
        SELECT exchange, side, day, SUM(count), SUM(qty), SUM(usd) FROM liquidation_days GROUP BY 1, 2, 3;
    CREATE TABLE liquidation_fortnights (
        exchange TEXT NOT NULL, asset TEXT NOT NULL, side TEXT NOT NULL, fortnight BIGINT NOT NULL,
        count BIGINT NOT NULL, qty DOUBLE PRECISION NOT NULL, usd DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (exchange, asset, side, fortnight)
    );
    INSERT INTO liquidation_fortnights (exchange, asset, side, fortnight, count, qty, usd)
        SELECT exchange, asset, side, day / 1209600000 * 1209600000, SUM(count), SUM(qty), SUM(usd)
        FROM liquidation_days GROUP BY 1, 2, 3, 4;
    """
    + _MARKET_ROLLUP.format(table="liquidation_market_minutes", unit="minute", ms=60_000)
    + _MARKET_ROLLUP.format(table="liquidation_market_days", unit="day", ms=86_400_000)
    + _ROLLUP.format(table="liquidation_fortnights", unit="fortnight", ms=1_209_600_000),
)


def current(connection: psycopg.Connection) -> int:
    """The highest applied migration (0 for an empty database)."""
    exists = connection.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]
    if not exists:
        return 0
    return connection.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]


def migrate(connection: psycopg.Connection, migrations: tuple[str, ...] = MIGRATIONS, where: str = "") -> int:
    """Apply the missing migrations in one locked transaction; returns the version reached. Raises StoreError
    (naming `where`) for a database a newer liqscope migrated further than `MIGRATIONS` (`store.newer_schema`)."""
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_version "
            "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        version = current(connection)
        if version > len(MIGRATIONS):
            raise newer_schema(where, version)
        for number, script in enumerate(migrations[version:], start=version + 1):
            connection.execute(script)
            connection.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))
        return max(version, len(migrations))
