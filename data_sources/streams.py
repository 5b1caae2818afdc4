"""Public liquidation streams: one protocol per exchange (the runner that keeps one connected is `stream_runner.py`).

Each protocol knows its URL, subscribe messages, heartbeat and how to read one
raw message (pure, testable on stored frames): the `Event`s in it, and whether it
confirms or refuses our subscription. Fields are read through `decode`, so a
message of an unexpected shape raises `decode.Malformed` and nothing else.
Side conventions differ and are normalized here, once:

- Binance `!forceOrder@arr`: `S` is the liquidation ORDER side, so SELL = a long
  was liquidated. At most one event per symbol per second: totals are lower bounds.
- Bybit `allLiquidation.{symbol}`: `S` is the POSITION side, so Buy = a long was
  liquidated (the opposite of Binance). `v` is in coins. Every liquidation.
- OKX `liquidation-orders` (instType SWAP, all contracts in one feed): `sz` is in
  contracts (x ctVal); `posSide` names the position, or in net mode a forced
  `sell` closes a long. At most one order per contract per second.
- Subscription answers: OKX `{"event":"subscribe",...}` / `{"event":"error","code","msg"}`;
  Bybit `{"success":true|false,"ret_msg",...,"op":"subscribe"}`; Binance's raw-stream URL
  needs no subscribe, so its stream is confirmed by its first push or by the pong to
  the WebSocket ping we send right after connecting, and refused by an `{"error":{code,msg}}`
  object (the answer to a SUBSCRIBE) or a close before that confirmation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from data_sources import decode
from data_sources.decode import Malformed
from data_sources.store import Event


@dataclass(frozen=True)
class Reading:
    """What one raw message says.

    `events`: the tracked liquidations in it; `confirmed`: it proves our subscription is
    live (an ack, or a push on the subscribed channel, tracked symbol or not);
    `refused`: the exchange's own words when it refuses the subscription.
    """

    events: list[Event] = field(default_factory=list)
    confirmed: bool = False
    refused: str | None = None


@dataclass
class StreamProtocol:
    """How to talk to one exchange's liquidation stream.

    `ping` is the text heartbeat (None: a WebSocket ping frame, whose pong also confirms
    the stream); one goes out every `heartbeat` s, and a socket with no frame at all for
    `silence` s is dead.
    """

    exchange: str
    url: str
    assets: frozenset[str]
    subscribe: list[str] = field(default_factory=list)
    ping: str | None = None
    heartbeat: float = 20.0
    silence: float = 30.0
    lower_bound: bool = False

    def read(self, raw: str) -> Reading:
        """The meaning of one raw message; raises `Malformed` for a shape it does not expect."""
        raise NotImplementedError

    def parse(self, raw: str) -> list[Event]:
        """Events in one raw message (acks, pongs and other symbols give none)."""
        return self.read(raw).events

    def _tracked(self, symbol: str, suffix: str) -> str | None:
        asset = symbol.removesuffix(suffix)
        return asset if symbol.endswith(suffix) and asset in self.assets else None


def _refusal(words: Any, code: Any = None) -> str:
    """The exchange's own message, with its code when it sent one."""
    message = str(words or "no message").strip()
    return f"{message} (code {code})" if code not in (None, "") else message


def _first_positive(order: dict[str, Any], keys: tuple[str, str]) -> float:
    """The first of `keys` holding a positive number (Binance sends "0" for an unfilled average)."""
    try:
        return decode.positive(order, keys[0], "o.")
    except Malformed:
        return decode.positive(order, keys[1], "o.")


class BinanceStream(StreamProtocol):
    """`wss://fstream.binance.com/market/ws/!forceOrder@arr`; a WebSocket ping frame is the heartbeat."""

    def __init__(self, base_url: str, assets: frozenset[str], heartbeat: float = 20.0, silence: float = 30.0) -> None:
        url = f"{base_url.rstrip('/')}/ws/!forceOrder@arr"
        super().__init__("binance", url, assets, heartbeat=heartbeat, silence=silence, lower_bound=True)

    def read(self, raw: str) -> Reading:
        """`{"e":"forceOrder","o":{s,S,ap|p,z|q,T}}` (or wrapped in `{"stream","data"}`); `{"error":{code,msg}}`."""
        message = decode.obj(decode.load(raw), "message")
        if "error" in message:
            error = message["error"]
            words = error.get("msg") if isinstance(error, dict) else error
            return Reading(refused=_refusal(words, error.get("code") if isinstance(error, dict) else None))
        if "id" in message and "result" in message:  # the answer to a SUBSCRIBE we did not need
            return Reading(confirmed=True)
        if "stream" in message:
            message = decode.obj(message.get("data"), "data")
        if message.get("e") != "forceOrder":
            raise Malformed("not a forceOrder event")
        order = decode.obj(message.get("o"), "o")
        symbol = decode.text(order, "s", "o.")
        asset = self._tracked(symbol, "USDT")
        if asset is None:
            return Reading(confirmed=True)
        side = "long" if decode.choice(order, "S", ("SELL", "BUY"), "o.") == "SELL" else "short"
        price = _first_positive(order, ("ap", "p"))  # average fill price, else the order price
        qty = _first_positive(order, ("z", "q"))  # filled quantity, else the order quantity
        event = Event("binance", symbol, asset, decode.epoch_ms(order, "T", "o."), side, price, qty)
        return Reading([event], confirmed=True)


