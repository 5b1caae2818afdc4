"""Local fake liquidation streams (Binance, Bybit, OKX) on 127.0.0.1 with `websockets.serve`.

Each server speaks its exchange's protocol: Binance serves `/market/ws/!forceOrder@arr`
(and the legacy `/ws/...`) and sends one forceOrder object per message; Bybit
acks every `{"op":"subscribe","req_id"}` request with its `req_id` (and refuses one that
takes a connection's args past `args_limit` characters) and answers `{"op":"ping"}`;
OKX acks the subscribe event and answers the text `ping` with `pong`. Each replays a
script of native messages; `drop_after` closes the socket mid-stream, and on reconnect
the last `overlap` messages are sent again, as a real reconnect overlap would. With
`route_topics` (Bybit) each message goes out once, on the connection that subscribed its
topic, as soon as one has: what the fake received per connection is in `topics`.

Faults: `refuse` answers every subscription with the venue's own refusal carrying that
text (OKX `{"event":"error",...}`, Bybit `{"success":false,...}`, Binance an `error` object
and a 1008 close); `silent_after` stops, on the first connection, after that many
messages and goes silent with the socket open (it reads nothing more, so answers no
ping of any kind); `http_status` answers the handshake with that HTTP status. Malformed
messages are just strings in the script.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import websockets

from data_sources.instruments import Instrument
from data_sources.venues import binance, bybit, okx
from tests import fake_exchanges

logging.getLogger("websockets").setLevel(logging.WARNING)


def listed(exchange: str) -> list[Instrument]:
    """The fake venues' listings (`tests/fake_exchanges.py`: the 7 assets and a long tail), parsed as the
    registry parses them."""
    if exchange == "bybit":
        return bybit.parse_listing(fake_exchanges.BYBIT_LISTED)
    path, params = {
        "binance": ("/fapi/v1/exchangeInfo", {}),
        "okx": ("/api/v5/public/instruments", {"instType": "SWAP"}),
    }[exchange]
    _, body, _ = fake_exchanges.instrument_listing(path, params)  # type: ignore[misc]
    return binance.parse_listing(body) if exchange == "binance" else okx.parse_listing(body)


BYBIT_ARGS_LIMIT = 21_000  # what the fake Bybit accepts per connection (exchange-apis.md §3.4)


def binance_message(symbol: str, order_side: str, price: float, qty: float, ts: int) -> str:
    """A `!forceOrder@arr` push: `S` is the liquidation order's side."""
    order = {
        "s": symbol,
        "S": order_side,
        "o": "LIMIT",
        "f": "IOC",
        "q": str(qty),
        "p": str(price * 0.99),
        "ap": str(price),
        "X": "FILLED",
        "l": str(qty),
        "z": str(qty),
        "T": ts,
    }
    return json.dumps({"e": "forceOrder", "E": ts + 2, "o": order})


def bybit_message(items: list[tuple[str, str, float, float, int]]) -> str:
    """An `allLiquidation` batch; items are (symbol, position side Buy/Sell, price, qty, ts)."""
    symbol = items[0][0]
    data = [{"T": ts, "s": s, "S": side, "v": str(qty), "p": str(price)} for s, side, price, qty, ts in items]
    return json.dumps({"topic": f"allLiquidation.{symbol}", "type": "snapshot", "ts": items[-1][4] + 100, "data": data})


