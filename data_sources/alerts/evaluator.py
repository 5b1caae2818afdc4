"""Rolling per-rule USD sums over stored liquidations, in event time, and the alert each crossing makes.

For each rule the evaluator keeps the matching events of the last `window` (by the events' own
timestamps: the window is (newest - window, newest]) and their USD sum. When the sum goes over
`usd_over` it fires one `Alert`, then stays quiet for one window of event time, so a rule alerts at
most once per window. An event seen twice (a reconnect's overlap) counts once.
"""

from __future__ import annotations

import bisect
import itertools
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode

from data_sources.alerts.rules import Rule
from data_sources.schema import EXCHANGE_NAMES
from data_sources.store import Event
from data_sources.units import compact_usd

# The app's URL parameters (components/filters.py: RANGE_KEY, ASSETS_KEY, EXCHANGES_KEY, UNTIL_KEY, UNTIL_FORMAT);
# repeated here so the writing processes need no Streamlit; tests/test_alerts.py checks they agree.
RANGE, ASSETS, EXCHANGES, UNTIL = "range", "assets", "exchanges", "until"
UNTIL_FORMAT = "%Y-%m-%dT%H:%MZ"
MINUTE_MS = 60_000
NAMED_COINS = 6  # coins named in a message; the rest are counted
SIDE_WORDS = {"long": "longs", "short": "shorts", "any": "longs and shorts"}


@dataclass(frozen=True)
class Alert:
    """One crossing: `usd` liquidated within the rule's window ending at `fired_ms` (epoch ms, event time);
    `exchanges` and `assets` those involved, largest USD first."""

    rule: Rule
    fired_ms: int
    usd: float
    exchanges: tuple[str, ...]
    assets: tuple[str, ...]

    def link(self, public_url: str) -> str:
        """The overview of the window's UTC days for the rule's coins and venues, frozen at the alert's minute."""
        start, end = (self._utc(self.fired_ms - self.rule.window_ms), self._utc(self.fired_ms))
        days = dict.fromkeys([f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}"])
        until = self._utc(-(-(self.fired_ms + 1) // MINUTE_MS) * MINUTE_MS)  # the minute holding the event, closed
        params = [
            *((RANGE, day) for day in days),
            *((ASSETS, asset) for asset in sorted(self.rule.assets)),
            *((EXCHANGES, exchange) for exchange in sorted(self.rule.exchanges)),
            (UNTIL, f"{until:{UNTIL_FORMAT}}"),
        ]
        return f"{public_url.rstrip('/')}/?{urlencode(params)}"

    def message(self, public_url: str) -> str:
        """e.g. "ETH long squeeze: $5.21M of longs liquidated within 5m (to 2026-11-29 22:41:05 UTC) on Binance,
        OKX; coins: ETH. <link>"."""
        venues = ", ".join(EXCHANGE_NAMES.get(e, e) for e in self.exchanges)
        coins = ", ".join(self.assets[:NAMED_COINS])
        if len(self.assets) > NAMED_COINS:
            coins += f" and {len(self.assets) - NAMED_COINS} more"
        return (
            f"{self.rule.name}: {compact_usd(self.usd)} of {SIDE_WORDS[self.rule.side]} liquidated within "
            f"{self.rule.window} (to {self._utc(self.fired_ms):%Y-%m-%d %H:%M:%S} UTC) on {venues}; coins: {coins}. "
            f"{self.link(public_url)}"
        )

    @staticmethod
    def _utc(epoch_ms: int) -> datetime:
        return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


@dataclass
class _Window:
    """One rule's matching events in its window, ordered by (ts, arrival): (ts, seq, usd, exchange, asset)."""

    rule: Rule
    events: list[tuple[int, int, float, str, str]] = field(default_factory=list)
    total: float = 0.0
    quiet_until: int | None = None  # event time before which the rule does not fire again

    def add(self, ts: int, seq: int, usd: float, exchange: str, asset: str) -> Alert | None:
        newest = max(ts, self.events[-1][0]) if self.events else ts
        if ts <= newest - self.rule.window_ms:
            return None  # late: older than the window already
        bisect.insort(self.events, (ts, seq, usd, exchange, asset))
        self.total += usd
        cut = bisect.bisect_right(self.events, (newest - self.rule.window_ms, float("inf")))
        for _, _, gone, _, _ in self.events[:cut]:
            self.total -= gone
        del self.events[:cut]
        if self.total <= self.rule.usd_over or (self.quiet_until is not None and newest < self.quiet_until):
            return None
        self.quiet_until = newest + self.rule.window_ms
        return Alert(self.rule, newest, self.total, *self._involved())

    def _involved(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        by_exchange: dict[str, float] = {}
        by_asset: dict[str, float] = {}
        for _, _, usd, exchange, asset in self.events:
            by_exchange[exchange] = by_exchange.get(exchange, 0.0) + usd
            by_asset[asset] = by_asset.get(asset, 0.0) + usd
        return _ranked(by_exchange), _ranked(by_asset)


def _ranked(sums: dict[str, float]) -> tuple[str, ...]:
    """The keys, largest sum first (ties by name)."""
    return tuple(sorted(sums, key=lambda key: (-sums[key], key)))


class Evaluator:
    """Every rule's rolling window; `observe` takes stored events and returns the alerts they fire."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.windows = [_Window(rule) for rule in rules]
        self.horizon = max((rule.window_ms for rule in rules), default=0)
        self.seen: set[Event] = set()
        self.order: deque[Event] = deque()  # `seen` in arrival order, to forget events older than every window
        self.newest = 0
        self.sequence = itertools.count()

    def observe(self, events: Iterable[Event]) -> list[Alert]:
        """Count each new event toward the rules it matches; the alerts fired, in order."""
        fired: list[Alert] = []
        for event in events:
            if event in self.seen:
                continue
            self._remember(event)
            usd, seq = event.usd, next(self.sequence)
            for window in self.windows:
                if window.rule.matches(event.exchange, event.asset, event.side):
                    alert = window.add(event.ts, seq, usd, event.exchange, event.asset)
                    if alert is not None:
                        fired.append(alert)
        return fired

    def _remember(self, event: Event) -> None:
        self.seen.add(event)
        self.order.append(event)
        self.newest = max(self.newest, event.ts)
        while self.order and self.order[0].ts <= self.newest - self.horizon:
            self.seen.discard(self.order.popleft())
