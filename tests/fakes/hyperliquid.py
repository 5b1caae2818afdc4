"""Loopback fake Hyperliquid: `POST /info` on 127.0.0.1, dispatching on the JSON body's `type`.

Formats as recorded in shared/reference/payloads/hyperliquid_*.json and more-venues.md §3: prices and
sizes as strings, times as integer ms, `startTime`/`endTime` inclusive, rows ascending, at most 5,000
candles (only the most recent 5,000 of an interval exist) and 500 funding rows per answer. A body of
the wrong shape (unknown type, a missing field, a time sent as a string) is HTTP 422 with HL's text
`Failed to deserialize the JSON body into the target type`. `fill` chooses which end of an over-full
range an answer keeps ("start", as HL documents, or "end") so tests prove paging does not depend on it.
Faults (429, 5xx, truncation, delay) are queued per request type.

The market is the shifted demo market (`tests.fake_exchanges.FakeMarket`, Binance's series) for BTC, ETH,
SOL and DOGE; PEPE is DOGE scaled to PEPE-like prices and listed as `kPEPE` (prices per 1,000 PEPE, sizes
in thousands). Funding is a deterministic hourly series whose `time` falls a few ms after each hour.
LOOM is listed as delisted. Unknown coins answer `[]` (HL's real answer is UNCONFIRMED).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pandas as pd

from data_sources.intervals import INTERVAL_SECONDS
from tests.fake_exchanges import FakeMarket, Fault

DESERIALIZE = "Failed to deserialize the JSON body into the target type"
HOUR_MS = 3_600_000
PEPE_PER_DOGE = 1e-4  # PEPE's per-coin price is DOGE's x this; its coin volume DOGE's / this
# (name, szDecimals, maxLeverage, extra fields) in the listing's order; contexts follow this order.
UNIVERSE: tuple[tuple[str, int, int, dict[str, Any]], ...] = (
    ("BTC", 5, 40, {}),
    ("ETH", 4, 25, {}),
    ("SOL", 2, 20, {}),
    ("kPEPE", 0, 10, {}),
    ("LOOM", 1, 3, {"onlyIsolated": True, "isDelisted": True}),
    ("DOGE", 0, 10, {}),
)
OPEN_INTEREST_COINS = {"BTC": 21_834.51234, "ETH": 512_345.6789, "SOL": 3_210_987.65, "kPEPE": 4_567_890.0, "DOGE": 1e9}
SOURCE_ASSET = {"BTC": "BTC", "ETH": "ETH", "SOL": "SOL", "DOGE": "DOGE", "kPEPE": "DOGE"}
SCALE = {"kPEPE": PEPE_PER_DOGE * 1000}  # quoted price per listed unit = source price x this


def _s(value: float) -> str:
    return f"{value:.10g}"


def _is_ms(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class FakeHyperliquid:
    """The server; `url` is the base URL (`POST {url}/info`)."""

    def __init__(self) -> None:
        self.market = FakeMarket()
        self.fill = "start"
        self.candle_limit, self.funding_limit = 5000, 500
        self.requests: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHyperliquid:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail(self, kind: str, **kwargs: Any) -> None:
        """Queue a fault (`tests.fake_exchanges.Fault` fields) for the next request(s) of body type `kind`."""
        with self._lock:
            self.faults.append(Fault(kind, **kwargs))

    def calls(self, kind: str = "") -> list[dict[str, Any]]:
        """Bodies received so far (parsed JSON; raw text under "_raw" when not JSON) of type `kind`."""
        with self._lock:
            return [body for body in self.requests if not kind or body.get("type") == kind]

    def reset(self) -> None:
        """Forget requests and faults; fill from the start; documented page sizes."""
        with self._lock:
            self.requests.clear()
            self.faults.clear()
        self.fill = "start"
        self.candle_limit, self.funding_limit = 5000, 500

    def _take_fault(self, kind: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if kind == fault.prefix:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def _page(self, rows: list[dict], limit: int) -> list[dict]:
        """An over-full answer keeps `limit` rows from the range's start (HL) or, with fill "end", its end."""
        return rows[:limit] if self.fill == "start" else rows[max(len(rows) - limit, 0) :]

    # ---- the market ------------------------------------------------------------------------------------

    def candles(self, coin: str, interval: str, start_ms: int, end_ms: int) -> list[dict]:
        """Rows whose open time is in [start_ms, end_ms] (inclusive) among the 5,000 most recent, ascending."""
        step = INTERVAL_SECONDS[interval] * 1000
        now = int(time.time() * 1000)
        earliest = now - now % step - 4999 * step
        source = SOURCE_ASSET.get(coin)
        if source is None:
            return []
        frame = self.market.frame("candles", source, "binance", max(start_ms, earliest), end_ms + 1, interval)
        scale = SCALE.get(coin, 1.0)
        return [
            {
                "T": int(r.ms) + step - 1,
                "c": _s(r.close * scale),
                "h": _s(r.high * scale),
                "i": interval,
                "l": _s(r.low * scale),
                "n": 100 + int(r.ms) // step % 900,
                "o": _s(r.open * scale),
                "s": coin,
                "t": int(r.ms),
                "v": _s(r.volume / scale),
            }
            for r in frame.itertuples()
        ]

    def pepe_candles(self, interval: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """The truth behind kPEPE: PEPE in USD per ONE PEPE and PEPE coins, for [start, end)."""
        lo, hi = (int(t.value // 1_000_000) for t in (start, end))
        frame = self.market.frame("candles", "DOGE", "binance", lo, hi, interval)
        prices = {c: frame[c] * PEPE_PER_DOGE for c in ("open", "high", "low", "close")}
        return frame.assign(**prices, volume=frame["volume"] / PEPE_PER_DOGE, asset="PEPE")

    def funding(self, coin: str, start_ms: int, end_ms: int) -> list[dict]:
        """Hourly rows with `time` in [start_ms, end_ms] (inclusive), ascending, a few ms after each hour."""
        if coin not in SOURCE_ASSET:
            return []
        first = int(self.market.seed_day.value // 1_000_000) - 60 * 24 * HOUR_MS
        now = int(time.time() * 1000)
        salt = sum(map(ord, coin))
        rows = []
        for hour in range(max(first, start_ms - start_ms % HOUR_MS), min(end_ms, now) + 1, HOUR_MS):
            index = hour // HOUR_MS + salt
            at = hour + 20 + index % 60
            if start_ms <= at <= end_ms and at <= now:
                rate = ((index * 7919) % 41 - 15) * 1e-6
                rows.append({"coin": coin, "fundingRate": _s(rate), "premium": _s(rate * 30), "time": at})
        return rows

    def funding_truth(self, coin: str, start: pd.Timestamp, end: pd.Timestamp) -> list[dict]:
        """Every funding row with `time` in [start, end)."""
        return self.funding(coin, int(start.value // 1_000_000), int(end.value // 1_000_000) - 1)

    def mark_price(self, coin: str) -> float:
        """The quoted mark price (fixed, so a test can recompute it): the 1m close at the seed day's noon."""
        noon = int((self.market.seed_day + pd.Timedelta(hours=12)).value // 1_000_000)
        frame = self.market.frame("candles", SOURCE_ASSET[coin], "binance", noon, noon + 60_000, "1m")
        return float(frame["close"].iloc[0]) * SCALE.get(coin, 1.0)

    # ---- the API ---------------------------------------------------------------------------------------

    def meta(self) -> dict:
        """`{"type":"meta"}`."""
        universe = [{"name": n, "szDecimals": d, "maxLeverage": lev, **extra} for n, d, lev, extra in UNIVERSE]
        return {"universe": universe, "marginTables": [[50, {"description": "", "marginTiers": []}]]}

    def contexts(self) -> list:
        """`{"type":"metaAndAssetCtxs"}`: `[meta, [ctx...]]`, contexts positional to the universe."""
        contexts = []
        for name, _, _, extra in UNIVERSE:
            if extra.get("isDelisted"):
                contexts.append({"openInterest": "0.0", "markPx": "0.05", "funding": "0.0", "dayNtlVlm": "0.0"})
                continue
            mark = self.mark_price(name)
            contexts.append(
                {
                    "dayNtlVlm": _s(OPEN_INTEREST_COINS[name] * mark * 3),
                    "funding": "0.0000125",
                    "impactPxs": [_s(mark * 0.9999), _s(mark * 1.0001)],
                    "markPx": _s(mark),
                    "midPx": _s(mark),
                    "openInterest": _s(OPEN_INTEREST_COINS[name]),
                    "oraclePx": _s(mark * 0.9995),
                    "premium": "0.00031",
                    "prevDayPx": _s(mark * 0.98),
                    "dayBaseVlm": _s(OPEN_INTEREST_COINS[name] * 3),
                }
            )
        return [self.meta(), contexts]

    def answer(self, body: Any) -> tuple[int, Any]:
        """(status, JSON body or 422 text) for one `/info` body."""
        if not isinstance(body, dict):
            return 422, DESERIALIZE
        kind = body.get("type")
        if kind == "meta":
            return 200, self.meta()
        if kind == "metaAndAssetCtxs":
            return 200, self.contexts()
        if kind == "candleSnapshot":
            req = body.get("req")
            if not isinstance(req, dict) or not _is_ms(req.get("startTime")) or not _is_ms(req.get("endTime")):
                return 422, DESERIALIZE
            if not isinstance(req.get("coin"), str) or req.get("interval") not in INTERVAL_SECONDS:
                return 422, DESERIALIZE
            rows = self.candles(req["coin"], req["interval"], req["startTime"], req["endTime"])
            return 200, self._page(rows, self.candle_limit)
        if kind == "fundingHistory":
            end = body.get("endTime", int(time.time() * 1000))
            if not isinstance(body.get("coin"), str) or not _is_ms(body.get("startTime")) or not _is_ms(end):
                return 422, DESERIALIZE
            return 200, self._page(self.funding(body["coin"], body["startTime"], end), self.funding_limit)
        return 422, DESERIALIZE


def _handler(fake: FakeHyperliquid) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *_: object) -> None:
            return

        def do_GET(self) -> None:
            self._send(405, b"", "text/plain", {}, False)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw) if self.headers.get("Content-Type") == "application/json" else None
            except ValueError:
                body = None
            if self.path != "/info":
                self._send(404, b"", "text/plain", {}, False)
                return
            with fake._lock:
                fake.requests.append(body if isinstance(body, dict) else {"_raw": raw.decode(errors="replace")})
            fault = fake._take_fault(body.get("type", "") if isinstance(body, dict) else "")
            if fault is not None:
                time.sleep(fault.delay)
                self._send(fault.status, fault.body.encode(), fault.content_type, fault.headers, fault.truncate)
                return
            try:
                status, answer = fake.answer(body)
            except Exception as error:  # a bug in the fake must be visible, not a hang
                status, answer = 500, {"fake_error": repr(error)}
            if status == 422:
                self._send(status, str(answer).encode(), "text/plain; charset=utf-8", {}, False)
            else:
                self._send(status, json.dumps(answer).encode(), "application/json", {}, False)

        def _send(self, status: int, body: bytes, ctype: str, headers: dict, truncate: bool) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body) * (2 if truncate else 1)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)
                if truncate:
                    self.close_connection = True
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    return Handler
