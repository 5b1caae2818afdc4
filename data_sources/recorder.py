"""`python -m data_sources.recorder`: record the public liquidation streams into the store.

Run it beside the app (same LIQSCOPE_DB). It records every perpetual each venue lists
(`--assets` narrows it to some base coins): it reads the venues' listings through the
instrument registry (`instruments.py`), hands each stream a snapshot of its venue's
listing, and refreshes it every hour, or sooner (at most once a minute) when a stream
meets a symbol it does not know; a refresh subscribes Bybit's newly listed symbols. It
keeps one supervised collector per exchange (`stream_runner.py`), flushes what arrived
every second in one transaction (a crash loses at most that last second, never a
committed batch), records when each stream was recording (coverage) and what each
stream is doing (stream_health, every flush; "stopped" on exit), prints a one-line
status per exchange (with how many symbols it records), and on SIGINT/SIGTERM flushes
and exits 0. With LIQSCOPE_ALERTS set it evaluates the alert rules on every committed
batch (`data_sources.alerts`; a bad rules file is refused at start, exit 2).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from data_sources import alerts as alerts_module
from data_sources import settings as settings_module
from data_sources import storage
from data_sources.base import SourceError
from data_sources.dburl import masked
from data_sources.instruments import Instrument, InstrumentRegistry
from data_sources.schema import EXCHANGE_NAMES, EXCHANGES
from data_sources.store import Event, LiquidationStore, StoreError
from data_sources.stream_runner import BACKOFF_START, StreamStatus, pause, supervise
from data_sources.streams import StreamProtocol
from data_sources.venues import BY_ID

log = logging.getLogger("liqscope.recorder")
T = TypeVar("T")
REFRESH_EVERY = 3600.0  # seconds between listing refreshes
UNKNOWN_REFRESH_AFTER = 60.0  # at least this long between refreshes asked for by an unknown symbol


def comma_list(choices: Sequence[str], transform: Callable[[str], str]) -> Callable[[str], list[str]]:
    """An argparse type: a comma-separated list of `choices` (after `transform`), never empty."""

    def parse(text: str) -> list[str]:
        values = [transform(v.strip()) for v in text.split(",") if v.strip()]
        unknown = [v for v in values if v not in choices]
        if unknown or not values:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(choices)} (got {text!r})")
        return values

    return parse


def _assets(text: str) -> frozenset[str]:
    values = frozenset(v.strip().upper() for v in text.split(",") if v.strip())
    if not values:
        raise argparse.ArgumentTypeError(f"name at least one base coin, e.g. BTC,ETH,PEPE (got {text!r})")
    return values


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m data_sources.recorder", description=__doc__)
    parser.add_argument(
        "--exchanges",
        type=comma_list(EXCHANGES, str.lower),
        default=list(EXCHANGES),
        help=f"comma-separated (default: {','.join(EXCHANGES)})",
    )
    parser.add_argument(
        "--assets", type=_assets, default=None, help="comma-separated base coins, any listed (default: every one)"
    )
    parser.add_argument("--db", help="SQLite file or postgresql:// URL (default: LIQSCOPE_DB or data/liqscope.db)")
    parser.add_argument("--flush-every", type=float, default=1.0, help="seconds between committed batches")
    parser.add_argument("--status-every", type=float, default=10.0, help="seconds between status lines (0: off)")
    return parser


def listed(registry: InstrumentRegistry, exchange: str) -> tuple[Instrument, ...]:
    """The venue's listing, or none (with a warning) when it cannot be had yet: its stream then skips
    every symbol as unknown and the recorder asks again."""
    try:
        return registry.listing(exchange).instruments
    except SourceError as error:
        print(
            f"warning: {EXCHANGE_NAMES[exchange]} listing unavailable, retrying while recording: {error}",
            file=sys.stderr,
        )
        return ()


def protocols(
    exchanges: Sequence[str],
    assets: frozenset[str] | None,
    config: settings_module.Settings,
    registry: InstrumentRegistry,
) -> list[StreamProtocol]:
    """One stream protocol per exchange that has a liquidation stream (its module's `STREAM`; Hyperliquid has
    none), each with a snapshot of its venue's listing (one request per venue)."""
    built: list[StreamProtocol] = []
    for exchange in exchanges:
        stream = BY_ID[exchange].get("STREAM")
        if stream is not None:
            built.append(stream(config.ws_urls[exchange], listed(registry, exchange), assets))  # type: ignore[operator]
    return built


