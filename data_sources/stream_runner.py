"""Keep one exchange's liquidation stream recording, and say so when it is not.

`collect` connects, subscribes, sends heartbeats, reads and reconnects with jittered
exponential backoff, and sets the stream's `StreamStatus.state`:

- recording: the subscription is confirmed (see `streams`); a coverage interval opens then
  and is extended to every alive moment (any frame from the server, or the pong to our
  WebSocket ping), so it always ends at the last moment the stream was proven alive;
- refused: the exchange refused the subscription (its own words are the message);
- misconfigured: the handshake answered 401/403/404, the host name does not resolve, or the URL is
  not a WebSocket URL (the message names the setting and the URL);
- down: a drop, a timeout, a transient HTTP answer, or a socket silent for longer than
  `protocol.silence` (closed and reconnected; the gap stays in the coverage).

A stream may need several connections (Bybit: its topics split by the venue's args
limit); each is kept on its own, the stream's state is the worst of theirs, and its
coverage is the time every connection was recording (`Coverage`). A connection whose
protocol gains subscriptions (a new listing) sends them at its next heartbeat; a stream
that needs a new connection gets it within `GROW_CHECK` s.

A message of an unexpected shape is skipped, counted and logged (once per kind per
minute, with an excerpt), and reading goes on; so is a liquidation of a symbol the
instrument snapshot does not list ("unknown symbol"), which is also reported to the
sink (the recorder refreshes the listing). Anything else that escapes `collect` is
a bug: `supervise` logs it with its traceback, sets state "crashed" with the reason, and
restarts the collector after a pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket as socket_module
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException

from data_sources.decode import Malformed
from data_sources.store import Event, StreamHealth
from data_sources.streams import UNKNOWN_SYMBOL, StreamProtocol
from data_sources.venues import BY_ID

log = logging.getLogger("liqscope.recorder")
BACKOFF_START, BACKOFF_MAX = 1.0, 60.0
LOG_EVERY = 60.0  # seconds between log lines about one kind of malformed message
EXCERPT_CHARS = 120
CONFIG_STATUSES = (401, 403, 404)  # handshake answers that mean the URL is wrong, not that the venue is busy
TRANSIENT_CLOSES = (1001, 1006, 1012, 1013)  # going away, abnormal, restart, try later
GROW_CHECK = 1.0  # seconds between checks that a stream has every connection it needs
# Worst first: a stream's state is its worst connection's.
SEVERITY = ("crashed", "misconfigured", "refused", "down", "connecting", "recording", "stopped")


class Sink(Protocol):
    """Where a collector delivers what it learns (the recorder)."""

    def events(self, events: list[Event]) -> None:
        """Liquidations just received."""
        ...

    def cover(self, exchange: str, start_ms: int, end_ms: int) -> None:
        """The stream recorded from `start_ms` (its interval's key) until at least `end_ms`."""
        ...

    def unknown(self, exchange: str, symbols: Sequence[str]) -> None:
        """Liquidations of symbols the protocol's instrument snapshot does not list were skipped."""
        ...


class Refused(Exception):
    """The exchange refused the subscription; the message is its own words."""


class Silent(Exception):
    """No frame, not even a heartbeat answer, for longer than the protocol's `silence`."""


@dataclass
class StreamStatus:
    """What one exchange's stream is doing: the recorder's status line and stream_health row.

    `parts` holds (state, message) per connection; `state` and `message` are the worst one's.
    `symbols` is how many symbols the stream records.
    """

    exchange: str
    parts: dict[int, tuple[str, str]] = field(default_factory=lambda: {0: ("connecting", "")})
    symbols: int = 0
    events: int = 0
    last_event_ms: int | None = None
    last_alive_ms: int | None = None
    skipped: Counter[str] = field(default_factory=Counter)
    recent: deque[tuple[float, int]] = field(default_factory=deque)  # (arrival epoch s, events), last minute
    logged: dict[str, float] = field(default_factory=dict)

    def set(self, state: str, message: str = "", connection: int | None = None) -> None:
        """Enter `state` with `message` (the exchange's words or our reason) on one connection, or on the
        whole stream when `connection` is None."""
        if connection is None:
            self.parts = {0: (state, message)}
        else:
            self.parts[connection] = (state, message)

    def _worst(self) -> tuple[int, str, str]:
        connection, (state, message) = min(self.parts.items(), key=lambda item: SEVERITY.index(item[1][0]))
        return connection, state, message

    @property
    def state(self) -> str:
        """The worst connection's state."""
        return self._worst()[1]

    @property
    def message(self) -> str:
        """The worst connection's message, naming the connection when there are several."""
        connection, _, message = self._worst()
        if message and len(self.parts) > 1:
            return f"connection {connection + 1} of {len(self.parts)}: {message}"
        return message

    def saw(self, count: int, now: float) -> None:
        """Count `count` events arriving at `now` (epoch seconds)."""
        self.events += count
        self.last_event_ms = int(now * 1000)
        self._forget(now)
        self.recent.append((now, count))

    def _forget(self, now: float) -> None:
        """Drop arrivals a minute or more before `now` (one pop each: constant time per message)."""
        while self.recent and now - self.recent[0][0] >= 60:
            self.recent.popleft()

    def skip(self, kind: str, excerpt: str, now: float, count: int = 1, what: str = "a malformed message") -> None:
        """Count `count` skipped items of `kind`; log the kind at most once per LOG_EVERY s, with an excerpt."""
        self.skipped[kind] += count
        if now - self.logged.get(kind, float("-inf")) >= LOG_EVERY:
            self.logged[kind] = now
            log.warning(
                "%s: skipped %s (%s; %d so far): %r",
                self.exchange,
                what,
                kind,
                self.skipped[kind],
                excerpt[:EXCERPT_CHARS],
            )

    def health(self, now_ms: int) -> StreamHealth:
        """This status as a stream_health row written at `now_ms`."""
        return StreamHealth(self.exchange, self.state, self.message, self.last_event_ms, self.last_alive_ms, now_ms)

    def line(self, now: float) -> str:
        """`binance   412 symbols  42 ev/min  total 120  last event 3 s ago  skipped 0  recording` (state last)."""
        state = self.state if not self.message else f"{self.state}: {self.message}"
        per_minute = sum(count for t, count in self.recent if now - t < 60)
        age = f"{now - self.last_event_ms / 1000:.0f} s ago" if self.last_event_ms else "none yet"
        skipped = sum(self.skipped.values())
        return (
            f"{self.exchange:8} {self.symbols:5d} symbols {per_minute:6d} ev/min  total {self.events:8d}  "
            f"last event {age:10}  skipped {skipped:4d}  {state}"
        )


class Coverage:
    """One stream's coverage from its connections: recorded only while every connection is.

    Each connection reports its own interval (start, last alive moment); the stream's interval
    starts at the latest start and reaches the earliest end, so a connection that drops freezes
    it and its reconnection opens a new one.
    """

    def __init__(self, protocol: StreamProtocol, sink: Sink) -> None:
        self.protocol, self.sink = protocol, sink
        self.spans: dict[int, tuple[int, int]] = {}

    def cover(self, connection: int, start_ms: int, end_ms: int) -> None:
        """Connection `connection` recorded from `start_ms` until at least `end_ms`."""
        self.spans[connection] = (start_ms, end_ms)
        if len(self.spans) < self.protocol.connections():
            return
        start = max(s for s, _ in self.spans.values())
        end = min(e for _, e in self.spans.values())
        if end >= start:
            self.sink.cover(self.protocol.exchange, start, end)


class _Session:
    """One connection: subscribe, heartbeat, read until stop, a failure, or silence."""

    def __init__(
        self,
        protocol: StreamProtocol,
        connection: int,
        socket: Any,
        status: StreamStatus,
        sink: Sink,
        coverage: Coverage,
    ) -> None:
        self.protocol, self.connection, self.socket = protocol, connection, socket
        self.status, self.sink, self.coverage = status, sink, coverage
        self.start_ms: int | None = None  # set once the subscription is confirmed
        self.alive_at = time.monotonic()
        self.done = 0  # subscriptions sent on this connection
        self.pending: set[str] = set()  # subscribe requests not answered yet
        self.refusals: list[str] = []  # the exchange's words for each refused request

    @property
    def confirmed(self) -> bool:
        """Whether the subscription was confirmed on this connection."""
        return self.start_ms is not None

    def alive(self) -> None:
        """The server just proved the stream alive: extend the coverage to now."""
        self.alive_at = time.monotonic()
        now_ms = int(time.time() * 1000)
        self.status.last_alive_ms = now_ms
        if self.start_ms is not None:
            self.coverage.cover(self.connection, self.start_ms, now_ms)

    def confirm(self) -> None:
        """The subscription is confirmed: open a coverage interval and say "recording"."""
        if self.start_ms is None:
            self.start_ms = int(time.time() * 1000)
            self.status.set("recording", self._refused_note(), self.connection)
            self.coverage.cover(self.connection, self.start_ms, self.start_ms)
            log.info("%s: recording", self.protocol.exchange)

    def _refused_note(self) -> str:
        if not self.refusals:
            return ""
        return f"{len(self.refusals)} subscribe request(s) refused: {self.refusals[-1]}"

    def refused(self, request: str | None, words: str) -> None:
        """A subscribe request was refused: raises Refused unless another request on this connection is
        confirmed or still unanswered (then the refusal is logged and noted in the status)."""
        if request is None:
            self.pending.clear()
        else:
            self.pending.discard(request)
        self.refusals.append(words)
        if not self.confirmed and not self.pending:
            raise Refused(words)
        log.warning("%s refused subscribe request %s: %s", self.protocol.exchange, request, words)
        if self.confirmed:
            self.status.set("recording", self._refused_note(), self.connection)

    async def subscribe(self) -> None:
        """Send the subscribe requests this connection has not sent yet (all of them on connect)."""
        requests, self.done = self.protocol.requests(self.connection, self.done)
        for request, message in requests:
            self.pending.add(request)
            await self.socket.send(message)

    async def run(self, stop: asyncio.Event) -> None:
        """Read until `stop`; raises Refused, Silent, or the socket's errors."""
        await self.subscribe()
        stopping = asyncio.create_task(stop.wait())
        pinger = asyncio.create_task(self._heartbeat())
        try:
            while (raw := await self._next(stopping, pinger)) is not None:
                self._handle(raw if isinstance(raw, str) else raw.decode("utf-8", "replace"))
        finally:
            stopping.cancel()
            pinger.cancel()

    async def _next(self, stopping: asyncio.Task, pinger: asyncio.Task) -> str | bytes | None:
        """The next frame; None on stop. Raises Silent past the silence limit, or the heartbeat's error."""
        while True:
            wait = self.protocol.silence - (time.monotonic() - self.alive_at)
            if wait <= 0:
                raise Silent(f"silent for {self.protocol.silence:g} s: no data and no answer to our ping")
            receiving = asyncio.ensure_future(self.socket.recv())
            done, _ = await asyncio.wait(
                {receiving, stopping, pinger}, timeout=wait, return_when=asyncio.FIRST_COMPLETED
            )
            if not receiving.cancel():  # already done: keep what it got (a frame or the socket's error)
                return receiving.result()
            await asyncio.wait({receiving})  # let the cancelled recv() finish before the next one starts
            if pinger in done:
                pinger.result()  # re-raises why the heartbeat stopped
            if stopping in done:
                return None

    def _handle(self, raw: str) -> None:
        now = time.time()
        try:
            reading = self.protocol.read(raw)
        except Malformed as problem:
            self.alive()
            self.status.skip(problem.kind, raw, now)
            return
        if reading.refused is not None:
            self.refused(reading.request, reading.refused)
            self.alive()
            return
        self.alive()
        if reading.confirmed:
            if reading.request is None:
                self.pending.clear()
            else:
                self.pending.discard(reading.request)
            self.confirm()
        if reading.unknown:
            symbols = ", ".join(sorted(set(reading.unknown)))
            what = "liquidations of a symbol the instrument listing does not have yet"
            self.status.skip(UNKNOWN_SYMBOL, symbols, now, len(reading.unknown), what)
            self.sink.unknown(self.protocol.exchange, reading.unknown)
        if reading.events:
            self.sink.events(reading.events)
            self.status.saw(len(reading.events), now)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.protocol.heartbeat)
            await self._ping()
            await self.subscribe()  # what a refreshed listing added

    async def _ping(self) -> None:
        if self.protocol.ping is not None:
            await self.socket.send(self.protocol.ping)
        else:
            waiter = await self.socket.ping()
            waiter.add_done_callback(self._ponged)

    def _ponged(self, waiter: asyncio.Future) -> None:
        """A pong: alive; for a stream that needs no subscribe (Binance), the first one confirms it.

        The first ping goes out one heartbeat after connecting, so a refusal (an error object
        or a close right after the handshake) always arrives before this confirmation.
        """
        if not waiter.cancelled() and waiter.exception() is None:
            self.alive()
            self.confirm()