class BybitStream(StreamProtocol):
    """`wss://stream.bybit.com/v5/public/linear`, one `allLiquidation.{symbol}` topic per asset."""

    def __init__(self, url: str, assets: frozenset[str], heartbeat: float = 20.0, silence: float = 30.0) -> None:
        topics = [f"allLiquidation.{a}USDT" for a in sorted(assets)]
        subscribe = [json.dumps({"op": "subscribe", "args": topics})]
        super().__init__("bybit", url, assets, subscribe, json.dumps({"op": "ping"}), heartbeat, silence)

    def read(self, raw: str) -> Reading:
        """`{"topic":"allLiquidation.X","data":[{T,s,S,v,p}]}` (S=Buy: a long was liquidated); op answers."""
        message = decode.obj(decode.load(raw), "message")
        op = message.get("op")
        if op == "subscribe":
            if message.get("success") is True:
                return Reading(confirmed=True)
            return Reading(refused=_refusal(message.get("ret_msg")))
        if op in ("ping", "pong"):  # `{"success":true,"ret_msg":"pong","op":"ping"}` or `{"op":"pong"}`
            return Reading()
        topic = decode.text(message, "topic")
        if not topic.startswith("allLiquidation."):
            return Reading()
        events = []
        for item in decode.rows(message.get("data"), "data"):
            symbol = decode.text(item, "s", "data[].")
            asset = self._tracked(symbol, "USDT")
            if asset is None:
                continue
            side = "long" if decode.choice(item, "S", ("Buy", "Sell"), "data[].") == "Buy" else "short"
            ts = decode.epoch_ms(item, "T", "data[].")
            price, qty = decode.positive(item, "p", "data[]."), decode.positive(item, "v", "data[].")
            events.append(Event("bybit", symbol, asset, ts, side, price, qty))
        return Reading(events, confirmed=True)


class OkxStream(StreamProtocol):
    """`wss://ws.okx.com:8443/ws/v5/public`, channel `liquidation-orders` for every SWAP; text ping."""

    def __init__(
        self, url: str, assets: frozenset[str], ct_val: dict[str, float], heartbeat: float = 20.0, silence: float = 30.0
    ) -> None:
        subscribe = json.dumps({"op": "subscribe", "args": [{"channel": "liquidation-orders", "instType": "SWAP"}]})
        super().__init__("okx", url, assets, [subscribe], "ping", heartbeat, silence, lower_bound=True)
        self.ct_val = ct_val

    def read(self, raw: str) -> Reading:
        """`{"arg":{"channel":"liquidation-orders"},"data":[{instId, details:[{side,posSide,bkPx,sz,ts}]}]}`; events."""
        if raw == "pong":
            return Reading()
        message = decode.obj(decode.load(raw), "message")
        event = message.get("event")
        if event == "subscribe":
            return Reading(confirmed=True)
        if event == "error":
            return Reading(refused=_refusal(message.get("msg"), message.get("code")))
        if event is not None:  # notice (service upgrade), channel-conn-count, unsubscribe
            return Reading()
        if decode.obj(message.get("arg"), "arg").get("channel") != "liquidation-orders":
            raise Malformed("'arg.channel' is not liquidation-orders")
        events = []
        for item in decode.rows(message.get("data"), "data"):
            asset = self._tracked(decode.text(item, "instId", "data[]."), "-USDT-SWAP")
            if asset is None or asset not in self.ct_val:
                continue
            for detail in decode.rows(item.get("details"), "data[].details"):
                events.append(self._event(item["instId"], asset, detail))
        return Reading(events, confirmed=True)

    def _event(self, inst_id: str, asset: str, detail: dict[str, Any]) -> Event:
        path = "data[].details[]."
        pos = detail.get("posSide")
        if pos in ("long", "short"):
            side = pos
        else:  # net mode: a forced sell closes a long
            side = "long" if decode.choice(detail, "side", ("sell", "buy"), path) == "sell" else "short"
        qty = decode.positive(detail, "sz", path) * self.ct_val[asset]
        return Event(
            "okx", inst_id, asset, decode.epoch_ms(detail, "ts", path), side, decode.positive(detail, "bkPx", path), qty
        )