def unlisted(streams: Sequence[StreamProtocol], assets: frozenset[str]) -> list[str]:
    """The asked-for assets no listing that could be read holds (none when no listing could be read)."""
    known = {i.asset for p in streams for i in p.instruments.values()}
    return sorted(assets - known) if known else []


class Recorder:
    """Collectors feeding one buffer (the `stream_runner.Sink`); a flusher committing it every `flush_every` s.

    `backoff` is the first reconnect pause in seconds (doubling to 60 s). With a `registry`, each
    stream's listing snapshot is refreshed every `refresh_every` s, and at most every
    `unknown_after` s when the stream meets a symbol it does not know. With `alerts`, every committed batch
    is evaluated against the alert rules.
    """

    def __init__(
        self,
        store: LiquidationStore,
        streams: list[StreamProtocol],
        flush_every: float,
        backoff: float = BACKOFF_START,
        registry: InstrumentRegistry | None = None,
        refresh_every: float = REFRESH_EVERY,
        unknown_after: float = UNKNOWN_REFRESH_AFTER,
        alerts: alerts_module.Alerts | None = None,
    ) -> None:
        self.store, self.streams, self.flush_every, self.backoff = store, streams, flush_every, backoff
        self.alerts = alerts
        self.registry, self.refresh_every, self.unknown_after = registry, refresh_every, unknown_after
        self.buffer: list[Event] = []
        self.status = {p.exchange: StreamStatus(p.exchange, symbols=p.recorded()) for p in streams}
        self.wanted = {p.exchange: asyncio.Event() for p in streams}  # an unknown symbol asks for a refresh
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

    def unknown(self, exchange: str, symbols: Sequence[str]) -> None:
        """A stream skipped symbols its snapshot does not list: ask for a listing refresh."""
        self.wanted[exchange].set()

    async def _refresher(self, protocol: StreamProtocol) -> None:
        """Refresh `protocol`'s snapshot every `refresh_every` s, or when it met an unknown symbol (at most
        every `unknown_after` s); a failed refresh keeps the snapshot it had."""
        assert self.registry is not None
        exchange, wanted = protocol.exchange, self.wanted[protocol.exchange]
        last = time.monotonic()
        while not self.stop.is_set():
            due = last + self.refresh_every
            waiting = [asyncio.create_task(self.stop.wait()), asyncio.create_task(wanted.wait())]
            await asyncio.wait(waiting, timeout=max(due - time.monotonic(), 0), return_when=asyncio.FIRST_COMPLETED)
            for task in waiting:
                task.cancel()
            if self.stop.is_set():
                return
            if wanted.is_set() and time.monotonic() < due:
                await pause(self.stop, last + self.unknown_after - time.monotonic())
                if self.stop.is_set():
                    return
            wanted.clear()
            last = time.monotonic()
            try:
                listing = await asyncio.to_thread(self.registry.refresh, exchange)
            except SourceError as error:
                log.warning("%s listing refresh failed; keeping the last snapshot: %s", exchange, error)
                continue
            before = protocol.recorded()
            protocol.update(listing.instruments)
            self.status[exchange].symbols = protocol.recorded()
            if protocol.recorded() != before:
                log.warning("%s now records %d symbols (was %d)", exchange, protocol.recorded(), before)

    async def flush(self) -> None:
        """Commit the buffer in one transaction (then evaluate it against the alert rules), then the coverage
        that moved and every stream's health."""
        batch, self.buffer = self.buffer, []
        if batch:
            self.committed += await asyncio.to_thread(self.store.insert, batch)
            if self.alerts is not None:
                self.alerts.observe(batch)
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
        refreshers = [asyncio.create_task(self._refresher(p)) for p in self.streams if self.registry is not None]
        flusher = asyncio.create_task(self._flusher())
        reporter = asyncio.create_task(self._reporter(status_every)) if status_every > 0 else None
        await self.stop.wait()
        await asyncio.gather(*collectors, *refreshers, *([reporter] if reporter else []))
        await flusher  # re-raises the StoreError that ended the run
        for status in self.status.values():
            status.set("stopped")
        await self.flush()


