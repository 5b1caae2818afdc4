"""Bar intervals: the common set every source supports, and automatic choice by window."""

from __future__ import annotations

import pandas as pd

INTERVAL_SECONDS: dict[str, int] = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "1d": 86400,
}
INTERVALS: tuple[str, ...] = tuple(INTERVAL_SECONDS)
MAX_POINTS = 2000
TARGET_POINTS = 500


def points(interval: str, start: pd.Timestamp, end: pd.Timestamp) -> int:
    """Number of bars of `interval` in [start, end)."""
    return int((end - start).total_seconds() // INTERVAL_SECONDS[interval])


def auto_interval(start: pd.Timestamp, end: pd.Timestamp, target: int = TARGET_POINTS) -> str:
    """The finest interval that draws the window in at most `target` bars."""
    for interval in INTERVALS:
        if points(interval, start, end) <= target:
            return interval
    return INTERVALS[-1]


def fit_interval(requested: str, start: pd.Timestamp, end: pd.Timestamp) -> str:
    """`requested`, or the finest coarser interval that keeps a trace under MAX_POINTS."""
    if requested not in INTERVAL_SECONDS:
        return auto_interval(start, end)
    if points(requested, start, end) <= MAX_POINTS:
        return requested
    return auto_interval(start, end, MAX_POINTS)


def to_offset(interval: str) -> pd.Timedelta:
    """The interval as a pandas Timedelta (for bucketing with `dt.floor`)."""
    return pd.Timedelta(seconds=INTERVAL_SECONDS[interval])
