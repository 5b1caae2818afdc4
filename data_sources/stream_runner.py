"""Keep one exchange's liquidation stream recording, and say so when it is not.

`collect` connects, subscribes, sends heartbeats, reads and reconnects with jittered
exponential backoff, and sets the stream's `StreamStatus.state`:

- recording: the subscription is confirmed (see `streams`); a coverage interval opens then
  and is extended to every alive moment (any frame from the server, or the pong to our
  WebSocket ping), so it always ends at the last moment the stream was proven alive;
- refused: the exchange refused the subscription (its own words are the message);
- misconfigured: the handshake answered 401/403/404, the host is unknown, or the URL is
  not a WebSocket URL (the message names the setting and the URL);
- down: a drop, a timeout, a transient HTTP answer, or a socket silent for longer than
  `protocol.silence` (closed and reconnected; the gap stays in the coverage).

A message of an unexpected shape is skipped, counted and logged (once per kind per
minute, with an excerpt), and reading goes on. Anything else that escapes `collect` is
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
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException

from data_sources.decode import Malformed
from data_sources.settings import WS_SETTINGS
from data_sources.store import Event, StreamHealth
from data_sources.streams import StreamProtocol

log = logging.getLogger("liqscope.recorder")
BACKOFF_START, BACKOFF_MAX = 1.0, 60.0
LOG_EVERY = 60.0  # seconds between log lines about one kind of malformed message
EXCERPT_CHARS = 120
CONFIG_STATUSES = (401, 403, 404)  # handshake answers that mean the URL is wrong, not that the venue is busy
TRANSIENT_CLOSES = (1001, 1006, 1012, 1013)  # going away, abnormal, restart, try later


class Sink(Protocol):
    """Where a collector delivers what it learns (the recorder)."""

    def events(self, events: list[Event]) -> None:
        """Liquidations just received."""
        ...

    def cover(self, exchange: str, start_ms: int, end_ms: int) -> None:
        """The stream recorded from `start_ms` (its interval's key) until at least `end_ms`."""
        ...


class Refused(Exception):
    """The exchange refused the subscription; the message is its own words."""


class Silent(Exception):
    """No frame, not even a heartbeat answer, for longer than the protocol's `silence`."""


@dataclass
class StreamStatus:
    """What one exchange's stream is doing: the recorder's status line and stream_health row."""

    exchange: str
    state: str = "connecting"
    message: str = ""
    events: int = 0
    last_event_ms: int | None = None
    last_alive_ms: int | None = None
    skipped: Counter[str] = field(default_factory=Counter)
    recent: list[float] = field(default_factory=list)
    logged: dict[str, float] = field(default_factory=dict)

    def set(self, state: str, message: str = "") -> None:
        """Enter `state` with `message` (the exchange's words or our reason)."""
        self.state, self.message = state, message

    def saw(self, count: int, now: float) -> None:
        """Count `count` events arriving at `now` (epoch seconds)."""
        self.events += count
        self.last_event_ms = int(now * 1000)
        self.recent = [t for t in self.recent if now - t < 60] + [now] * count

    def skip(self, problem: Malformed, raw: str, now: float) -> None:
        """Count a malformed message; log its kind at most once per LOG_EVERY s, with an excerpt."""
        self.skipped[problem.kind] += 1
        if now - self.logged.get(problem.kind, float("-inf")) >= LOG_EVERY:
            self.logged[problem.kind] = now
            log.warning(
                "%s: skipped a malformed message (%s; %d so far): %r",
                self.exchange,
                problem.kind,
                self.skipped[problem.kind],
                raw[:EXCERPT_CHARS],
            )

    def health(self, now_ms: int) -> StreamHealth:
        """This status as a stream_health row written at `now_ms`."""
        return StreamHealth(self.exchange, self.state, self.message, self.last_event_ms, self.last_alive_ms, now_ms)

    def line(self, now: float) -> str:
        """`binance  42 ev/min  total 120  last event 3 s ago  skipped 0  recording` (state and message last)."""
        state = self.state if not self.message else f"{self.state}: {self.message}"
        per_minute = len([t for t in self.recent if now - t < 60])
        age = f"{now - self.last_event_ms / 1000:.0f} s ago" if self.last_event_ms else "none yet"
        skipped = sum(self.skipped.values())
        return (
            f"{self.exchange:8} {per_minute:6d} ev/min  total {self.events:8d}  last event {age:10}  "
            f"skipped {skipped:4d}  {state}"
        )


class _Session:
    """One connection: subscribe, heartbeat, read until stop, a failure, or silence."""

    def __init__(self, protocol: StreamProtocol, socket: Any, status: StreamStatus, sink: Sink) -> None:
        self.protocol, self.socket, self.status, self.sink = protocol, socket, status, sink
        self.start_ms: int | None = None  # set once the subscription is confirmed
        self.alive_at = time.monotonic()

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
            self.sink.cover(self.protocol.exchange, self.start_ms, now_ms)

    def confirm(self) -> None:
        """The subscription is confirmed: open a coverage interval and say "recording"."""
        if self.start_ms is None:
            self.start_ms = int(time.time() * 1000)
            self.status.set("recording")
            self.sink.cover(self.protocol.exchange, self.start_ms, self.start_ms)
            log.info("%s: recording", self.protocol.exchange)

    async def run(self, stop: asyncio.Event) -> None:
        """Read until `stop`; raises Refused, Silent, or the socket's errors."""
        for message in self.protocol.subscribe:
            await self.socket.send(message)
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
            self.status.skip(problem, raw, now)
            return
        if reading.refused is not None:
            raise Refused(reading.refused)
        self.alive()
        if reading.confirmed:
            self.confirm()
        if reading.events:
            self.sink.events(reading.events)
            self.status.saw(len(reading.events), now)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.protocol.heartbeat)
            await self._ping()

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
    return WS_SETTINGS.get(protocol.exchange, "the stream URL")


