"""Paging that does not depend on which end of an over-full range an endpoint returns.

When a request's range holds more rows than one page, endpoints differ in which
rows they send: Binance's klines and fundingRate start at `startTime` (documented),
its `/futures/data/*` endpoints send the range's END (not documented), and OKX and
Bybit document a sort order but not which end is kept. So:

- `gather` asks for a time series in fixed windows of `limit - 1` periods, all at
  once on the shared request pool. With at most one row per period a complete
  answer never fills a page, so a full page means rows may be missing: that window
  is split in two and asked again, down to one period, where the answer is refused
  (`BadPayload`) rather than kept partial.
- `walk` covers a range from an endpoint that pages by time cursor only: the first
  full page shows which end the venue keeps, and the walk continues from there.

Rows outside the window asked for are dropped; each timestamp (or row) is kept once.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any

import pandas as pd

from data_sources.http import BadPayload, fan_out

Span = tuple[int, int]  # epoch ms


def windows(start: int, end: int, step_ms: int, limit: int) -> list[Span]:
    """[start, end) cut into windows [lo, hi) of `limit - 1` periods of `step_ms` (the last may be shorter)."""
    width = step_ms * (limit - 1)
    return [(lo, min(lo + width, end)) for lo in range(start, end, width)]


def _at(ts_ms: int) -> str:
    return f"{pd.Timestamp(ts_ms, unit='ms', tz='UTC'):%Y-%m-%d %H:%M} UTC"


class Series:
    """One fixed-period series request shape: `ask(path, lo, hi)` returns the raw rows the
    venue sends for [lo, hi) (epoch ms); `ts_of(row)` is a row's epoch-ms time (int or str)."""

    def __init__(
        self, name: str, ask: Callable[[str, int, int], list], ts_of: Callable[[Any], Any], step_ms: int, limit: int
    ) -> None:
        self.name, self.ask, self.ts_of, self.step_ms, self.limit = name, ask, ts_of, step_ms, limit

    def gather(self, paths: Iterable[str], start: int, end: int) -> dict[str, list]:
        """path -> every row of [start, end), ascending, one per timestamp; windows of all paths in one `fan_out`."""
        paths = list(paths)
        jobs = [(path, lo, hi) for path in paths for lo, hi in windows(start, end, self.step_ms, self.limit)]
        pages = fan_out(lambda job: self._window(*job), jobs)
        by_ts: dict[str, dict[int, Any]] = {path: {} for path in paths}
        for (path, _, _), page in zip(jobs, pages, strict=True):
            for row in page:
                by_ts[path].setdefault(int(self.ts_of(row)), row)
        return {path: [rows[ts] for ts in sorted(rows)] for path, rows in by_ts.items()}

    def _window(self, path: str, lo: int, hi: int) -> list:
        """The rows of [lo, hi); a full page is split at a period boundary and both halves asked again."""
        page = self.ask(path, lo, hi)
        if len(page) < self.limit:
            return [row for row in page if lo <= int(self.ts_of(row)) < hi]
        periods = -(-(hi - lo) // self.step_ms)
        if periods < 2:
            raise BadPayload(
                f"{self.name} sent a full page of {self.limit} rows for {path} within one "
                f"{pd.Timedelta(milliseconds=self.step_ms)} period from {_at(lo)}; rows may be missing, "
                "so the answer was not used."
            )
        mid = lo + periods // 2 * self.step_ms
        return self._window(path, lo, mid) + self._window(path, mid, hi)


def walk(
    name: str,
    ask: Callable[[int, int], list],
    ts_of: Callable[[Any], Any],
    span: Span,
    limit: int,
    max_requests: int,
    key: Callable[[Any], Hashable],
) -> list:
    """Every row in [lo, hi] (inclusive epoch ms) from an endpoint paged by time cursors whose fill order is unknown.

    `ask(lo, hi)` returns up to `limit` rows of [lo, hi]. A full page spanning
    [first, last] leaves [lo, first] and [last, hi] to ask (edges included, so rows
    sharing an edge millisecond are not lost). The first full page settles which end
    the venue keeps: its newer side is asked at once, and if that brings nothing new
    the venue keeps the newest rows, so later pages continue only on their older
    side (and the reverse otherwise). That costs one request per walk over a one-way
    cursor, assuming the venue is consistent within one walk.
    Rows are deduplicated by `key`; needing more than `max_requests` requests raises BadPayload.
    """
    pending: list[tuple[int, int, bool]] = [(*span, False)]  # (lo, hi, is the probe of the newer side)
    rows: dict[Hashable, Any] = {}
    keeps: str | None = None  # "newest" or "oldest": which end of an over-full range a page holds
    for _ in range(max_requests):
        if not pending:
            return list(rows.values())
        lo, hi, probe = pending.pop()
        page = ask(lo, hi)
        fresh = {key(row): row for row in page if lo <= int(ts_of(row)) <= hi and key(row) not in rows}
        rows.update(fresh)
        if probe:
            keeps = "oldest" if fresh else "newest"
        if len(page) < limit:
            continue
        times = [int(ts_of(row)) for row in page]
        first, last = min(times), max(times)
        if first == last:
            raise BadPayload(f"{name} sent a full page of {limit} rows all at {_at(first)}; rows may be missing.")
        if keeps is None:
            pending += [(lo, first, False), (last, hi, True)]
        else:
            pending.append((lo, first, False) if keeps == "newest" else (last, hi, False))
    if not pending:
        return list(rows.values())
    raise BadPayload(
        f"{name} needed more than {max_requests} requests for {_at(span[0])} to {_at(span[1])}; pick a shorter window."
    )
