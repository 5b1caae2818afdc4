"""Each venue's documented request budget, kept client side: requests wait for budget, never fail.

`TABLE` has one row per (venue, endpoint group), from each venue module's `BUDGETS` (the venues' docs as
recorded in `shared/reference/`; each row cites its section) plus Coinalyze's. A request maps to
every row whose paths match it (Binance `fundingRate` spends both the minute's
weight and its own 500 per 5 min), and within a row to one bucket per host, and per
endpoint or per instrument where the venue counts that way (OKX rubik: 5 per 2 s
per instrument and endpoint). Buckets are `pyrate_limiter` sliding-window logs,
shared process-wide, so every session and page of one app process draws on the
same budget. `acquire` blocks until every bucket has room; `waiting()` says who
waits and why, for the page that is loading.

A bucket's window is the documented one plus `PAD_SECONDS`, so jitter between
taking a permit and the request reaching the venue cannot squeeze one more request
into the venue's window. `headroom` keeps a share of a limit unused where going over
is expensive (Bybit bans the IP for about 10 minutes) or other processes on the
same IP (the CLI export) spend from it too.
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pyrate_limiter import BucketFactory, InMemoryBucket, Limiter, MonotonicClock, Rate, RateItem

from data_sources.venues import VENUES, Venue

PAD_SECONDS = 0.25

Params = Mapping[str, Any]


def one(_path: str, _params: Params) -> int:
    """Every request costs 1."""
    return 1


def symbol_count(_path: str, params: Params) -> int:
    """Coinalyze: each symbol of a request counts as one call (requests without symbols count 1)."""
    return max(1, len([s for s in str(params.get("symbols", "")).split(",") if s]))


@dataclass(frozen=True)
class Budget:
    """One documented limit: `limit` units per `seconds` for matching requests.

    `paths` are exact paths, or prefixes when they end in "/". `per_param` names the
    request parameter whose every value has its own bucket (the instrument); with
    `per_path` each matching path has its own bucket (OKX counts per endpoint).
    """

    venue: str
    group: str
    paths: tuple[str, ...]
    limit: int
    seconds: float
    scope: str
    source: str
    per_param: str | None = None
    per_path: bool = False
    unit: str = "requests"
    cost: Callable[[str, Params], int] = one
    headroom: float = 1.0

    def matches(self, venue: str, path: str) -> bool:
        """True when a request to `path` on `venue` spends from this budget."""
        return venue == self.venue and any(path == p or (p.endswith("/") and path.startswith(p)) for p in self.paths)

    @property
    def label(self) -> str:
        """`OKX rubik ratios`."""
        return f"{self.venue} {self.group}"

    def describe(self) -> str:
        """`5 requests per 2 s per instrument`."""
        return f"{self.limit:,} {self.unit} per {self.seconds:g} s per {self.scope}"

    @property
    def allowance(self) -> int:
        """What this client spends per window: the limit less the headroom kept unused."""
        return max(1, int(self.limit * self.headroom))


REF = "exchange-apis.md"
COINALYZE: tuple[Budget, ...] = (
    Budget(
        "Coinalyze",
        "API",
        ("/",),
        40,
        60,
        "key",
        f"{REF} §9 Coinalyze (40 calls/min per key; each symbol of a request is a call, up to 20 per request)",
        unit="calls",
        cost=symbol_count,
    ),
)


def venue_rows(venue: Venue) -> tuple[Budget, ...]:
    """A venue module's `BUDGETS`: `Budget`s as they are, or `(path, limit, seconds, per instrument?, source)`
    rows (one bucket per endpoint per IP; a module's `weight(path, params)` is the cost where it has one)."""
    module = venue.module
    cost = getattr(module, "weight", one)
    return tuple(
        row
        if isinstance(row, Budget)
        else Budget(module.NAME, row[0], (row[0],), row[1], row[2], "IP", row[4], cost=cost)
        for row in module.BUDGETS
    )


@functools.cache
def table() -> tuple[Budget, ...]:
    """Every venue's budgets (`venues.VENUES`, each module's `BUDGETS`) and Coinalyze's; built on first use,
    since the venue modules import the HTTP layer that imports this module."""
    return (*(row for venue in VENUES for row in venue_rows(venue)), *COINALYZE)


def __getattr__(name: str) -> tuple[Budget, ...]:
    """`TABLE`: the full table (see `table`)."""
    if name == "TABLE":
        return table()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def lookup(table: tuple[Budget, ...], venue: str, path: str, params: Params) -> list[tuple[Budget, str, int]]:
    """The (budget, bucket key, cost) a request spends from, for every matching row of `table`.

    The key names the budget's row and, where the venue counts that way, the endpoint
    and the instrument: `OKX rubik ratios|/api/v5/rubik/...|BTC-USDT-SWAP`.
    """
    spends = []
    for budget in table:
        if not budget.matches(venue, path):
            continue
        parts = [budget.label]
        if budget.per_path:
            parts.append(path)
        if budget.per_param:
            parts.append(str(params.get(budget.per_param, "")))
        spends.append((budget, "|".join(parts), min(budget.cost(path, params), budget.allowance)))
    return spends


class _Buckets(BucketFactory):
    """Routes each bucket key to its own in-memory sliding-window bucket, created on first use."""

    def __init__(self) -> None:
        self.clock = MonotonicClock()
        self.buckets: dict[str, InMemoryBucket] = {}
        self._lock = threading.Lock()

    def ensure(self, name: str, rates: list[Rate]) -> None:
        """Give `name` its bucket with `rates` (once)."""
        with self._lock:
            if name not in self.buckets:
                self.buckets[name] = self.create(InMemoryBucket, rates)

    def wrap_item(self, name: str, weight: int = 1) -> RateItem:
        """Stamp an item with the monotonic clock (ms)."""
        return RateItem(name, self.clock.now(), weight=weight)

    def get(self, item: RateItem) -> InMemoryBucket:
        """The item's bucket."""
        return self.buckets[item.name]


@dataclass(frozen=True)
class _Wait:
    label: str
    rule: str
    since: float


@dataclass(frozen=True)
class Waiting:
    """Requests waiting for one budget: how many, and the longest wait so far (seconds)."""

    label: str
    rule: str
    requests: int
    longest: float

    def __str__(self) -> str:
        """`OKX rubik ratios: 3 requests waiting, longest 1.4 s, for budget (5 requests per 2 s per instrument)`."""
        count = f"{self.requests} request{'s' if self.requests != 1 else ''}"
        return f"{self.label}: {count} waiting, longest {self.longest:.1f} s, for budget ({self.rule})"


class Budgets:
    """The process-wide budgets of one table: blocking `acquire`, and a view of who waits."""

    def __init__(self, table: tuple[Budget, ...] | None = None, pad_seconds: float = PAD_SECONDS) -> None:
        self._table = table
        self.pad_seconds = pad_seconds
        self._buckets = _Buckets()
        self._limiter = Limiter(self._buckets, buffer_ms=10)
        self._waits: dict[int, _Wait] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()

    @property
    def table(self) -> tuple[Budget, ...]:
        """The rows this instance enforces (the full `table()` unless given one)."""
        return table() if self._table is None else self._table

    def acquire(self, venue: str, base_url: str, path: str, params: Params) -> None:
        """Block until a request to `base_url + path` with `params` fits every budget it spends from."""
        host = urlsplit(base_url).netloc
        for budget, key, cost in lookup(self.table, venue, path, params):
            name = f"{host}|{key}"
            window_ms = int((budget.seconds + self.pad_seconds) * 1000)
            self._buckets.ensure(name, [Rate(budget.allowance, window_ms)])
            if self._limiter.try_acquire(name, cost, blocking=False):
                continue
            wait_id = next(self._ids)
            with self._lock:
                self._waits[wait_id] = _Wait(budget.label, budget.describe(), time.monotonic())
            try:
                self._limiter.try_acquire(name, cost)
            finally:
                with self._lock:
                    del self._waits[wait_id]

    def close(self) -> None:
        """Stop the buckets' background leaking (budgets replaced in tests)."""
        self._limiter.close()

    def waiting(self) -> list[Waiting]:
        """Each budget that requests wait for right now, longest wait first."""
        now = time.monotonic()
        with self._lock:
            waits = list(self._waits.values())
        groups: dict[tuple[str, str], list[float]] = {}
        for wait in waits:
            groups.setdefault((wait.label, wait.rule), []).append(now - wait.since)
        found = [Waiting(label, rule, len(ages), max(ages)) for (label, rule), ages in groups.items()]
        return sorted(found, key=lambda w: -w.longest)


_active = Budgets()


def acquire(venue: str, base_url: str, path: str, params: Params) -> None:
    """Block until the request fits the active budgets (see `Budgets.acquire`)."""
    _active.acquire(venue, base_url, path, params)


def waiting() -> list[Waiting]:
    """Who waits for which budget right now, process-wide (see `Budgets.waiting`)."""
    return _active.waiting()


def use(budgets: Budgets) -> Budgets:
    """Make `budgets` the process-wide budgets and return the previous ones to close (tests; `Budgets(())`
    disables)."""
    global _active
    previous, _active = _active, budgets
    return previous
