"""`python -m data_sources.recorder`: record the public liquidation streams into the store.

Run it beside the app (same LIQSCOPE_DB). It keeps one WebSocket per exchange,
flushes what arrived every second in one transaction (a crash loses at most
that last second, never a committed batch), records when each stream was
connected, prints a one-line status per exchange, and on SIGINT/SIGTERM
flushes and exits 0.
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
from data_sources.streams import BinanceStream, BybitStream, OkxStream, StreamProtocol, StreamStatus, collect

log = logging.getLogger("liqscope.recorder")


def _list(choices: Sequence[str], transform: Callable[[str], str]) -> Callable[[str], list[str]]:
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
        type=_list(EXCHANGES, str.lower),
        default=list(EXCHANGES),
        help="comma-separated (default: binance,okx,bybit)",
    )
    parser.add_argument(
        "--assets", type=_list(ASSETS, str.upper), default=list(ASSETS), help="comma-separated (default: all seven)"
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
    """Collectors feeding one buffer; a flusher committing it to the store every `flush_every` s."""

    def __init__(self, store: LiquidationStore, streams: list[StreamProtocol], flush_every: float) -> None:
        self.store, self.streams, self.flush_every = store, streams, flush_every
        self.buffer: list[Event] = []
        self.status = {p.exchange: StreamStatus(p.exchange) for p in streams}
        self.intervals: dict[str, int] = {}
        self.stop = asyncio.Event()
        self.committed = 0

    def _on_events(self, events: list[Event]) -> None:
        self.buffer.extend(events)

    def _on_connect(self, exchange: str, start_ms: int) -> None:
        self.store.open_interval(exchange, start_ms)
        self.intervals[exchange] = start_ms

    async def flush(self) -> None:
        """Commit the buffer in one transaction and extend connected streams' coverage to now."""
        batch, self.buffer = self.buffer, []
        if batch:
            self.committed += await asyncio.to_thread(self.store.insert, batch)
        now_ms = int(time.time() * 1000)
        for exchange, start_ms in self.intervals.items():
            if self.status[exchange].connected:
                self.store.extend_interval(exchange, start_ms, now_ms)

    async def _flusher(self) -> None:
        while not self.stop.is_set():
            try:
                await asyncio.wait_for(self.stop.wait(), timeout=self.flush_every)
            except TimeoutError:
                await self.flush()

    async def _reporter(self, every: float) -> None:
        while not self.stop.is_set():
            try:
                await asyncio.wait_for(self.stop.wait(), timeout=every)
            except TimeoutError:
                now = time.time()
                for status in self.status.values():
                    print(status.line(now), file=sys.stderr, flush=True)

    async def run(self, status_every: float) -> None:
        """Run until `stop` is set, then flush what is left."""
        tasks = [
            asyncio.create_task(collect(p, self._on_events, self._on_connect, self.status[p.exchange], self.stop))
            for p in self.streams
        ]
        tasks.append(asyncio.create_task(self._flusher()))
        if status_every > 0:
            tasks.append(asyncio.create_task(self._reporter(status_every)))
        await self.stop.wait()
        await asyncio.gather(*tasks, return_exceptions=True)
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
