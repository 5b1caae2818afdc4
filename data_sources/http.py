"""The one place that does HTTP: request budgets, pooled sessions, retries, timeouts, typed errors.

Before each request the venue's documented request budget is drawn from
(`budgets.acquire`: it waits for room rather than earn a 429 or a ban).

Each thread has its own `requests.Session` with a urllib3 `Retry` (exponential
backoff with jitter on 429/5xx, honouring `Retry-After`, capped so a page never
hangs). What still fails becomes a typed `SourceError` whose text tells the user
what to do about it. Adapters call `get_json` (or `post_json`, for Hyperliquid's
POST-only reads) and never see a status code.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
import requests
from cachetools import TTLCache
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ReadTimeoutError
from urllib3.util.retry import Retry

from data_sources import budgets
from data_sources.base import SourceError

# urllib3 logs every retry at WARNING; the typed error raised after the last one says what failed, once.
logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
MAX_RETRY_AFTER_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 3.05
PER_HOST_CONCURRENCY = 16
REQUEST_WORKERS = 48
UNREACHABLE_PAUSE_SECONDS = 30.0
REFUSED_KEY_PAUSE_SECONDS = 300.0


class UpstreamError(SourceError):
    """An exchange answered with an error or not at all."""


class RateLimited(UpstreamError):
    """HTTP 429 (or an error code meaning the same) after the retries ran out."""


class IpBanned(UpstreamError):
    """HTTP 418: the exchange banned this IP for ignoring rate limits."""


class GeoBlocked(UpstreamError):
    """HTTP 451/403: the exchange refuses requests from this server's location."""


class Unavailable(UpstreamError):
    """Timeouts, refused connections and 5xx answers."""


class Unreachable(Unavailable):
    """No connection at all (refused, unresolvable host, connect timeout): the host is skipped for a while."""


class KeyRefused(UpstreamError):
    """HTTP 401: the upstream refused this server's API key; the key is not sent again for a while."""


class BadPayload(UpstreamError):
    """A body that is not the JSON the endpoint documents (truncated, HTML, malformed)."""


class UnknownSymbol(UpstreamError):
    """The exchange does not list the instrument."""


class CappedRetry(Retry):
    """urllib3 Retry whose `Retry-After` waits are capped (a page must not hang for minutes)."""

    def get_retry_after(self, response: Any) -> float | None:
        """The server's Retry-After, at most MAX_RETRY_AFTER_SECONDS."""
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, MAX_RETRY_AFTER_SECONDS)


def _retry() -> Retry:
    """3 tries on 429/5xx, refused connections and one read error.

    urllib3 retries only idempotent verbs by default and leaves POST out, since a POST may
    change state. liqscope's only POSTs are Hyperliquid's `POST /info` queries, pure reads
    whose repetition changes nothing, so POST is allowed here: without it a 429 or 503 on
    /info would fail at once instead of being retried like every GET.
    """
    return CappedRetry(
        total=3,
        connect=2,
        read=1,
        status=3,
        backoff_factor=0.3,
        backoff_jitter=0.2,
        backoff_max=4.0,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "POST"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )


_local = threading.local()


def session() -> requests.Session:
    """This thread's pooled session (requests.Session is not safe to share across threads)."""
    current = getattr(_local, "session", None)
    if current is None:
        current = requests.Session()
        adapter = HTTPAdapter(max_retries=_retry(), pool_connections=8, pool_maxsize=PER_HOST_CONCURRENCY)
        current.mount("http://", adapter)
        current.mount("https://", adapter)
        current.headers["User-Agent"] = "liqscope/1 (+https://github.com/liqscope)"
        _local.session = current
    return current