def okx_message(inst_id: str, details: list[tuple[str, str, float, float, int]]) -> str:
    """A `liquidation-orders` push; details are (order side, posSide, bkPx, sz contracts, ts)."""
    rows = [
        {"bkLoss": "0", "bkPx": str(px), "ccy": "", "posSide": pos, "side": side, "sz": str(sz), "ts": str(ts)}
        for side, pos, px, sz, ts in details
    ]
    item = {
        "details": rows,
        "instFamily": inst_id.removesuffix("-SWAP"),
        "instId": inst_id,
        "instType": "SWAP",
        "uly": inst_id.removesuffix("-SWAP"),
    }
    return json.dumps({"arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "data": [item]})


@dataclass
class FakeStream:
    """One exchange's fake stream; `url` is what the recorder's LIQSCOPE_*_WS setting takes."""

    exchange: str
    script: list[str]
    interval: float = 0.0
    drop_after: int | None = None
    overlap: int = 0
    connections: int = 0
    pings: int = 0
    subscribed: list[str] = field(default_factory=list)
    sent: int = 0
    url: str = ""
    refuse: str | None = None
    silent_after: int | None = None
    http_status: int | None = None
    released: asyncio.Event = field(default_factory=asyncio.Event)
    args_limit: int = BYBIT_ARGS_LIMIT
    route_topics: bool = False
    topics: list[list[str]] = field(default_factory=list)  # Bybit: the topics each connection subscribed
    delivered: set[int] = field(default_factory=set)

    def process_request(self, connection: websockets.ServerConnection, request: object) -> object:
        """Answer the handshake with `http_status` when set (e.g. 404), else let it proceed."""
        return connection.respond(self.http_status, "Not Found\n") if self.http_status else None

    async def handler(self, socket: websockets.ServerConnection) -> None:
        self.connections += 1
        path = socket.request.path
        if self.exchange == "binance" and not path.endswith("/ws/!forceOrder@arr"):
            await socket.close(1008, "unknown stream")
            return
        if self.refuse is not None:
            await self._refuse(socket)
            return
        topics: list[str] = []
        self.topics.append(topics)
        if self.exchange in ("bybit", "okx"):
            await self._answer(socket, await socket.recv(), topics)
        answering = asyncio.create_task(self._answer_pings(socket, topics))
        if self.route_topics:
            await self._route(socket, topics, answering)
            return
        start = max(0, self.sent - self.overlap)
        try:
            for index in range(start, len(self.script)):
                if self.drop_after is not None and index >= self.drop_after and self.connections == 1:
                    await socket.close(1011, "dropped by the fake")
                    return
                if self.silent_after is not None and index >= self.silent_after and self.connections == 1:
                    await self._go_silent(socket)
                    return
                await socket.send(self.script[index])
                self.sent = max(self.sent, index + 1)
                if self.interval:
                    await asyncio.sleep(self.interval)
            await socket.wait_closed()
        except websockets.ConnectionClosed:
            return
        finally:
            answering.cancel()

    async def _answer(self, socket: websockets.ServerConnection, request: str, topics: list[str]) -> None:
        """Ack a subscribe request (Bybit: with its req_id, unless it takes the connection past the args limit)."""
        self.subscribed.append(request)
        if self.exchange == "okx":
            arg = {"channel": "liquidation-orders", "instType": "SWAP"}
            await socket.send(json.dumps({"event": "subscribe", "arg": arg, "connId": "fake"}))
            return
        message = json.loads(request)
        args = message.get("args", [])
        ok = len(json.dumps([*topics, *args])) <= self.args_limit
        if ok:
            topics.extend(args)
        words = "" if ok else f"args exceed {self.args_limit} characters on this connection"
        answer = {
            "success": ok,
            "ret_msg": words,
            "conn_id": "fake",
            "req_id": message.get("req_id", ""),
            "op": "subscribe",
        }
        await socket.send(json.dumps(answer))

    async def _route(self, socket: websockets.ServerConnection, topics: list[str], answering: asyncio.Task) -> None:
        """Send each script message once, on this connection if it subscribed the message's topic."""
        try:
            while not answering.done():
                for index, raw in enumerate(self.script):
                    if index not in self.delivered and json.loads(raw).get("topic") in topics:
                        self.delivered.add(index)
                        await socket.send(raw)
                await asyncio.sleep(0.01)
        except websockets.ConnectionClosed:
            return
        finally:
            answering.cancel()

    async def _refuse(self, socket: websockets.ServerConnection) -> None:
        """The venue's refusal of our subscription, in its exact format."""
        if self.exchange == "binance":
            await socket.send(json.dumps({"error": {"code": 2, "msg": self.refuse}, "id": 1}))
            await socket.close(1008, self.refuse[:100])
            return
        with contextlib.suppress(websockets.ConnectionClosed):
            async for request in socket:  # every subscribe request is refused
                self.subscribed.append(request)
                if self.exchange == "okx":
                    refusal = {"event": "error", "code": "60018", "msg": self.refuse, "connId": "fake"}
                else:
                    req_id = json.loads(request).get("req_id", "")
                    refusal = {
                        "success": False,
                        "ret_msg": self.refuse,
                        "conn_id": "fake",
                        "req_id": req_id,
                        "op": "subscribe",
                    }
                await socket.send(json.dumps(refusal))

    async def _go_silent(self, socket: websockets.ServerConnection) -> None:
        """Keep the socket open but read nothing, so no ping (text or frame) is answered."""
        socket.transport.pause_reading()
        try:
            await asyncio.wait_for(self.released.wait(), timeout=60)
        finally:
            socket.transport.abort()

    async def _answer_pings(self, socket: websockets.ServerConnection, topics: list[str]) -> None:
        """Answer heartbeats, and later subscribe requests (a refreshed listing's new topics)."""
        try:
            async for message in socket:
                if '"op": "subscribe"' in message:
                    await self._answer(socket, message, topics)
                elif message == "ping":
                    self.pings += 1
                    await socket.send("pong")
                elif '"op": "ping"' in message or '"op":"ping"' in message:
                    self.pings += 1
                    await socket.send(json.dumps({"success": True, "ret_msg": "pong", "op": "ping"}))
        except websockets.ConnectionClosed:
            return


async def _serve(stream: FakeStream) -> websockets.Server:
    return await websockets.serve(stream.handler, "127.0.0.1", 0, process_request=stream.process_request)


async def _close(server: websockets.Server) -> None:
    server.close()
    await server.wait_closed()


class FakeStreams:
    """Fake streams served from one background event loop."""

    def __init__(self, streams: list[FakeStream]) -> None:
        self.streams = {s.exchange: s for s in streams}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.servers: list = []

    def __enter__(self) -> FakeStreams:
        self.thread.start()
        for stream in self.streams.values():
            server = asyncio.run_coroutine_threadsafe(_serve(stream), self.loop).result(timeout=10)
            self.servers.append(server)
            port = next(iter(server.sockets)).getsockname()[1]
            base = f"ws://127.0.0.1:{port}"
            stream.url = f"{base}/market" if stream.exchange == "binance" else f"{base}/ws/v5/public"
        return self

    def __exit__(self, *_: object) -> None:
        for stream in self.streams.values():
            self.loop.call_soon_threadsafe(stream.released.set)
        for server in self.servers:
            asyncio.run_coroutine_threadsafe(_close(server), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)

    def env(self) -> Iterator[tuple[str, str]]:
        """LIQSCOPE_*_WS settings pointing at these streams."""
        for exchange, stream in self.streams.items():
            yield f"LIQSCOPE_{exchange.upper()}_WS", stream.url
