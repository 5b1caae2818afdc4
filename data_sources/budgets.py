"""Each venue's documented request budget, kept client side: requests wait for budget, never fail.

`TABLE` has one row per (venue, endpoint group), from the venues' docs as recorded in
`shared/reference/exchange-apis.md` (each row cites its section). A request maps to
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

import itertools
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pyrate_limiter import BucketFactory, InMemoryBucket, Limiter, MonotonicClock, Rate, RateItem

PAD_SECONDS = 0.25

Params = Mapping[str, Any]


def one(_path: str, _params: Params) -> int:
    """Every request costs 1."""
    return 1


def binance_weight(path: str, params: Params) -> int:
    """Binance request weight: klines by `limit` ([1,100) 1, [100,500) 2, [500,1000] 5, above 10; default 500)."""
    if path != "/fapi/v1/klines":
        return 1
    limit = int(params.get("limit", 500))
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


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
RUBIK_RATIOS = (
    "/api/v5/rubik/stat/contracts/long-short-account-ratio-contract",
    "/api/v5/rubik/stat/contracts/long-short-account-ratio-contract-top-trader",
    "/api/v5/rubik/stat/contracts/long-short-position-ratio-contract-top-trader",
    "/api/v5/rubik/stat/taker-volume-contract",
)
TABLE: tuple[Budget, ...] = (
    Budget(
        "Binance",
        "request weight",
        ("/fapi/",),
        2400,
        60,
        "IP",
        f"{REF} §1.6 (REQUEST_WEIGHT 2400/min per IP); klines weight by limit §1.1",
        unit="weight",
        cost=binance_weight,
        headroom=0.9,
    ),
    Budget(
        "Binance",
        "futures data",
        ("/futures/data/",),
        1000,
        300,
        "IP",
        f"{REF} §1.2, §1.3 (1000 requests/5 min per IP, weight 0)",
        headroom=0.9,
    ),
    Budget(
        "Binance",
        "funding rate",
        ("/fapi/v1/fundingRate",),
        500,
        300,
        "IP",
        f"{REF} §1.4 (500/5 min/IP, shared with fundingInfo)",
        headroom=0.9,
    ),
    Budget("OKX", "candles", ("/api/v5/market/candles",), 40, 2, "IP", f"{REF} §2.1 (40 req/2s per IP)"),
    Budget("OKX", "history candles", ("/api/v5/market/history-candles",), 20, 2, "IP", f"{REF} §2.1 (20 req/2s)"),
    Budget(
        "OKX",
        "rubik ratios",
        RUBIK_RATIOS,
        5,
        2,
        "instrument",
        f"{REF} §2.2 (5/2s, IP+instId, per endpoint)",
        per_param="instId",
        per_path=True,
    ),
    Budget(
        "OKX",
        "rubik open interest",
        ("/api/v5/rubik/stat/contracts/open-interest-history",),
        10,
        2,
        "IP",
        f"{REF} §2.3 (10 req/2s; scope not stated, so the stricter per-IP reading)",
    ),
    Budget(
        "OKX",
        "funding history",
        ("/api/v5/public/funding-rate-history",),
        10,
        2,
        "instrument",
        f"{REF} §2.3 (10 req/2s IP+instId)",
        per_param="instId",
    ),
    Budget(
        "OKX",
        "instruments",
        ("/api/v5/public/instruments",),
        20,
        2,
        "instrument type",
        "OKX docs, Get instruments (20 req/2s, IP+instType); not in the stored reference",
        per_param="instType",
    ),
    Budget(
        "OKX",
        "liquidation orders",
        ("/api/v5/public/liquidation-orders",),
        40,
        2,
        "IP",
        f"{REF} §2.4 (SDK docstring: 40 req/2s; the endpoint is undocumented)",
    ),
    Budget(
        "OKX",
        "server time",
        ("/api/v5/public/time",),
        10,
        2,
        "IP",
        "OKX docs, Get system time (10 req/2s per IP); not in the stored reference",
    ),
    Budget(
        "Bybit",
        "market data",
        ("/v5/",),
        600,
        5,
        "IP",
        f"{REF} §3.5 (600 requests/5 s per IP; over it a 403 bans the IP for about 10 min, so a third is kept unused)",
        headroom=2 / 3,
    ),
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

    def __init__(self, table: tuple[Budget, ...] = TABLE, pad_seconds: float = PAD_SECONDS) -> None:
        self.table = table
        self.pad_seconds = pad_seconds
        self._buckets = _Buckets()
        self._limiter = Limiter(self._buckets, buffer_ms=10)
        self._waits: dict[int, _Wait] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()

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