@dataclass
class Upstream:
    """One exchange's REST host: its name for messages, URL, and the setting that moves it."""

    name: str
    base_url: str
    setting: str
    timeout: float = 10.0
    classify: Callable[[requests.Response], UpstreamError | None] | None = None
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    requests_made: int = 0
    _unreachable: TTLCache[str, str] = field(
        default_factory=lambda: TTLCache(maxsize=1, ttl=UNREACHABLE_PAUSE_SECONDS), repr=False
    )
    _refused_key: TTLCache[str, str] = field(
        default_factory=lambda: TTLCache(maxsize=1, ttl=REFUSED_KEY_PAUSE_SECONDS), repr=False
    )
    _gate: threading.BoundedSemaphore = field(default_factory=lambda: threading.BoundedSemaphore(PER_HOST_CONCURRENCY))
    _count_lock: threading.Lock = field(default_factory=threading.Lock)

    def _fail(self, response: requests.Response) -> UpstreamError:
        status = response.status_code
        specific = self.classify(response) if self.classify is not None else None
        if specific is not None:
            return specific
        if status == 418:
            return IpBanned(
                f"{self.name} has banned this IP for exceeding its rate limits (HTTP 418); "
                "the ban lifts by itself after minutes to days. Use another IP or proxy via "
                f"{self.setting}."
            )
        if status == 451 or (status == 403 and "json" not in response.headers.get("Content-Type", "")):
            return GeoBlocked(
                f"{self.name} refuses requests from this server's location (HTTP {status}). "
                f"Set {self.setting} to a reachable endpoint or proxy."
            )
        if status == 429:
            return RateLimited(
                f"{self.name} is rate limiting this server (HTTP 429) and retries did not help; "
                "cached data is shown where there is some. Try again in a minute."
            )
        if status >= 500:
            return Unavailable(f"{self.name} is having trouble (HTTP {status}); try again shortly.")
        if status == 401:
            return KeyRefused(f"{self.name} rejected the request (HTTP 401): {_brief(response.text)}")
        return UpstreamError(f"{self.name} rejected the request (HTTP {status}): {_brief(response.text)}")

    def get_json(self, path: str, params: dict[str, Any]) -> Any:
        """GET `path` with `params` and return the decoded JSON, or raise a typed SourceError."""
        return self._json("GET", path, params=params)

    def post_json(self, path: str, body: dict[str, Any]) -> Any:
        """POST `body` as JSON to `path` and return the decoded JSON, or raise a typed SourceError.

        Only for reads that change nothing upstream (Hyperliquid's `POST /info`): such a POST
        is retried like a GET (see `_retry`), so it must be idempotent.
        """
        return self._json("POST", path, json=body)

    def _json(self, method: str, path: str, **send: Any) -> Any:
        """One request (`send` is `params=` or `json=`) with the typed error handling both verbs share.

        A host that could not be reached at all is not asked again for `UNREACHABLE_PAUSE_SECONDS`, and a key it
        refused (HTTP 401) is not sent again for `REFUSED_KEY_PAUSE_SECONDS`: the requests in between fail at once
        with the same reason (cachetools TTLCaches hold it), so a venue that is down or a wrong key costs a page
        one request, not one per request (nor a wait for the budget those would spend).
        """
        with self._count_lock:
            reason, refused = self._unreachable.get("reason"), self._refused_key.get("reason")
        if reason is not None:
            raise Unreachable(f"{reason} (not retried for {UNREACHABLE_PAUSE_SECONDS:g} s)")
        if refused is not None:
            raise KeyRefused(f"{refused} (the key is not sent again for {REFUSED_KEY_PAUSE_SECONDS:g} s)")
        response = self._send(method, path, **send)
        if response.status_code >= 400:
            error = self._fail(response)
            if isinstance(error, KeyRefused):
                with self._count_lock:
                    self._refused_key["reason"] = str(error)
            raise error
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise BadPayload(f"{self.name} sent a malformed answer for {path} (not valid JSON).") from None

    def _send(self, method: str, path: str, **send: Any) -> requests.Response:
        """The HTTP exchange itself, after drawing the request budget; transport failures become typed errors."""
        url = f"{self.base_url}{path}"
        budgets.acquire(self.name, self.base_url, path, send.get("params") or send.get("json") or {})
        with self._gate:
            with self._count_lock:
                self.requests_made += 1
            try:
                return session().request(
                    method, url, headers=self.headers, timeout=(CONNECT_TIMEOUT_SECONDS, self.timeout), **send
                )
            except requests.exceptions.RetryError:
                raise RateLimited(f"{self.name} kept answering 429/5xx after retries; try again in a minute.") from None
            except requests.Timeout as error:
                if isinstance(error, requests.exceptions.ConnectTimeout):
                    raise self._no_connection() from None
                raise Unavailable(f"{self.name} did not answer within {self.timeout:g} s.") from None
            except requests.ConnectionError as error:
                if _timed_out(error):
                    raise Unavailable(f"{self.name} did not answer within {self.timeout:g} s.") from None
                raise self._no_connection() from None
            except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
                raise BadPayload(f"{self.name} sent a truncated answer for {path}; try again shortly.") from None
            except requests.RequestException as error:
                raise Unavailable(f"{self.name} request failed: {type(error).__name__}.") from None

    def _no_connection(self) -> Unreachable:
        """The error for a host that could not be reached, remembered for the requests turned away meanwhile."""
        reason = f"Could not reach {self.name} at {self.base_url}. Check the network, or set {self.setting}."
        with self._count_lock:
            self._unreachable["reason"] = reason
        return Unreachable(reason)


def _timed_out(error: requests.ConnectionError) -> bool:
    """requests reports a read timeout that exhausted urllib3's retries as a ConnectionError."""
    reason = error.args[0] if error.args else None
    return isinstance(reason, MaxRetryError) and isinstance(reason.reason, ReadTimeoutError)


def json_body(response: requests.Response) -> Any:
    """The response's JSON, or None when the body is not JSON (HTML error pages)."""
    try:
        return response.json()
    except ValueError:
        return None


T = TypeVar("T")
R = TypeVar("R")
_requests_pool = ThreadPoolExecutor(max_workers=REQUEST_WORKERS, thread_name_prefix="liqscope-http")


def fan_out(request: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """Run independent requests of one fetch concurrently; results in order, first error raised.

    Adapters call this at most once per fetch and never from inside `request`,
    so the pool cannot deadlock on itself.
    """
    return list(_requests_pool.map(request, items))


def each_venue(read: Callable[[str], R], exchanges: Iterable[str]) -> list[R]:
    """`read(exchange)` for every venue at once, one thread each, results in order (first error raised): per-venue
    reads a page makes (listings, ticker snapshots), which may fan out on the request pool themselves, so a venue
    that is slow or down costs the page one wait, not one per venue in turn."""
    venues = list(exchanges)
    if len(venues) <= 1:
        return [read(exchange) for exchange in venues]
    with ThreadPoolExecutor(max_workers=len(venues), thread_name_prefix="liqscope-venue") as pool:
        return list(pool.map(read, venues))


def _brief(text: str, limit: int = 160) -> str:
    return " ".join(text.split())[:limit]
