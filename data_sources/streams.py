"""Public liquidation streams: one protocol per exchange (the runner that keeps one connected is `stream_runner.py`).

Each protocol knows its URL, subscribe messages, heartbeat and how to read one
raw message (pure, testable on stored frames): the `Event`s in it, and whether it
confirms or refuses our subscription. Fields are read through `decode`, so a
message of an unexpected shape raises `decode.Malformed` and nothing else.
Side conventions differ and are normalized here, once:

- Binance `!forceOrder@arr`: `S` is the liquidation ORDER side, so SELL = a long
  was liquidated. At most one event per symbol per second: totals are lower bounds.
- Bybit `allLiquidation.{symbol}`: `S` is the POSITION side, so Buy = a long was
  liquidated (the opposite of Binance). `v` is in base units. Every liquidation. One
  topic per symbol: the topics are split across connections so that each carries at
  most 21,000 characters of args (exchange-apis.md §3.4), sent in subscribe requests of
  `batch` topics, each with a `req_id` its ack or refusal echoes.
- OKX `liquidation-orders` (instType SWAP, all contracts in one feed): `sz` is in
  contracts (x ctVal); `posSide` names the position, or in net mode a forced
  `sell` closes a long. At most one order per contract per second.
- Units: every decoder resolves the native symbol through a snapshot of the instrument
  registry held by the protocol (`update` replaces it; never a lookup per event) and
  converts with `units.to_usd_units`: price in USD per ONE coin, qty in coins (a
  `1000PEPEUSDT` price is per 1,000 PEPE; OKX `sz` is contracts x ctVal coins, or for an
  inverse `BTC-USD-SWAP` contracts x ctVal USD). `Event.asset` is the base coin (PEPE),
  `Event.symbol` the native symbol. A symbol the snapshot does not list is skipped and
  reported in `Reading.unknown`, never guessed.
- Subscription answers: OKX `{"event":"subscribe",...}` / `{"event":"error","code","msg"}`;
  Bybit `{"success":true|false,"ret_msg",...,"op":"subscribe"}`; Binance's raw-stream URL
  needs no subscribe, so its stream is confirmed by its first push or by the pong to
  the WebSocket ping we send right after connecting, and refused by an `{"error":{code,msg}}`
  object (the answer to a SUBSCRIBE) or a close before that confirmation.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from data_sources import decode
from data_sources.decode import Malformed
from data_sources.instruments import Instrument
from data_sources.store import Event
from data_sources.units import to_usd_units

BYBIT_ARGS_CHARS = 21_000  # public subscribe args per connection, in characters (exchange-apis.md §3.4)
BYBIT_BATCH = 10  # topics per subscribe request
UNKNOWN_SYMBOL = "unknown symbol"


@dataclass(frozen=True)
class Reading:
    """What one raw message says.

    `events`: the tracked liquidations in it; `confirmed`: it proves our subscription is
    live (an ack, or a push on the subscribed channel, tracked symbol or not);
    `refused`: the exchange's own words when it refuses the subscription; `request`: the
    id of the subscribe request an ack or refusal answers (None: every pending one);
    `unknown`: native symbols of liquidations skipped because the snapshot does not list them.
    """

    events: list[Event] = field(default_factory=list)
    confirmed: bool = False
    refused: str | None = None
    request: str | None = None
    unknown: tuple[str, ...] = ()


Request = tuple[str, str]  # (request id, the raw subscribe message)


@dataclass
class StreamProtocol:
    """How to talk to one exchange's liquidation stream.

    `instruments`: the registry snapshot by native symbol; `assets`: the base coins to keep
    (None: every one). `ping` is the text heartbeat (None: a WebSocket ping frame, whose pong
    also confirms the stream); one goes out every `heartbeat` s, and a socket with no frame
    at all for `silence` s is dead.
    """

    exchange: str
    url: str
    assets: frozenset[str] | None
    ping: str | None = None
    heartbeat: float = 20.0
    silence: float = 30.0
    lower_bound: bool = False
    instruments: dict[str, Instrument] = field(default_factory=dict)

    def update(self, instruments: Iterable[Instrument]) -> None:
        """Replace the snapshot with the venue's listing (rows of other venues are ignored)."""
        self.instruments = {i.symbol: i for i in instruments if i.exchange == self.exchange}

    def tracked(self, instrument: Instrument) -> bool:
        """Whether `instrument`'s liquidations are recorded (its asset is asked for)."""
        return self.assets is None or instrument.asset in self.assets

    def recorded(self) -> int:
        """How many symbols this stream records."""
        return sum(1 for i in self.instruments.values() if self.tracked(i))

    def connections(self) -> int:
        """How many connections the stream needs."""
        return 1

    def requests(self, connection: int, done: int) -> tuple[list[Request], int]:
        """Subscribe requests for `connection` after the first `done` subscriptions already sent on it,
        and the new count of subscriptions sent."""
        return [], done

    def read(self, raw: str) -> Reading:
        """The meaning of one raw message; raises `Malformed` for a shape it does not expect."""
        raise NotImplementedError

    def parse(self, raw: str) -> list[Event]:
        """Events in one raw message (acks, pongs, other assets and unknown symbols give none)."""
        return self.read(raw).events

    def _event(self, symbol: str, ts: int, side: str, price: float, size: float, unknown: list[str]) -> Event | None:
        """One liquidation in USD per coin and coins; None (and `symbol` added to `unknown` when the
        snapshot does not list it) when it is not recorded."""
        instrument = self.instruments.get(symbol)
        if instrument is None:
            unknown.append(symbol)
            return None
        if not self.tracked(instrument):
            return None
        try:
            units = to_usd_units(instrument, price, size)
        except ValueError:
            raise Malformed("price or size out of range") from None
        return Event(self.exchange, symbol, instrument.asset, ts, side, units.price, units.qty)