def _failure(protocol: StreamProtocol, error: Exception, confirmed: bool) -> tuple[str, str]:
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
        return "misconfigured", f"{setting} names an unknown host ({host!r} at {url}): check the URL"
    closed = error.rcvd if isinstance(error, ConnectionClosed) else None
    if closed is not None and not confirmed and closed.code not in TRANSIENT_CLOSES:
        reason = f"{closed.code} {closed.reason}".strip()
        return "refused", f"closed the connection before confirming the stream ({reason})"
    return "down", f"{type(error).__name__}: {error}"[:200]


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def collect(
    protocol: StreamProtocol,
    sink: Sink,
    status: StreamStatus,
    stop: asyncio.Event,
    backoff: float = BACKOFF_START,
) -> None:
    """Keep one stream recording until `stop`; expected failures set the status and reconnect."""
    delay = backoff
    while not stop.is_set():
        session: _Session | None = None
        try:
            async with websockets.connect(
                protocol.url, open_timeout=10, ping_interval=None, close_timeout=min(protocol.silence, 10)
            ) as socket:
                session = _Session(protocol, socket, status, sink)
                await session.run(stop)
        except (Refused, Silent, OSError, TimeoutError, WebSocketException) as error:
            status.set(*_failure(protocol, error, session is not None and session.confirmed))
            log.warning("%s stream %s: %s", protocol.exchange, status.state, status.message)
        if stop.is_set():
            break
        if session is not None and session.confirmed:
            delay = backoff
        await _pause(stop, delay * random.uniform(0.5, 1.5))
        delay = min(delay * 2, BACKOFF_MAX)


async def supervise(
    protocol: StreamProtocol,
    sink: Sink,
    status: StreamStatus,
    stop: asyncio.Event,
    backoff: float = BACKOFF_START,
) -> None:
    """Run `collect` until `stop`, restarting it (state "crashed") whenever it raises."""
    while not stop.is_set():
        try:
            await collect(protocol, sink, status, stop, backoff)
        except Exception as error:
            status.set("crashed", f"{type(error).__name__}: {error}"[:200])
            log.error("%s collector crashed, restarting: %s", protocol.exchange, status.message, exc_info=error)
            await _pause(stop, backoff * random.uniform(0.5, 1.5))