def alerting_for(
    rules: Sequence[alerts_module.Rule], store: LiquidationStore, config: settings_module.Settings
) -> alerts_module.Alerts | None:
    """The alert rules running on `store` (saying so on stderr), or None without rules."""
    if not rules:
        return None
    names = ", ".join(rule.name for rule in rules)
    print(f"alerting on {len(rules)} rule(s) from {config.alerts_path}: {names}", file=sys.stderr, flush=True)
    return alerts_module.Alerts(rules, store, config.public_url)


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, installed before any slow start-up step (listings, connects)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def unless_stopped(stop: asyncio.Event, work: Callable[[], T]) -> T | None:
    """`work()` in a daemon thread, or None as soon as `stop` is set (a stuck fetch never delays exit)."""
    loop = asyncio.get_running_loop()
    result: asyncio.Future[T] = loop.create_future()

    def deliver(outcome: Callable[[], None]) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(outcome)

    def run() -> None:
        try:
            value = work()
        except Exception as error:  # re-raised in the event loop
            deliver(lambda failure=error: result.done() or result.set_exception(failure))
        else:
            deliver(lambda: result.done() or result.set_result(value))

    threading.Thread(target=run, name="liqscope-startup", daemon=True).start()
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({result, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    return result.result() if result.done() else None


async def _main(args: argparse.Namespace) -> int:
    stop = stop_on_signals()
    config = settings_module.load()
    target = args.db or config.db_path
    try:
        rules = alerts_module.configured(config)
        store = storage.connect(target)
    except (alerts_module.RuleError, StoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    registry = InstrumentRegistry.from_settings(config)
    streams = await unless_stopped(stop, lambda: protocols(args.exchanges, args.assets, config, registry))
    if streams is None:
        store.close()
        print("stopped before recording started", file=sys.stderr, flush=True)
        return 0
    missing = unlisted(streams, args.assets) if args.assets else []
    if missing:
        venues = ", ".join(EXCHANGE_NAMES[p.exchange] for p in streams if p.instruments)
        unread = ", ".join(EXCHANGE_NAMES[p.exchange] for p in streams if not p.instruments)
        unread_note = f" (the listings of {unread} could not be read)" if unread else ""
        print(f"error: no perpetual on {venues} has the base coin {', '.join(missing)}{unread_note}", file=sys.stderr)
        store.close()
        return 2
    alerting = alerting_for(rules, store, config)
    recorder = Recorder(store, streams, args.flush_every, registry=registry, alerts=alerting)
    recorder.stop = stop
    which = ", ".join(sorted(args.assets)) if args.assets else "every listed perpetual"
    counts = ", ".join(f"{p.exchange} ({p.recorded()} symbols)" for p in streams)
    print(f"recording {counts} for {which} into {masked(target)}", file=sys.stderr, flush=True)
    try:
        await recorder.run(args.status_every)
    except StoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        if alerting is not None:
            alerting.close()
    store.close()
    print(f"stopped; {recorder.committed} new events committed", file=sys.stderr, flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    return asyncio.run(_main(_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