def _setting(protocol: StreamProtocol) -> str:
    venue = BY_ID.get(protocol.exchange)
    setting = venue.get("WS_SETTING") if venue else None
    return setting if isinstance(setting, str) else "the stream URL"


def classify_failure(protocol: StreamProtocol, error: Exception, confirmed: bool) -> tuple[str, str]:
    """(state, message) for an error that ended a connection attempt or session."""
    setting, url = _setting(protocol), protocol.url
    if isinstance(error, Refused):
        return "refused", str(error)
    if isinstance(error, Silent):
        return "down", str(error)
    if isinstance(error, InvalidStatus):
        code = error.response.status_code
        if code in CONFIG_STATUSES:
            hint = "check the URL" if code == 404 else "check the URL, and that this server may connect to it"
            return "misconfigured", f"{setting} answered {code} at {url}: {hint}"
        return "down", f"HTTP {code} on the WebSocket handshake"
    if isinstance(error, InvalidURI):
        return "misconfigured", f"{setting} is not a WebSocket URL ({url!r}): check the URL"
    if isinstance(error, socket_module.gaierror):
        host = urlsplit(url).hostname
        state = "down" if error.errno == socket_module.EAI_AGAIN else "misconfigured"
        return state, (
            f"cannot resolve the host {host!r} of {url}: check this server's network and DNS, "
            f"and {setting} if you set it"
        )
    closed = error.rcvd if isinstance(error, ConnectionClosed) else None
    if closed is not None and not confirmed and closed.code not in TRANSIENT_CLOSES:
        reason = f"{closed.code} {closed.reason}".strip()
        return "refused", f"closed the connection before confirming the stream ({reason})"
    return "down", f"{type(error).__name__}: {error}"[:200]


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def collect(
    protocol: StreamProtocol,
    sink: Sink,
    status: StreamStatus,
    stop: asyncio.Event,
    backoff: float = BACKOFF_START,
    connection: int = 0,
    coverage: Coverage | None = None,
) -> None:
    """Keep one connection of a stream recording until `stop`; expected failures set the status and reconnect."""
    coverage = coverage or Coverage(protocol, sink)
    delay = backoff
    while not stop.is_set():
        session: _Session | None = None
        try:
            async with websockets.connect(
                protocol.url, open_timeout=10, ping_interval=None, close_timeout=min(protocol.silence, 10)
            ) as socket:
                session = _Session(protocol, connection, socket, status, sink, coverage)
                await session.run(stop)
        except (Refused, Silent, OSError, TimeoutError, WebSocketException) as error:
            state, message = classify_failure(protocol, error, session is not None and session.confirmed)
            status.set(state, message, connection)
            log.warning("%s stream (connection %d) %s: %s", protocol.exchange, connection + 1, state, message)
        if stop.is_set():
            break
        if session is not None and session.confirmed:
            delay = backoff
        await pause(stop, delay * random.uniform(0.5, 1.5))
        delay = min(delay * 2, BACKOFF_MAX)


