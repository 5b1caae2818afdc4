"""The collector's market series in the store: which tables, which keys, and how frames become rows.

The collector (`data_sources.collector`) snapshots four datasets from the venues' REST
APIs into tables of the same name (migration 4 of both stores), one row per natural key
(exchange, asset, ts[, kind]), upserted so a re-fetched bar (the still-open candle, a
corrected value) replaces the stored one. `dataset_freshness` keeps, per dataset x
exchange x asset, the first and last stored `ts` and when the collector last wrote
(epoch ms), so the app can say how fresh each panel is and the collector where to
resume after being down. Both stores build their SQL from the specs here.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from data_sources.base import from_ms
from data_sources.schema import COLUMNS, Dataset, conform, empty

SERIES: tuple[Dataset, ...] = ("candles", "ratios", "open_interest", "funding")
FRESHNESS_COLUMNS = ["dataset", "exchange", "asset", "first_ts", "last_ts", "written_at"]


@dataclass(frozen=True)
class Table:
    """One series table: its natural key and its value columns (schema.COLUMNS order)."""

    dataset: Dataset

    @property
    def key(self) -> list[str]:
        """exchange, asset, ts, and kind for ratios."""
        return ["exchange", "asset", "ts", *(["kind"] if self.dataset == "ratios" else [])]

    @property
    def values(self) -> list[str]:
        """The non-key columns."""
        return [c for c in COLUMNS[self.dataset] if c not in self.key]

    @property
    def columns(self) -> list[str]:
        """Key then values: the column order of every INSERT."""
        return [*self.key, *self.values]


TABLES: dict[Dataset, Table] = {dataset: Table(dataset) for dataset in SERIES}


def table(dataset: str) -> Table:
    """The spec of a series dataset; ValueError naming the choices for anything else."""
    if dataset not in TABLES:
        raise ValueError(f"{dataset!r} is not a stored series (choose from {', '.join(SERIES)})")
    return TABLES[dataset]  # type: ignore[index]


def rows(dataset: str, frame: pd.DataFrame, exchange: str, asset: str) -> list[tuple]:
    """One exchange x asset's normalized frame as INSERT rows in `table(dataset).columns` order, ts in epoch
    ms, one row per key (the last wins, as an upsert would). ValueError for rows of another exchange or asset."""
    spec = table(dataset)
    out = conform(spec.dataset, frame).drop_duplicates(spec.key, keep="last")
    strays = out[(out["exchange"] != exchange) | (out["asset"] != asset)]
    if not strays.empty:
        stray = strays.iloc[0]
        raise ValueError(f"{dataset} rows for {exchange} {asset} include {stray['exchange']} {stray['asset']}")
    out["ts"] = out["ts"].dt.as_unit("ms").astype("int64")
    values = out[spec.values].astype(object).where(out[spec.values].notna(), None)
    return list(zip(*(out[c].tolist() for c in spec.key), *(values[c].tolist() for c in spec.values), strict=True))


def span(batch: list[tuple]) -> tuple[int | None, int | None]:
    """(first, last) epoch-ms ts of INSERT rows from `rows` (ts is the third column); (None, None) if empty."""
    stamps = [row[2] for row in batch]
    return (min(stamps), max(stamps)) if stamps else (None, None)


def frame_from(dataset: str, records: list[tuple], columns: list[str]) -> pd.DataFrame:
    """Rows read back (ts in epoch ms) as the dataset's normalized frame."""
    if not records:
        return empty(table(dataset).dataset)
    frame = pd.DataFrame(records, columns=columns)
    frame["ts"] = from_ms(frame["ts"])
    return conform(table(dataset).dataset, frame)


def select_sql(dataset: str, placeholder: str) -> tuple[str, list[str]]:
    """SELECT of one asset on one exchange over [start, end) (4 parameters), and its column names."""
    spec = table(dataset)
    order = "ts, kind" if "kind" in spec.key else "ts"
    sql = (
        f"SELECT {', '.join(spec.columns)} FROM {dataset} WHERE exchange = {placeholder} AND asset = {placeholder} "
        f"AND ts >= {placeholder} AND ts < {placeholder} ORDER BY {order}"
    )
    return sql, spec.columns


def upsert_sql(dataset: str, source: str) -> str:
    """INSERT ... ON CONFLICT (key) DO UPDATE for rows given by `source` (a VALUES clause or a SELECT)."""
    spec = table(dataset)
    updates = ", ".join(f"{c} = excluded.{c}" for c in spec.values)
    return (
        f"INSERT INTO {dataset} ({', '.join(spec.columns)}) {source} "
        f"ON CONFLICT ({', '.join(spec.key)}) DO UPDATE SET {updates}"
    )


def freshness_frame(records: list[tuple]) -> pd.DataFrame:
    """`dataset_freshness` rows (dataset, exchange, asset, first_ts, last_ts, written_ms) with UTC times."""
    frame = pd.DataFrame(records, columns=FRESHNESS_COLUMNS)
    for column in ("first_ts", "last_ts", "written_at"):
        frame[column] = pd.to_datetime(pd.to_numeric(frame[column]), unit="ms", utc=True).astype("datetime64[ms, UTC]")
    return frame.sort_values(["dataset", "exchange", "asset"], ignore_index=True)
