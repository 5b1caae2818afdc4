"""`python -m data_sources.collector`: the one writing process of a team deployment.

It records the liquidation streams exactly as `python -m data_sources.recorder` does
(the same `Recorder`), and snapshots the venues' REST series into the store through the
same adapters the app uses (so their retries, typed errors and request budgets apply),
each on the cadence the data changes at:

| dataset        | asked as        | every  | re-fetched before the last stored ts |
|----------------|-----------------|--------|--------------------------------------|
| candles        | 1m bars         | 1 min  | 2 min (the open bar is upserted when it closes) |
| ratios         | 5-minute period | 5 min  | 10 min |
| open_interest  | 5-minute period | 5 min  | 10 min |
| funding        | funding events  | 1 h    | 1 h    |

Every run starts, per (dataset, exchange, asset), from the last stored timestamp
(`dataset_freshness`), so a start after downtime or a venue outage backfills what was
missed; a series never stored starts `--backfill` days back. Either is bounded by the
venue's history (each venue module's `SERIES_HISTORY`: Binance ratios and open interest: 30 days; OKX
rubik: its latest 1,440 five-minute rows; OKX funding: 3 months). A series that fails is logged with the venue's
reason and retried on the next run; the others go on. Each series is written in one
transaction (rows upserted by natural key with its freshness row), so `kill -9` loses at
most the series in flight and a restart neither loses nor duplicates a committed row.
With LIQSCOPE_ALERTS set, the alert rules run on the recorded liquidations as in the recorder.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import pandas as pd

from data_sources import alerts as alerts_module
from data_sources import settings as settings_module
from data_sources import storage
from data_sources.base import Query, SourceError
from data_sources.dburl import masked
from data_sources.instruments import InstrumentRegistry
from data_sources.live import LiveSource
from data_sources.recorder import Recorder, alerting_for, comma_list, protocols, stop_on_signals, unless_stopped
from data_sources.schema import ASSETS, EXCHANGE_NAMES, EXCHANGES, Dataset
from data_sources.series import SERIES
from data_sources.store import LiquidationStore, StoreError
from data_sources.venues import BY_ID

log = logging.getLogger("liqscope.collector")
DATASETS = ("liquidations", *SERIES)
DEFAULT_BACKFILL_DAYS = 7.0


@dataclass(frozen=True)
class Job:
    """One dataset's schedule: the bar `interval` asked of the adapters, `every` seconds between runs,
    `overlap` re-fetched before the last stored ts, and `settle` seconds after a period boundary to wait
    for the venue to publish it."""

    dataset: Dataset
    interval: str
    every: float
    overlap: pd.Timedelta
    settle: float


JOBS: dict[str, Job] = {
    "candles": Job("candles", "1m", 60.0, pd.Timedelta(minutes=2), 3.0),
    "ratios": Job("ratios", "5m", 300.0, pd.Timedelta(minutes=10), 15.0),
    "open_interest": Job("open_interest", "5m", 300.0, pd.Timedelta(minutes=10), 15.0),
    "funding": Job("funding", "1h", 3600.0, pd.Timedelta(hours=1), 30.0),
}
HISTORY_MARGIN = pd.Timedelta(minutes=5)  # stay clear of the edge of a venue's window


class Adapter(Protocol):
    """What the collector needs of a venue adapter (`venues/<id>.py`)."""

    def fetch(self, dataset: Dataset, query: Query) -> pd.DataFrame:
        """The normalized frame; raises SourceError."""
        ...


@dataclass
class RunReport:
    """What one run of one job did: series written, rows written, and each failure's reason."""

    dataset: str
    series: int = 0
    rows: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (exchange, asset, reason)

    def line(self) -> str:
        """e.g. "candles: 21 series, 1,260 rows; failed: OKX ETH (OKX is having trouble (HTTP 503) ...)"."""
        text = f"{self.dataset}: {self.series} series, {self.rows:,} rows"
        if self.failures:
            failed = "; ".join(f"{EXCHANGE_NAMES.get(e, e)} {a} ({reason})" for e, a, reason in self.failures)
            text += f"; failed: {failed}"
        return text


