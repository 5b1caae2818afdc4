"""Each coin's liquidations where a whole-market frame sums them.

Over windows longer than a week the recorder's whole-market liquidations come as one row per bucket and side
summing every coin (asset `ALL_ASSETS`, `store.market_buckets`), so a page's totals and timeline read a few
hundred rows for a year, not one per coin per day. Views that rank coins read `per_coin`: those rows replaced
by each coin's recorded totals over the buckets they cover (`store.asset_totals`).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from data_sources.base import ms
from data_sources.schema import ALL_ASSETS
from data_sources.store import LiquidationStore, merge_spans


def summed(frame: pd.DataFrame) -> pd.Series:
    """True for the rows that sum every coin (asset `ALL_ASSETS`)."""
    return frame["asset"] == ALL_ASSETS


def per_coin(
    store: Callable[[], LiquidationStore],
    frame: pd.DataFrame,
    exchange: str,
    step: pd.Timedelta,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> pd.DataFrame:
    """One exchange's normalized liquidations `frame` (buckets of `step` in [start, end)) with each coin's own
    rows: the rows that sum every coin replaced by each coin's totals over the merged buckets they cover, one
    row per coin and side at each span's start; the frame itself when it has no such rows. Raises the store's
    StoreError (a SourceError) when it cannot answer. `store` opens the recorder's store (only when needed)."""
    whole = summed(frame)
    if not whole.any():
        return frame
    starts = sorted(set(frame.loc[whole, "ts"].dt.as_unit("ms").astype("int64")))
    size = int(step.total_seconds() * 1000)
    spans = merge_spans([(lo, lo + size) for lo in starts], ms(start), ms(end))
    recorded = store()
    totals = [recorded.asset_totals(exchange, lo, hi) for lo, hi in spans]
    return pd.concat([frame[~whole], *totals], ignore_index=True)
