"""Public liquidation streams: one protocol per exchange, and a reconnecting collector.

Each `Protocol` knows its URL, subscribe messages, heartbeat and how to turn a
raw message into `Event`s (pure, testable on stored frames). Side conventions
differ and are normalized here, once:

- Binance `!forceOrder@arr`: `S` is the liquidation ORDER side, so SELL = a long
  was liquidated. At most one event per symbol per second: totals are lower bounds.
- Bybit `allLiquidation.{symbol}`: `S` is the POSITION side, so Buy = a long was
  liquidated (the opposite of Binance). `v` is in coins. Every liquidation.
- OKX `liquidation-orders` (instType SWAP, all contracts in one feed): `sz` is in
  contracts (x ctVal); `posSide` names the position, or in net mode a forced
  `sell` closes a long. At most one order per contract per second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websockets

from data_sources.store import Event

log = logging.getLogger("liqscope.recorder")
BACKOFF_START, BACKOFF_MAX = 1.0, 60.0


def _asset(symbol: str, suffix: str, assets: frozenset[str]) -> str | None:
    asset = symbol.removesuffix(suffix)
    return asset if symbol.endswith(suffix) and asset in assets else None


@dataclass
class StreamProtocol:
    """How to talk to one exchange's liquidation stream."""

    exchange: str
    url: str
    assets: frozenset[str]
    subscribe: list[str] = field(default_factory=list)
    ping: str | None = None
    ping_every: float = 20.0
    lower_bound: bool = False

    def parse(self, raw: str) -> list[Event]:
        """Events in one raw message (acks, pongs and other symbols give none)."""
        raise NotImplementedError


class BinanceStream(StreamProtocol):
    """`wss://fstream.binance.com/market/ws/!forceOrder@arr`; server pings are answered by websockets."""

    def __init__(self, base_url: str, assets: frozenset[str]) -> None:
        super().__init__("binance", f"{base_url.rstrip('/')}/ws/!forceOrder@arr", assets, lower_bound=True)

    def parse(self, raw: str) -> list[Event]:
        """`{"e":"forceOrder","o":{s,S,ap,z,T}}`, or wrapped as `{"stream":...,"data":{...}}`."""
        message = json.loads(raw)
        message = message.get("data", message) if isinstance(message, dict) else {}
        order = message.get("o") if message.get("e") == "forceOrder" else None
        if not order:
            return []
        asset = _asset(order["s"], "USDT", self.assets)
        if asset is None:
            return []
        price = float(order.get("ap") or order["p"])
        qty = float(order.get("z") or order["q"])
        side = "long" if order["S"] == "SELL" else "short"
        return [Event("binance", order["s"], asset, int(order["T"]), side, price, qty)]


class BybitStream(StreamProtocol):
    """`wss://stream.bybit.com/v5/public/linear`, one `allLiquidation.{symbol}` topic per asset."""

    def __init__(self, url: str, assets: frozenset[str]) -> None:
        topics = [f"allLiquidation.{a}USDT" for a in sorted(assets)]
        super().__init__(
            "bybit", url, assets, [json.dumps({"op": "subscribe", "args": topics})], json.dumps({"op": "ping"}), 20.0
        )

    def parse(self, raw: str) -> list[Event]:
        """`{"topic":"allLiquidation.X","data":[{T,s,S,v,p}]}`; S=Buy means a long was liquidated."""
        message = json.loads(raw)
        if not isinstance(message, dict) or not str(message.get("topic", "")).startswith("allLiquidation."):
            return []
        events = []
        for item in message.get("data", []):
            asset = _asset(item["s"], "USDT", self.assets)
            if asset is not None:
                side = "long" if item["S"] == "Buy" else "short"
                events.append(
                    Event("bybit", item["s"], asset, int(item["T"]), side, float(item["p"]), float(item["v"]))
                )
        return events


