"""Request limits the fake exchanges can enforce, answered the way each venue answers going over.

Sliding-window counters per bucket of a budget table (`data_sources.budgets.TABLE`
or a squeezed copy for test speed), at each venue's documented limit (not the
client's headroom). Over a limit: Binance 429 `{"code":-1003,...}`, OKX 429
`{"msg":"Too Many Requests","code":"50011"}`, Bybit 403 with an HTML page,
Coinalyze 429 with `Retry-After`. Admitted requests count; rejected ones are listed.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import replace

from data_sources.budgets import Budget, lookup
from tests.fake_exchanges import Fault

BYBIT_403 = (
    "<html><head><title>403 Forbidden</title></head><body><h1>403 Forbidden</h1>access too frequent</body></html>"
)
REJECTIONS = {
    "Binance": (429, {"code": -1003, "msg": "Too many requests; current limit of IP is exceeded."}, "application/json"),
    "OKX": (429, {"msg": "Too Many Requests", "code": "50011"}, "application/json"),
    "Bybit": (403, BYBIT_403, "text/html"),
    "Coinalyze": (429, {"message": "Too many requests"}, "application/json"),
}


def venue_of(path: str) -> tuple[str, str] | None:
    """(venue, path as the client names it) for a path the fake serves; None for the fake's own paths."""
    if path.startswith(("/fapi/", "/futures/")):
        return "Binance", path
    if path.startswith("/api/v5/"):
        return "OKX", path
    if path.startswith("/v5/"):
        return "Bybit", path
    if path.startswith("/v1/"):
        return "Coinalyze", path.removeprefix("/v1")
    return None


def squeezed(table: tuple[Budget, ...], seconds: float = 0.75, divisor: int = 50) -> tuple[Budget, ...]:
    """The table with every window `seconds` long and every request limit divided (at least 4), for fast tests.

    Coinalyze's 40 calls stay 40: one request may carry 20 of them.
    """
    return tuple(
        replace(b, seconds=seconds, limit=b.limit if b.unit == "calls" else max(4, b.limit // divisor)) for b in table
    )


class FakeLimits:
    """Counts requests per bucket of `table` and rejects those over a documented limit."""

    def __init__(self, table: tuple[Budget, ...]) -> None:
        self.table = table
        self.rejected: list[tuple[str, str]] = []
        self._seen: dict[str, deque[tuple[float, int]]] = {}
        self._lock = threading.Lock()

    def _used(self, key: str, seconds: float, now: float) -> int:
        seen = self._seen.setdefault(key, deque())
        while seen and seen[0][0] <= now - seconds:
            seen.popleft()
        return sum(cost for _, cost in seen)

    def weight_used(self) -> int:
        """Binance's request weight spent in the current window (its `X-MBX-USED-WEIGHT-1M`)."""
        weight = next((b for b in self.table if b.venue == "Binance" and b.unit == "weight"), None)
        if weight is None:
            return 0
        with self._lock:
            return self._used(weight.label, weight.seconds, time.monotonic())

    def check(self, path: str, params: dict[str, str]) -> Fault | None:
        """Count the request; a Fault carrying the venue's rejection when it goes over any limit."""
        found = venue_of(path)
        if found is None:
            return None
        venue, client_path = found
        now = time.monotonic()
        spends = [(b, key, b.cost(client_path, params)) for b, key, _ in lookup(self.table, venue, client_path, params)]
        with self._lock:
            over = next((b for b, key, cost in spends if self._used(key, b.seconds, now) + cost > b.limit), None)
            if over is None:
                for _, key, cost in spends:
                    self._seen[key].append((now, cost))
                return None
            self.rejected.append((venue, path))
        status, body, content_type = REJECTIONS[venue]
        text = body if isinstance(body, str) else json.dumps(body)
        headers = {"Retry-After": str(max(1, round(over.seconds)))} if venue == "Coinalyze" else {}
        return Fault(path, status=status, body=text, content_type=content_type, headers=headers)

    def rejected_by(self, venue: str) -> int:
        """How many requests to `venue` were rejected so far."""
        with self._lock:
            return sum(1 for v, _ in self.rejected if v == venue)
