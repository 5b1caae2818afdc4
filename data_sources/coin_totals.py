"""Each coin's liquidations where a whole-market frame sums them.

Over windows longer than a week the recorder's whole-market liquidations come as one row per bucket and side
summing every coin (asset `ALL_ASSETS`, `store.market_buckets`), so a page's totals and timeline read a few
hundred rows for a year, not one per coin per day. Views that rank coins read `per_coin`: those rows replaced
by each coin's recorded totals over the buckets they cover (`store.asset_totals`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
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
    rows: the rows that sum every coin replaced by each coin's totals over the spans they cover (`spans`), one
    row per coin and side at each span's start; the frame itself when it has no such rows. Raises the store's
    StoreError (a SourceError) when it cannot answer. `store` opens the recorder's store (only when needed)."""
    whole = summed(frame)
    if not whole.any():
        return frame
    recorded = store()
    totals = [recorded.asset_totals(exchange, lo, hi) for lo, hi in spans(frame, whole, step, start, end)]
    return pd.concat([frame[~whole], *totals], ignore_index=True)


def spans(
    frame: pd.DataFrame, whole: pd.Series, step: pd.Timedelta, start: pd.Timestamp, end: pd.Timestamp
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The [start, end) spans whose recorded liquidations the summed rows (`whole`) hold: their buckets, joined
    across every gap that holds none of the frame's per-coin rows (a gap without any row holds no recorded
    liquidation, so a sparse year is one span, one query). A gap with per-coin rows (events the cache keeps
    from an earlier, shorter read) splits the spans, so those events are never counted twice."""
    size = int(step.total_seconds() * 1000)
    buckets = np.unique(frame.loc[whole, "ts"].dt.as_unit("ms").astype("int64").to_numpy())
    others = np.sort(frame.loc[~whole, "ts"].dt.as_unit("ms").astype("int64").to_numpy())
    gap_ends = buckets[1:]
    gap_starts = buckets[:-1] + size
    rows_in_gap = np.searchsorted(others, gap_ends, "left") - np.searchsorted(others, gap_starts, "left")
    breaks = np.flatnonzero(rows_in_gap > 0)
    firsts = np.concatenate([[0], breaks + 1])
    lasts = np.concatenate([breaks, [len(buckets) - 1]])
    joined = [(int(buckets[a]), int(buckets[b]) + size) for a, b in zip(firsts, lasts, strict=True)]
    return merge_spans(joined, ms(start), ms(end))