class Snapshots:
    """Scheduled REST snapshots of the series `jobs` for `exchanges` x `assets` into `store`.

    `clock` is epoch seconds. One worker per exchange walks its assets one after another, so
    a venue sees at most one series fetch per job at a time (each fetch pages in parallel inside
    its adapter, under the adapter's own budget).
    """

    def __init__(
        self,
        store: LiquidationStore,
        adapters: dict[str, Adapter],
        exchanges: Sequence[str],
        assets: Sequence[str],
        jobs: Sequence[Job],
        backfill: pd.Timedelta,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.adapters, self.exchanges, self.assets = store, adapters, list(exchanges), list(assets)
        self.jobs, self.backfill, self.clock = list(jobs), backfill, clock
        self.halt = threading.Event()  # set on shutdown: no new series is started

    def window(self, job: Job, exchange: str, last: pd.Timestamp | None) -> tuple[pd.Timestamp, pd.Timestamp]:
        """[start, now): from the last stored ts less the overlap, or `backfill` back, within the venue's history."""
        now = pd.Timestamp(self.clock(), unit="s", tz="UTC")
        start = now - self.backfill if last is None or pd.isna(last) else last - job.overlap
        history = (BY_ID[exchange].get("SERIES_HISTORY") or {}).get(job.dataset)  # type: ignore[attr-defined]
        if history is not None:
            start = max(start, now - history + HISTORY_MARGIN)
        return start, now

    def collect(self, job: Job, exchange: str, asset: str, last: pd.Timestamp | None) -> int:
        """Fetch one series from its window and write it in one transaction; returns rows written."""
        start, end = self.window(job, exchange, last)
        frame = self.adapters[exchange].fetch(job.dataset, Query(asset, exchange, start, end, job.interval))
        return self.store.write_series(job.dataset, frame, exchange, asset)

    def run_job(self, job: Job) -> RunReport:
        """One run of `job` over every exchange x asset; failures are logged and reported, never raised."""
        report = RunReport(job.dataset)
        lock = threading.Lock()
        try:
            fresh = self.store.freshness()
        except StoreError as error:
            report.failures.append(("store", "all", str(error)))
            return report
        fresh = fresh[fresh["dataset"] == job.dataset]
        last = {(row.exchange, row.asset): row.last_ts for row in fresh.itertuples()}

        def walk(exchange: str) -> None:
            for asset in self.assets:
                if self.halt.is_set():
                    return
                try:
                    rows = self.collect(job, exchange, asset, last.get((exchange, asset)))
                except SourceError as error:
                    reason = str(error)
                except Exception as error:  # a bug in a parser or the store: logged in full, the rest goes on
                    log.exception("%s %s %s: unexpected error", job.dataset, exchange, asset)
                    reason = f"unexpected {type(error).__name__}: {error}"
                else:
                    with lock:
                        report.series += 1
                        report.rows += rows
                    continue
                with lock:
                    report.failures.append((exchange, asset, reason))

        with ThreadPoolExecutor(max_workers=len(self.exchanges), thread_name_prefix="liqscope-collect") as pool:
            list(pool.map(walk, self.exchanges))
        (log.warning if report.failures else log.info)("%s", report.line())
        return report

    def run_once(self) -> list[RunReport]:
        """Every job once, one after another (the `--once` mode)."""
        return [self.run_job(job) for job in self.jobs]

    def next_due(self, job: Job) -> float:
        """The next period boundary plus the job's settle time, in epoch seconds."""
        now = self.clock()
        return (now // job.every + 1) * job.every + job.settle

    async def _loop(self, job: Job, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.to_thread(self.run_job, job)
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(self.next_due(job) - self.clock(), 0.0))
            except TimeoutError:
                continue

    async def run(self, stop: asyncio.Event) -> None:
        """Run every job now (backfill), then on its cadence, until `stop` is set."""
        loops = [asyncio.create_task(self._loop(job, stop)) for job in self.jobs]
        await stop.wait()
        self.halt.set()
        await asyncio.gather(*loops)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m data_sources.collector", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--exchanges",
        type=comma_list(EXCHANGES, str.lower),
        default=list(EXCHANGES),
        help=f"comma-separated (default: {','.join(EXCHANGES)})",
    )
    parser.add_argument(
        "--assets",
        type=comma_list(ASSETS, str.upper),
        default=None,
        help="comma-separated (default: REST series for all seven, liquidation streams for every listed perpetual)",
    )
    parser.add_argument(
        "--datasets",
        type=comma_list(DATASETS, str.lower),
        default=list(DATASETS),
        help=f"comma-separated (default: {','.join(DATASETS)}; liquidations = the streams)",
    )
    parser.add_argument("--db", help="SQLite file or postgresql:// URL (default: LIQSCOPE_DB or data/liqscope.db)")
    parser.add_argument(
        "--backfill", type=float, default=DEFAULT_BACKFILL_DAYS, help="days to fetch for a series never stored"
    )
    parser.add_argument("--once", action="store_true", help="fetch every REST series once (no streams) and exit")
    parser.add_argument("--flush-every", type=float, default=1.0, help="seconds between committed stream batches")
    parser.add_argument("--status-every", type=float, default=60.0, help="seconds between stream status lines (0: off)")
    return parser


async def _run(
    args: argparse.Namespace,
    config: settings_module.Settings,
    store: LiquidationStore,
    snapshots: Snapshots,
    rules: Sequence[alerts_module.Rule],
) -> int:
    stop = stop_on_signals()
    streams: list | None = []
    registry = InstrumentRegistry.from_settings(config)
    if "liquidations" in args.datasets:
        narrowed = frozenset(args.assets) if args.assets else None
        streams = await unless_stopped(stop, lambda: protocols(args.exchanges, narrowed, config, registry))
    if streams is None:
        print("stopped before collecting started", file=sys.stderr, flush=True)
        return 0
    alerting = alerting_for(rules, store, config)
    recorder = Recorder(store, streams, args.flush_every, registry=registry, alerts=alerting)
    recorder.stop = stop
    results = await asyncio.gather(
        recorder.run(args.status_every), snapshots.run(recorder.stop), return_exceptions=True
    )
    if alerting is not None:
        alerting.close()
    for result in results:
        if isinstance(result, StoreError):
            print(f"error: {result}", file=sys.stderr)
            return 2
        if isinstance(result, BaseException):
            raise result
    print(f"stopped; {recorder.committed} new liquidation events committed", file=sys.stderr, flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (1: `--once` with a failed series; 2: no usable store)."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    log.setLevel(logging.INFO)
    args = _parser().parse_args(argv)
    config = settings_module.load()
    target = args.db or config.db_path
    try:
        rules = alerts_module.configured(config)  # a bad rules file is refused before anything starts
        store = storage.connect(target)
    except (alerts_module.RuleError, StoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    jobs = [JOBS[d] for d in args.datasets if d in JOBS]
    adapters = LiveSource(config).adapters
    tracked = args.assets or list(ASSETS)
    snapshots = Snapshots(store, adapters, args.exchanges, tracked, jobs, pd.Timedelta(days=args.backfill))
    what = args.datasets if not args.once else [j.dataset for j in jobs]
    print(
        f"collecting {', '.join(what)} from {', '.join(args.exchanges)} for {', '.join(tracked)} into {masked(target)}",
        file=sys.stderr,
        flush=True,
    )
    try:
        if args.once:
            failed = any(report.failures for report in snapshots.run_once())
            return 1 if failed else 0
        return asyncio.run(_run(args, config, store, snapshots, rules))
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
