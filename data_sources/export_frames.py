"""Shapes the export CLI writes: liquidations per bar, and numbers at the precision the source sent.

`liquidation_bars` is the export's `--interval` for liquidations: long/short USD and
event count per bar, every bar of the window present (as the charts draw them).
`at_source_precision` rounds USD to cents and every other number to the decimals the
source wrote (found from the values themselves), so arithmetic such as OKX's
contracts x ctVal never prints as 1234.5600000001.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from data_sources.intervals import to_offset
from data_sources.schema import TEXT_COLUMNS

BAR_COLUMNS = ["ts", "exchange", "asset", "long_usd", "short_usd", "long_count", "short_count"]
USD_COLUMNS = {"usd", "quote_volume", "long_usd", "short_usd"}
COUNT_COLUMNS = {"long_count", "short_count"}
SIGNIFICANT_DIGITS = 8


def liquidation_bars(
    liquidations: pd.DataFrame, exchange: str, asset: str, start: pd.Timestamp, end: pd.Timestamp, interval: str
) -> pd.DataFrame:
    """Per `interval` bar of [start, end): long/short USD and how many liquidations (`BAR_COLUMNS`).

    A bar that holds pre-aggregated rows (Coinalyze buckets, store rollups: no price) has
    its USD but no count (empty), since those rows are sums, not single liquidations.
    """
    step = to_offset(interval)
    bars = pd.DatetimeIndex(pd.date_range(start, end, freq=step, inclusive="left", unit="ms"), name="ts")
    flagged = liquidations.assign(
        bar=liquidations["ts"].dt.floor(step), event=liquidations["price"].notna(), summed=liquidations["price"].isna()
    )
    out = pd.DataFrame({"exchange": exchange, "asset": asset}, index=bars)
    for side in ("long", "short"):
        sums = (
            flagged[flagged["side"] == side]
            .groupby("bar")
            .agg(usd=("usd", "sum"), count=("event", "sum"), summed=("summed", "any"))
        )
        sums = sums.reindex(bars)
        out[f"{side}_usd"] = sums["usd"].fillna(0.0)
        count = sums["count"].fillna(0).astype("Int64")
        out[f"{side}_count"] = count.mask(sums["summed"].fillna(False).astype(bool))
    return out.reset_index()[BAR_COLUMNS]


def source_decimals(values: pd.Series, significant: int = SIGNIFICANT_DIGITS) -> int:
    """The fewest decimals that write every value as sent (to 1e-9 relative), capped so the
    largest value keeps at most `significant` digits (the simulated demo has no native precision)."""
    finite = values.dropna().abs()
    finite = finite[np.isfinite(finite)]
    if finite.empty or finite.max() == 0:
        return 0
    cap = max(0, significant - 1 - int(np.floor(np.log10(finite.max()))))
    for decimals in range(cap + 1):
        if np.allclose(finite, finite.round(decimals), rtol=1e-9, atol=0.0):
            return decimals
    return cap


def at_source_precision(frame: pd.DataFrame) -> pd.DataFrame:
    """USD columns to cents; every other number to its `source_decimals` (whole numbers as integers)."""
    out = frame.copy()
    for column in out.columns:
        if column == "ts" or column in TEXT_COLUMNS or column in COUNT_COLUMNS:
            continue
        if column in USD_COLUMNS:
            out[column] = out[column].round(2)
            continue
        decimals = source_decimals(out[column])
        out[column] = out[column].round(decimals).astype("Int64" if decimals == 0 else "float64")
    return out


def positional(value: float) -> str:
    """A float as plain digits, never scientific: 1.327346e-05 -> '0.00001327346', 62960938.0 -> '62960938'."""
    return np.format_float_positional(value, trim="-")


def as_json(frame: pd.DataFrame) -> str:
    """Records as JSON with each float's shortest exact form (pandas' encoder prints 0.3 as
    0.299999999999999989 at full precision and truncates below it); missing values are null."""
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return json.dumps(rows, indent=1, default=lambda value: value.item()) + "\n"