async def _supervise_connection(
    protocol: StreamProtocol,
    sink: Sink,
    status: StreamStatus,
    stop: asyncio.Event,
    backoff: float,
    connection: int,
    coverage: Coverage,
) -> None:
    """Run `collect` for one connection until `stop`, restarting it (state "crashed") whenever it raises."""
    status.set("connecting", "", connection)
    while not stop.is_set():
        try:
            await collect(protocol, sink, status, stop, backoff, connection, coverage)
        except Exception as error:
            status.set("crashed", f"{type(error).__name__}: {error}"[:200], connection)
            log.error("%s collector crashed, restarting: %s", protocol.exchange, status.message, exc_info=error)
            await pause(stop, backoff * random.uniform(0.5, 1.5))


async def supervise(
    protocol: StreamProtocol,
    sink: Sink,
    status: StreamStatus,
    stop: asyncio.Event,
    backoff: float = BACKOFF_START,
) -> None:
    """Keep every connection the stream needs recording until `stop`, opening new ones as it grows."""
    coverage = Coverage(protocol, sink)
    tasks: list[asyncio.Task] = []
    while not stop.is_set():
        if not tasks and protocol.connections() == 0:
            status.set("connecting", "no symbol to subscribe yet: waiting for the instrument listing")
        while len(tasks) < protocol.connections():
            connection = len(tasks)
            tasks.append(
                asyncio.create_task(_supervise_connection(protocol, sink, status, stop, backoff, connection, coverage))
            )
        await pause(stop, GROW_CHECK)
    await asyncio.gather(*tasks)