def refusal(words: Any, code: Any = None) -> str:
    """The exchange's own message, with its code when it sent one."""
    message = str(words or "no message").strip()
    return f"{message} (code {code})" if code not in (None, "") else message


def event_envelope(raw: str) -> tuple[Reading | None, dict[str, Any]]:
    """OKX-style control frames (OKX, Bitget): text `pong`, `{"event":"subscribe"}` (confirmed),
    `{"event":"error","msg","code"}` (refused) and other events (notices) give a Reading; a data push
    gives (None, the decoded message)."""
    if raw == "pong":
        return Reading(), {}
    message = decode.obj(decode.load(raw), "message")
    event = message.get("event")
    if event == "subscribe":
        return Reading(confirmed=True), message
    if event == "error":
        return Reading(refused=refusal(message.get("msg"), message.get("code"))), message
    if event is not None:  # notices (service upgrade, connection counts), unsubscribe
        return Reading(), message
    return None, message


def _first_positive(order: dict[str, Any], keys: tuple[str, str]) -> float:
    """The first of `keys` holding a positive number (Binance sends "0" for an unfilled average)."""
    try:
        return decode.positive(order, keys[0], "o.")
    except Malformed:
        return decode.positive(order, keys[1], "o.")


class BinanceStream(StreamProtocol):
    """`wss://fstream.binance.com/market/ws/!forceOrder@arr`; a WebSocket ping frame is the heartbeat."""

    def __init__(
        self,
        base_url: str,
        instruments: Iterable[Instrument],
        assets: frozenset[str] | None = None,
        heartbeat: float = 20.0,
        silence: float = 30.0,
    ) -> None:
        url = f"{base_url.rstrip('/')}/ws/!forceOrder@arr"
        super().__init__("binance", url, assets, heartbeat=heartbeat, silence=silence, lower_bound=True)
        self.update(instruments)

    def read(self, raw: str) -> Reading:
        """`{"e":"forceOrder","o":{s,S,ap|p,z|q,T}}` (or wrapped in `{"stream","data"}`); `{"error":{code,msg}}`."""
        message = decode.obj(decode.load(raw), "message")
        if "error" in message:
            error = message["error"]
            words = error.get("msg") if isinstance(error, dict) else error
            return Reading(refused=refusal(words, error.get("code") if isinstance(error, dict) else None))
        if "id" in message and "result" in message:  # the answer to a SUBSCRIBE we did not need
            return Reading(confirmed=True)
        if "stream" in message:
            message = decode.obj(message.get("data"), "data")
        if message.get("e") != "forceOrder":
            raise Malformed("not a forceOrder event")
        order = decode.obj(message.get("o"), "o")
        symbol = decode.text(order, "s", "o.")
        side = "long" if decode.choice(order, "S", ("SELL", "BUY"), "o.") == "SELL" else "short"
        price = _first_positive(order, ("ap", "p"))  # average fill price, else the order price
        size = _first_positive(order, ("z", "q"))  # filled quantity, else the order quantity
        unknown: list[str] = []
        event = self._event(symbol, decode.epoch_ms(order, "T", "o."), side, price, size, unknown)
        return Reading([event] if event else [], confirmed=True, unknown=tuple(unknown))