class OkxStream(StreamProtocol):
    """`wss://ws.okx.com:8443/ws/v5/public`, channel `liquidation-orders` for every SWAP; text ping."""

    def __init__(self, url: str, assets: frozenset[str], ct_val: dict[str, float]) -> None:
        subscribe = json.dumps({"op": "subscribe", "args": [{"channel": "liquidation-orders", "instType": "SWAP"}]})
        super().__init__("okx", url, assets, [subscribe], "ping", 25.0, lower_bound=True)
        self.ct_val = ct_val

    def parse(self, raw: str) -> list[Event]:
        """`{"arg":{"channel":"liquidation-orders"},"data":[{instId, details:[{side,posSide,bkPx,sz,ts}]}]}`."""
        if raw == "pong":
            return []
        message = json.loads(raw)
        if not isinstance(message, dict) or message.get("arg", {}).get("channel") != "liquidation-orders":
            return []
        events = []
        for item in message.get("data", []):
            asset = _asset(item.get("instId", ""), "-USDT-SWAP", self.assets)
            if asset is None or asset not in self.ct_val:
                continue
            for detail in item.get("details", []):
                pos = detail.get("posSide")
                side = pos if pos in ("long", "short") else ("long" if detail.get("side") == "sell" else "short")
                qty = float(detail["sz"]) * self.ct_val[asset]
                events.append(Event("okx", item["instId"], asset, int(detail["ts"]), side, float(detail["bkPx"]), qty))
        return events


@dataclass
class StreamStatus:
    """What the recorder's status line shows for one exchange."""

    exchange: str
    connected: bool = False
    since_ms: int | None = None
    events: int = 0
    last_event_ms: int | None = None
    last_error: str = ""
    recent: list[float] = field(default_factory=list)

    def saw(self, count: int, now: float) -> None:
        """Count `count` events arriving at `now` (epoch seconds)."""
        self.events += count
        self.last_event_ms = int(now * 1000)
        self.recent = [t for t in self.recent if now - t < 60] + [now] * count

    def line(self, now: float) -> str:
        """`binance  connected  42 ev/min  last 3 s ago`."""
        state = "connected" if self.connected else f"DOWN ({self.last_error or 'connecting'})"
        per_minute = len([t for t in self.recent if now - t < 60])
        age = f"{now - self.last_event_ms / 1000:.0f} s ago" if self.last_event_ms else "none yet"
        return f"{self.exchange:8} {state:30} {per_minute:6d} ev/min  total {self.events:8d}  last event {age}"


async def collect(
    protocol: StreamProtocol,
    on_events: Callable[[list[Event]], None],
    on_connect: Callable[[str, int], None],
    status: StreamStatus,
    stop: asyncio.Event,
    clock: Callable[[], float] = time.time,
) -> None:
    """Keep one stream connected until `stop`: subscribe, heartbeat, parse, reconnect with jittered backoff."""
    backoff = BACKOFF_START
    while not stop.is_set():
        try:
            async with websockets.connect(protocol.url, open_timeout=10, ping_interval=20, ping_timeout=20) as socket:
                for message in protocol.subscribe:
                    await socket.send(message)
                status.connected, status.since_ms, status.last_error = True, int(clock() * 1000), ""
                on_connect(protocol.exchange, status.since_ms)
                backoff = BACKOFF_START
                pinger = asyncio.create_task(_heartbeat(socket, protocol)) if protocol.ping else None
                try:
                    await _read(socket, protocol, on_events, status, stop, clock)
                finally:
                    if pinger is not None:
                        pinger.cancel()
        except (OSError, TimeoutError, websockets.exceptions.WebSocketException, json.JSONDecodeError) as error:
            status.last_error = f"{type(error).__name__}: {error}"[:120]
            log.warning("%s stream down: %s", protocol.exchange, status.last_error)
        status.connected = False
        if stop.is_set():
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=backoff * random.uniform(0.5, 1.5))
        backoff = min(backoff * 2, BACKOFF_MAX)


async def _read(
    socket: Any,
    protocol: StreamProtocol,
    on_events: Callable[[list[Event]], None],
    status: StreamStatus,
    stop: asyncio.Event,
    clock: Callable[[], float],
) -> None:
    stopping = asyncio.create_task(stop.wait())
    try:
        while True:
            receiving = asyncio.create_task(socket.recv())
            done, _ = await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stopping in done:
                receiving.cancel()
                return
            raw = receiving.result()
            events = protocol.parse(raw if isinstance(raw, str) else raw.decode())
            if events:
                on_events(events)
                status.saw(len(events), clock())
    finally:
        stopping.cancel()


async def _heartbeat(socket: Any, protocol: StreamProtocol) -> None:
    while True:
        await asyncio.sleep(protocol.ping_every)
        await socket.send(protocol.ping)
