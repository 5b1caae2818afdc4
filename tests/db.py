"""Direct SQL on a store location (a SQLite path or a PostgreSQL URL), for assertions behind the store's back."""

from __future__ import annotations

import sqlite3

import pandas as pd
import psycopg

from data_sources.dburl import is_url


def frame(target: str, sql: str) -> pd.DataFrame:
    """The rows of `sql` (portable SQL, no parameters) as a frame."""
    if is_url(target):
        with psycopg.connect(target) as connection:
            cursor = connection.execute(sql)
            return pd.DataFrame(cursor.fetchall(), columns=[c.name for c in cursor.description])
    with sqlite3.connect(target) as connection:
        return pd.read_sql_query(sql, connection)


def scalar(target: str, sql: str) -> object:
    """The single value `sql` returns."""
    return frame(target, sql).iat[0, 0]