class BybitStream(StreamProtocol):
    """`wss://stream.bybit.com/v5/public/linear`, one `allLiquidation.{symbol}` topic per trading symbol,
    split into connections of at most `args_limit` characters of args and requests of `batch` topics.

    `shards` only grow (a new listing joins the last connection, or opens a new one when it is
    full), so a live connection is never asked to give a topic up.
    """

    def __init__(
        self,
        url: str,
        instruments: Iterable[Instrument],
        assets: frozenset[str] | None = None,
        heartbeat: float = 20.0,
        silence: float = 30.0,
        args_limit: int = BYBIT_ARGS_CHARS,
        batch: int = BYBIT_BATCH,
    ) -> None:
        super().__init__("bybit", url, assets, json.dumps({"op": "ping"}), heartbeat, silence)
        self.args_limit, self.batch = args_limit, batch
        self.shards: list[list[str]] = []
        self.update(instruments)

    def update(self, instruments: Iterable[Instrument]) -> None:
        """Replace the snapshot; every tracked trading symbol not yet subscribed gets a topic."""
        super().update(instruments)
        subscribed = {topic for shard in self.shards for topic in shard}
        for symbol in sorted(self.instruments):
            instrument = self.instruments[symbol]
            topic = f"allLiquidation.{symbol}"
            if instrument.trading and self.tracked(instrument) and topic not in subscribed:
                if not self.shards or len(json.dumps([*self.shards[-1], topic])) > self.args_limit:
                    self.shards.append([])
                self.shards[-1].append(topic)

    def recorded(self) -> int:
        """How many topics are subscribed (or will be, on a connection being opened)."""
        return sum(len(shard) for shard in self.shards)

    def connections(self) -> int:
        """One connection per shard of topics."""
        return len(self.shards)

    def requests(self, connection: int, done: int) -> tuple[list[Request], int]:
        """`{"op":"subscribe","req_id","args":[...]}` for the topics of `connection` after the first `done`."""
        topics = self.shards[connection]
        requests = []
        for start in range(done, len(topics), self.batch):
            request_id = f"{connection}.{start}"
            args = topics[start : start + self.batch]
            requests.append((request_id, json.dumps({"op": "subscribe", "req_id": request_id, "args": args})))
        return requests, len(topics)

    def read(self, raw: str) -> Reading:
        """`{"topic":"allLiquidation.X","data":[{T,s,S,v,p}]}` (S=Buy: a long was liquidated); op answers."""
        message = decode.obj(decode.load(raw), "message")
        op = message.get("op")
        if op == "subscribe":
            request = message.get("req_id") or None
            request = request if isinstance(request, str) else None
            if message.get("success") is True:
                return Reading(confirmed=True, request=request)
            return Reading(refused=refusal(message.get("ret_msg")), request=request)
        if op in ("ping", "pong"):  # `{"success":true,"ret_msg":"pong","op":"ping"}` or `{"op":"pong"}`
            return Reading()
        topic = decode.text(message, "topic")
        if not topic.startswith("allLiquidation."):
            return Reading()
        events, unknown = [], []
        for item in decode.rows(message.get("data"), "data"):
            symbol = decode.text(item, "s", "data[].")
            side = "long" if decode.choice(item, "S", ("Buy", "Sell"), "data[].") == "Buy" else "short"
            ts = decode.epoch_ms(item, "T", "data[].")
            price, size = decode.positive(item, "p", "data[]."), decode.positive(item, "v", "data[].")
            if event := self._event(symbol, ts, side, price, size, unknown):
                events.append(event)
        return Reading(events, confirmed=True, unknown=tuple(unknown))


class OkxStream(StreamProtocol):
    """`wss://ws.okx.com:8443/ws/v5/public`, channel `liquidation-orders` for every SWAP (linear and
    inverse) in one subscription; text ping."""

    SUBSCRIBE = json.dumps({"op": "subscribe", "args": [{"channel": "liquidation-orders", "instType": "SWAP"}]})

    def __init__(
        self,
        url: str,
        instruments: Iterable[Instrument],
        assets: frozenset[str] | None = None,
        heartbeat: float = 20.0,
        silence: float = 30.0,
    ) -> None:
        super().__init__("okx", url, assets, "ping", heartbeat, silence, lower_bound=True)
        self.update(instruments)

    def requests(self, connection: int, done: int) -> tuple[list[Request], int]:
        """The one subscription, sent once per connection."""
        return ([("liquidation-orders", self.SUBSCRIBE)] if done == 0 else []), 1

    def read(self, raw: str) -> Reading:
        """`{"arg":{"channel":"liquidation-orders"},"data":[{instId, details:[{side,posSide,bkPx,sz,ts}]}]}`; events."""
        control, message = event_envelope(raw)
        if control is not None:
            return control
        if decode.obj(message.get("arg"), "arg").get("channel") != "liquidation-orders":
            raise Malformed("'arg.channel' is not liquidation-orders")
        events, unknown = [], []
        path = "data[].details[]."
        for item in decode.rows(message.get("data"), "data"):
            inst_id = decode.text(item, "instId", "data[].")
            for detail in decode.rows(item.get("details"), "data[].details"):
                pos = detail.get("posSide")
                if pos in ("long", "short"):
                    side = pos
                else:  # net mode: a forced sell closes a long
                    side = "long" if decode.choice(detail, "side", ("sell", "buy"), path) == "sell" else "short"
                ts = decode.epoch_ms(detail, "ts", path)
                price, size = decode.positive(detail, "bkPx", path), decode.positive(detail, "sz", path)
                if found := self._event(inst_id, ts, side, price, size, unknown):
                    events.append(found)
        return Reading(events, confirmed=True, unknown=tuple(unknown))
