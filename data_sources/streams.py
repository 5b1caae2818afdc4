"""Public liquidation streams: the protocol every venue's decoder follows (the runner is `stream_runner.py`).

Each protocol knows its URL, subscribe messages, heartbeat and how to read one
raw message (pure, testable on stored frames): the `Event`s in it, and whether it
confirms or refuses our subscription. Fields are read through `decode`, so a
message of an unexpected shape raises `decode.Malformed` and nothing else.
The venue-specific decoders live in their venue modules (`data_sources/venues/<id>.py`: `STREAM`), each
documenting its SIDE CONVENTION; this module holds what they share:

- Units: every decoder resolves the native symbol through a snapshot of the instrument
  registry held by the protocol (`update` replaces it; never a lookup per event) and
  converts with `units.to_usd_units`: price in USD per ONE coin, qty in coins (a
  `1000PEPEUSDT` price is per 1,000 PEPE; OKX `sz` is contracts x ctVal coins, or for an
  inverse `BTC-USD-SWAP` contracts x ctVal USD). `Event.asset` is the base coin (PEPE),
  `Event.symbol` the native symbol. A symbol the snapshot does not list is skipped and
  reported in `Reading.unknown`, never guessed.
- Subscription answers (an ack, a refusal in the venue's words) are read by each decoder; a stream that
  needs no subscribe (Binance's raw-stream URL) is confirmed by its first push or by the pong to the
  WebSocket ping sent right after connecting.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from data_sources import decode
from data_sources.decode import Malformed
from data_sources.instruments import Instrument
from data_sources.store import Event
from data_sources.units import to_usd_units

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
