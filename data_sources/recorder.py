"""`python -m data_sources.recorder`: record the public liquidation streams into the store.

Run it beside the app (same LIQSCOPE_DB). It keeps one supervised collector per
exchange (`stream_runner.py`), flushes what arrived every second in one transaction (a
crash loses at most that last second, never a committed batch), records when each
stream was recording (coverage) and what each stream is doing (stream_health, every
flush; "stopped" on exit), prints a one-line status per exchange, and on
SIGINT/SIGTERM flushes and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from collections.abc import Callable, Sequence

from data_sources import settings as settings_module
from data_sources import storage
from data_sources.base import SourceError
from data_sources.dburl import masked
from data_sources.okx import OkxAdapter
from data_sources.schema import ASSETS, EXCHANGES
from data_sources.store import Event, LiquidationStore, StoreError
from data_sources.stream_runner import BACKOFF_START, StreamStatus, supervise
from data_sources.streams import BinanceStream, BybitStream, OkxStream, StreamProtocol

log = logging.getLogger("liqscope.recorder")


def comma_list(choices: Sequence[str], transform: Callable[[str], str]) -> Callable[[str], list[str]]:
    """An argparse type: a comma-separated list of `choices` (after `transform`), never empty."""

    def parse(text: str) -> list[str]:
        values = [transform(v.strip()) for v in text.split(",") if v.strip()]
        unknown = [v for v in values if v not in choices]
        if unknown or not values:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(choices)} (got {text!r})")
        return values

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m data_sources.recorder", description=__doc__)
    parser.add_argument(
        "--exchanges",
        type=comma_list(EXCHANGES, str.lower),
        default=list(EXCHANGES),
        help="comma-separated (default: binance,okx,bybit)",
    )
    parser.add_argument(
        "--assets",
        type=comma_list(ASSETS, str.upper),
        default=list(ASSETS),
        help="comma-separated (default: all seven)",
    )
    parser.add_argument("--db", help="SQLite file or postgresql:// URL (default: LIQSCOPE_DB or data/liqscope.db)")
    parser.add_argument("--flush-every", type=float, default=1.0, help="seconds between committed batches")
    parser.add_argument("--status-every", type=float, default=10.0, help="seconds between status lines (0: off)")
    return parser


def protocols(
    exchanges: Sequence[str], assets: Sequence[str], config: settings_module.Settings
) -> list[StreamProtocol]:
    """The stream protocols to run; OKX needs each swap's ctVal from its REST API first."""
    tracked = frozenset(assets)
    built: list[StreamProtocol] = []
    for exchange in exchanges:
        url = config.ws_urls[exchange]
        if exchange == "binance":
            built.append(BinanceStream(url, tracked))
        elif exchange == "bybit":
            built.append(BybitStream(url, tracked))
        else:
            adapter = OkxAdapter(config.base_urls["okx"], config.timeout)
            ct_val = {}
            for asset in assets:
                try:
                    ct_val[asset] = adapter.ct_val(asset)
                except SourceError as error:
                    print(f"warning: OKX {asset} skipped: no contract size ({error})", file=sys.stderr)
            built.append(OkxStream(url, tracked, ct_val))
    return built


class Recorder:
    """Collectors feeding one buffer (the `stream_runner.Sink`); a flusher committing it every `flush_every` s.

    `backoff` is the first reconnect pause in seconds (doubling to 60 s).
    """

    def __init__(
        self, store: LiquidationStore, streams: list[StreamProtocol], flush_every: float, backoff: float = BACKOFF_START
    ) -> None:
        self.store, self.streams, self.flush_every, self.backoff = store, streams, flush_every, backoff
        self.buffer: list[Event] = []
        self.status = {p.exchange: StreamStatus(p.exchange) for p in streams}
        self.spans: dict[tuple[str, int], int] = {}  # (exchange, start ms) -> end ms, not yet written
        self.opened: set[tuple[str, int]] = set()
        self.stop = asyncio.Event()
        self.committed = 0

    def events(self, events: list[Event]) -> None:
        """Buffer events until the next flush."""
        self.buffer.extend(events)

    def cover(self, exchange: str, start_ms: int, end_ms: int) -> None:
        """Note that the interval starting at `start_ms` now reaches `end_ms` (written at the next flush)."""
        self.spans[(exchange, start_ms)] = max(end_ms, self.spans.get((exchange, start_ms), end_ms))

    async def flush(self) -> None:
        """Commit the buffer in one transaction, then the coverage that moved and every stream's health."""
        batch, self.buffer = self.buffer, []
        if batch:
            self.committed += await asyncio.to_thread(self.store.insert, batch)
        spans, self.spans = self.spans, {}
        for (exchange, start_ms), end_ms in spans.items():
            if (exchange, start_ms) not in self.opened:
                self.store.open_interval(exchange, start_ms)
                self.opened.add((exchange, start_ms))
            self.store.extend_interval(exchange, start_ms, end_ms)
        now_ms = int(time.time() * 1000)
        self.store.record_health([status.health(now_ms) for status in self.status.values()])

    async def _flusher(self) -> None:
        while not self.stop.is_set():
            try:
                await asyncio.wait_for(self.stop.wait(), timeout=self.flush_every)
            except TimeoutError:
                try:
                    await self.flush()
                except StoreError:
                    self.stop.set()  # nothing can be recorded: end the run, which re-raises it
                    raise

    async def _reporter(self, every: float) -> None:
        while not self.stop.is_set():
            try:
                await asyncio.wait_for(self.stop.wait(), timeout=every)
            except TimeoutError:
                now = time.time()
                for status in self.status.values():
                    print(status.line(now), file=sys.stderr, flush=True)

    async def run(self, status_every: float) -> None:
        """Run until `stop` is set, then flush what is left and mark every stream "stopped".

        Raises StoreError when the store cannot be written.
        """
        collectors = [
            asyncio.create_task(supervise(p, self, self.status[p.exchange], self.stop, self.backoff))
            for p in self.streams
        ]
        flusher = asyncio.create_task(self._flusher())
        reporter = asyncio.create_task(self._reporter(status_every)) if status_every > 0 else None
        await self.stop.wait()
        await asyncio.gather(*collectors, *([reporter] if reporter else []))
        await flusher  # re-raises the StoreError that ended the run
        for status in self.status.values():
            status.set("stopped")
        await self.flush()


async def _main(args: argparse.Namespace) -> int:
    config = settings_module.load()
    target = args.db or config.db_path
    try:
        store = storage.connect(target)
    except StoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    streams = await asyncio.to_thread(protocols, args.exchanges, args.assets, config)
    recorder = Recorder(store, streams, args.flush_every)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, recorder.stop.set)
    print(
        f"recording {', '.join(p.exchange for p in streams)} for {', '.join(args.assets)} into {masked(target)}",
        file=sys.stderr,
        flush=True,
    )
    try:
        await recorder.run(args.status_every)
    except StoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    store.close()
    print(f"stopped; {recorder.committed} new events committed", file=sys.stderr, flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    return asyncio.run(_main(_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
