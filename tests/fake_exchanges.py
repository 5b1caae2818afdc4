"""Local fake Binance, OKX and Bybit REST APIs on 127.0.0.1, in their exact formats.

One threaded HTTP server answers all three exchanges' paths (they do not
collide), with each exchange's envelope, number-as-string conventions, sort
order and paging semantics. The market behind it is the demo market shifted
forward so its last day is today (UTC), so history limits behave as live.
Every request is recorded; faults (status, body, truncation, delay) can be
queued per path prefix. Used by the tests and by the benchmark.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd

from data_sources import demo
from data_sources.base import Query
from data_sources.intervals import INTERVAL_SECONDS
from data_sources.schema import ASSETS
from data_sources.venues import VENUES

if TYPE_CHECKING:
    from tests.fake_limits import FakeLimits

FAKED = ("binance", "okx", "bybit")  # the venues this server speaks (the others have `tests/fakes/<venue>.py`)
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens, so a request is refused at once
HOLD_SECONDS = 60.0  # the longest a held request waits for its release (`FakeExchanges.hold`)


def venue_urls(url: str) -> dict[str, str]:
    """Every venue's LIQSCOPE_*_URL: the `FAKED` venues at `url`, the others `UNREACHABLE` (never the internet)."""
    return {venue.module.URL_SETTING: url if venue.id in FAKED else UNREACHABLE for venue in VENUES}


COINALYZE_KEY = "test-coinalyze-key-3f9a"
COINALYZE_CODES = {"Binance": "A", "OKX": "3", "Bybit": "4"}  # not the documented "6": symbols must be resolved
COINALYZE_SECONDS = {
    "1min": 60,
    "5min": 300,
    "15min": 900,
    "30min": 1800,
    "1hour": 3600,
    "2hour": 7200,
    "4hour": 14400,
    "6hour": 21600,
    "12hour": 43200,
    "daily": 86400,
}
CT_VAL = {"BTC": 0.01, "ETH": 0.1, "SOL": 1.0, "XRP": 100.0, "DOGE": 1000.0, "ADA": 100.0, "BNB": 0.01}
CT_VAL |= {"PEPE": 10_000_000.0, "SHIB": 1_000_000.0, "WIF": 1.0}
# The symbols the fake serves market data for, in each venue's naming -> (coin, coins per quoted unit). Prices of
# a 1000x symbol are per 1,000 coins and its sizes in thousands, as the venues send them (explicit, not parsed).
SERVED: dict[str, dict[str, tuple[str, float]]] = {
    "binance": {
        **{f"{a}USDT": (a, 1.0) for a in ASSETS},
        "1000PEPEUSDT": ("PEPE", 1000.0),
        "1000SHIBUSDT": ("SHIB", 1000.0),
        "WIFUSDT": ("WIF", 1.0),
    },
    "okx": {f"{a}-USDT-SWAP": (a, 1.0) for a in (*ASSETS, "PEPE", "SHIB", "WIF")},
    "bybit": {
        **{f"{a}USDT": (a, 1.0) for a in ASSETS},
        "1000PEPEUSDT": ("PEPE", 1000.0),
        "SHIB1000USDT": ("SHIB", 1000.0),
        "WIFUSDT": ("WIF", 1.0),
    },
}
SERVED_ASSETS = tuple(dict.fromkeys(asset for symbols in SERVED.values() for asset, _ in symbols.values()))
BINANCE_INTERVALS = {"1m", "5m", "15m", "30m", "1h", "2h", "4h", "1d"}
OKX_BARS = {"1m": "1m", "5m": "5m", "15m": "15m", "30m": "30m", "1H": "1h", "2H": "2h", "4H": "4h", "1Dutc": "1d"}
BYBIT_INTERVALS = {"1": "1m", "5": "5m", "15": "15m", "30": "30m", "60": "1h", "120": "2h", "240": "4h", "D": "1d"}
BYBIT_PERIODS = {"5min": "5m", "15min": "15m", "30min": "30m", "1h": "1h", "4h": "4h", "1d": "1d"}
BINANCE_RATIOS = {
    "globalLongShortAccountRatio": "accounts",
    "topLongShortAccountRatio": "top_accounts",
    "topLongShortPositionRatio": "top_positions",
    "takerlongshortRatio": "taker",
}
OKX_RATIOS = {
    "long-short-account-ratio-contract": "accounts",
    "long-short-account-ratio-contract-top-trader": "top_accounts",
    "long-short-position-ratio-contract-top-trader": "top_positions",
}


@dataclass
class Fault:
    """A canned failure for requests whose path starts with `prefix`."""

    prefix: str
    status: int = 500
    body: str = ""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    truncate: bool = False
    delay: float = 0.0


class FakeMarket:
    """The demo market, shifted so that its last day is today (UTC)."""

    def __init__(self) -> None:
        today = pd.Timestamp.now(tz="UTC").floor("D")
        self.shift = today - demo.END + pd.Timedelta(days=1)
        self.source = demo.DemoSource()
        self._cache: dict[tuple[str, str, str, str], pd.DataFrame] = {}
        self._lock = threading.Lock()

    @property
    def seed_day(self) -> pd.Timestamp:
        """Where 2025-05-08 lands in fake time."""
        return demo.SEED_DAY + self.shift

    def warm(self) -> None:
        """Build every series up front, so no request pays for the fake's own set-up."""
        for asset in SERVED_ASSETS:
            for exchange in ("binance", "okx", "bybit"):
                for interval in INTERVAL_SECONDS:
                    for dataset in ("candles", "ratios", "open_interest"):
                        self._series(dataset, asset, exchange, interval)
                for dataset in ("liquidations", "funding"):
                    self._series(dataset, asset, exchange, "1m")

    def _series(self, dataset: str, asset: str, exchange: str, interval: str) -> pd.DataFrame:
        """The whole period of one series in fake time, with an integer `ms` column (cached)."""
        if dataset in ("liquidations", "funding"):
            interval = "1m"
        key = (dataset, asset, exchange, interval)
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            frame = self.source.fetch(dataset, Query(asset, exchange, demo.START, demo.END, interval)).copy()
            frame["ts"] = frame["ts"] + self.shift
            frame["ms"] = (frame["ts"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
            with self._lock:
                cached = self._cache.setdefault(key, frame)
        return cached

    def frame(self, dataset: str, asset: str, exchange: str, start_ms: int, end_ms: int, interval: str) -> pd.DataFrame:
        """Rows with start_ms <= ts < end_ms (fake time), never later than now."""
        now_ms = int(time.time() * 1000)
        series = self._series(dataset, asset, exchange, interval)
        lo, hi = series["ms"].searchsorted([start_ms, min(end_ms, now_ms)])
        return series.iloc[lo:hi] if hi > lo else series.iloc[0:0]


def _s(value: float) -> str:
    return f"{value:.10g}"


class FakeExchanges:
    """The server; `url` is the base URL for all three exchanges."""

    def __init__(self, delay: float = 0.0) -> None:
        self.market = FakeMarket()
        self.delay = delay
        self.extra_listed = 0  # synthetic perpetuals added to every listing and ticker answer (a longer tail)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.faults: list[Fault] = []
        self.fill = "start"  # which end of an over-full range a page holds: "start" or "end"
        self.limits: FakeLimits | None = None  # set to enforce request limits (tests/fake_limits.py)
        self.holds: list[tuple[tuple[str, ...], threading.Event]] = []  # see `hold`
        self._lock = threading.Lock()
        handler = _handler(self)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeExchanges:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail(self, prefix: str, **kwargs: Any) -> None:
        """Queue a fault for the next matching request(s)."""
        with self._lock:
            self.faults.append(Fault(prefix, **kwargs))

    def hold(self, *prefixes: str) -> threading.Event:
        """Hold every request whose path starts with one of `prefixes` (each recorded on arrival) until the
        returned event is set, then answer it as usual; `reset` releases every hold (at most HOLD_SECONDS)."""
        released = threading.Event()
        with self._lock:
            self.holds.append((prefixes, released))
        return released

    def _held(self, path: str) -> None:
        with self._lock:
            events = [released for prefixes, released in self.holds if path.startswith(prefixes)]
        for released in events:
            released.wait(HOLD_SECONDS)

    def calls(self, prefix: str = "") -> list[tuple[str, dict[str, str]]]:
        """Requests received so far whose path starts with `prefix`."""
        with self._lock:
            return [r for r in self.requests if r[0].startswith(prefix)]

    def reset(self) -> None:
        """Forget requests and faults."""
        with self._lock:
            self.requests.clear()
            self.faults.clear()
            for _, released in self.holds:
                released.set()
            self.holds.clear()

    def _page(self, rows: pd.DataFrame, limit: int, offset: int = 0) -> pd.DataFrame:
        """One page of `rows` (already in the endpoint's sort order): the `offset`-th `limit` rows
        counted from the first row (fill "start") or from the last (fill "end")."""
        if self.fill == "start":
            return rows.iloc[offset : offset + limit]
        return rows.iloc[max(len(rows) - offset - limit, 0) : max(len(rows) - offset, 0)]

    def _take_fault(self, path: str, params: dict[str, str]) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if path.startswith(fault.prefix):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return self.limits.check(path, params) if self.limits is not None else None

    def answer(
        self, path: str, params: dict[str, str], headers: dict[str, str] | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON body, headers) for a request; the exchanges' own routing."""
        if path == "/_fake/requests":  # for a benchmark in another process; not an exchange path
            with self._lock:
                count = sum(1 for p, _ in self.requests if not p.startswith("/_fake/"))
            return 200, {"count": count}, {}
        if path == "/_fake/reset":
            self.reset()
            return 200, {"reset": True}, {}
        listing = instrument_listing(path, params, self.extra_listed)  # the venues' listings: see the block below
        if listing is not None:
            return listing
        tickers = ticker_answer(path, params, self.extra_listed)  # the venues' all-symbol tickers: see below
        if tickers is not None:
            return tickers
        if path.startswith("/v1/"):
            return self._coinalyze(path, params, headers or {})
        if path.startswith(("/fapi/", "/futures/")):
            return self._binance(path, params)
        if path.startswith("/api/v5/"):
            return self._okx(path, params)
        if path.startswith("/v5/"):
            return self._bybit(path, params)
        return 404, {"error": "not found"}, {}

    # Coinalyze: api_key header, UNIX seconds, symbols resolved through /exchanges and /future-markets.
    def _coinalyze(self, path: str, p: dict[str, str], headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if headers.get("api_key") != COINALYZE_KEY:
            return 401, {"message": "Invalid API key"}, {}
        if path == "/v1/exchanges":
            return 200, [{"name": name, "code": code} for name, code in COINALYZE_CODES.items()], {}
        if path == "/v1/future-markets":
            markets = [
                {
                    "symbol": f"{a}USDT_PERP.{code}",
                    "exchange": code,
                    "symbol_on_exchange": f"{a}USDT",
                    "base_asset": a,
                    "quote_asset": "USDT",
                    "is_perpetual": True,
                    "has_long_short_ratio_data": True,
                }
                for a in ASSETS
                for code in COINALYZE_CODES.values()
            ]
            markets.append(
                {
                    "symbol": "BTCUSD_250627.A",
                    "exchange": "A",
                    "symbol_on_exchange": "BTCUSD_250627",
                    "base_asset": "BTC",
                    "quote_asset": "USD",
                    "is_perpetual": False,
                }
            )
            return 200, markets, {}
        if path == "/v1/liquidation-history":
            by_code = {code: name.lower() for name, code in COINALYZE_CODES.items()}
            out = []
            seconds = COINALYZE_SECONDS[p["interval"]]
            for symbol in p["symbols"].split(","):
                asset, code = symbol.split("USDT_PERP.")
                frame = self.market.frame(
                    "liquidations", asset, by_code[code], int(p["from"]) * 1000, (int(p["to"]) + 1) * 1000, "1m"
                )
                bucket = (frame["ms"] // (seconds * 1000)) * seconds
                sums = frame.groupby([bucket, "side"])["usd"].sum().unstack("side", fill_value=0.0)
                history = [
                    {"t": int(t), "l": float(row.get("long", 0.0)), "s": float(row.get("short", 0.0))}
                    for t, row in sums.iterrows()
                ]
                out.append({"symbol": symbol, "history": history})
            return 200, out, {}
        if path in ("/v1/long-short-ratio-history", "/v1/open-interest-history"):
            by_code = {code: name.lower() for name, code in COINALYZE_CODES.items()}
            seconds = COINALYZE_SECONDS[p["interval"]]
            interval = {300: "5m", 900: "15m", 1800: "30m", 3600: "1h", 7200: "2h", 14400: "4h"}.get(seconds, "1d")
            out = []
            for symbol in p["symbols"].split(","):
                asset, code = symbol.split("USDT_PERP.")
                start, end = int(p["from"]) * 1000, (int(p["to"]) + 1) * 1000
                if path.endswith("ratio-history"):
                    frame = self.market.frame("ratios", asset, by_code[code], start, end, interval)
                    frame = frame[frame["kind"] == "accounts"]
                    history = [
                        {"t": int(r.ms) // 1000, "r": r.ratio, "l": r.long_share * 100, "s": r.short_share * 100}
                        for r in frame.itertuples()
                    ]
                else:
                    frame = self.market.frame("open_interest", asset, by_code[code], start, end, interval)
                    history = [
                        {"t": int(r.ms) // 1000, "o": r.usd, "h": r.usd, "l": r.usd, "c": r.usd}
                        for r in frame.itertuples()
                    ]
                out.append({"symbol": symbol, "history": history})
            return 200, out, {}
        return 404, {"message": "not found"}, {}

    # Binance: ascending, startTime inclusive, numbers as strings, times as ints.
    def _binance(self, path: str, p: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        headers = {"X-MBX-USED-WEIGHT-1M": str(self.limits.weight_used() if self.limits else 12)}
        if path == "/fapi/v1/time":
            return 200, {"serverTime": int(time.time() * 1000)}, headers
        if p.get("symbol") not in SERVED["binance"]:
            return 400, {"code": -1121, "msg": "Invalid symbol."}, headers
        asset, unit = SERVED["binance"][p["symbol"]]
        start, end = int(p.get("startTime", 0)), int(p.get("endTime", 2**62)) + 1
        name = path.rsplit("/", 1)[-1]
        if name == "klines":
            limit = min(int(p.get("limit", 500)), 1500)
            f = self._page(self.market.frame("candles", asset, "binance", start, end, p["interval"]), limit)
            rows = [
                [
                    int(r.ms),
                    _s(r.open * unit),
                    _s(r.high * unit),
                    _s(r.low * unit),
                    _s(r.close * unit),
                    _s(r.volume / unit),
                    int(r.ms) + 59_999,
                    _s(r.quote_volume),
                    100,
                    "0",
                    "0",
                    "0",
                ]
                for r in f.itertuples()
            ]
            return 200, rows, headers
        if name == "fundingRate":
            f = self._page(self.market.frame("funding", asset, "binance", start, end, "1h"), int(p.get("limit", 100)))
            rows = [
                {"symbol": p["symbol"], "fundingRate": _s(r.rate), "fundingTime": int(r.ms), "markPrice": ""}
                for r in f.itertuples()
            ]
            return 200, rows, headers
        limit = min(int(p.get("limit", 30)), 500)
        interval = p.get("period", "5m")
        if name == "openInterestHist":
            f = self._page(self.market.frame("open_interest", asset, "binance", start, end, interval), limit)
            rows = [
                {
                    "symbol": p["symbol"],
                    "sumOpenInterest": _s(r.usd / 100),
                    "sumOpenInterestValue": _s(r.usd),
                    "CMCCirculatingSupply": "1",
                    "timestamp": str(int(r.ms)),
                }
                for r in f.itertuples()
            ]
            return 200, rows, headers
        kind = BINANCE_RATIOS.get(name)
        if kind is None:
            return 404, {"code": -5000, "msg": "Path not found"}, headers
        f = self.market.frame("ratios", asset, "binance", start, end, interval)
        f = self._page(f[f["kind"] == kind], limit)
        if kind == "taker":
            rows = [
                {
                    "buySellRatio": _s(r.ratio),
                    "buyVol": _s(r.long_share * 1000),
                    "sellVol": _s(r.short_share * 1000),
                    "timestamp": str(int(r.ms)),
                }
                for r in f.itertuples()
            ]
        else:
            stamp = int if kind == "accounts" else str  # live data sends numbers; the docs show strings
            rows = [
                {
                    "symbol": p["symbol"],
                    "longShortRatio": _s(r.ratio),
                    "longAccount": _s(r.long_share),
                    "shortAccount": _s(r.short_share),
                    "timestamp": stamp(int(r.ms)),
                }
                for r in f.itertuples()
            ]
        return 200, rows, headers

    # OKX: {"code":"0","data":[...]}, newest first, exclusive after/before (begin/end on rubik).
    def _okx(self, path: str, p: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        ok = lambda data: (200, {"code": "0", "msg": "", "data": data}, {})  # noqa: E731
        if path == "/api/v5/public/time":
            return ok([{"ts": str(int(time.time() * 1000))}])
        inst = p.get("instId") or (p.get("instFamily", "") + "-SWAP")
        asset = SERVED["okx"].get(inst, ("",))[0]
        if not asset:
            return 200, {"code": "51001", "msg": f"Instrument ID {inst} does not exist", "data": []}, {}
        if path == "/api/v5/public/instruments":
            return ok([{"instId": inst, "instType": "SWAP", "ctVal": _s(CT_VAL[asset]), "ctValCcy": asset}])
        older_key, newer_key = ("end", "begin") if "/rubik/" in path else ("after", "before")
        end = int(p.get(older_key) or 2**62)
        start = int(p.get(newer_key) or -1) + 1
        limit = int(p.get("limit", 100))
        if path in ("/api/v5/market/candles", "/api/v5/market/history-candles"):
            f = self._page(self.market.frame("candles", asset, "okx", start, end, OKX_BARS[p["bar"]]).iloc[::-1], limit)
            rows = [
                [
                    str(int(r.ms)),
                    _s(r.open),
                    _s(r.high),
                    _s(r.low),
                    _s(r.close),
                    _s(r.volume / CT_VAL[asset]),
                    _s(r.volume),
                    _s(r.quote_volume),
                    "1",
                ]
                for r in f.itertuples()
            ]
            return ok(rows)
        if path == "/api/v5/public/funding-rate-history":
            f = self._page(self.market.frame("funding", asset, "okx", start, end, "1h").iloc[::-1], limit)
            return ok(
                [
                    {
                        "instType": "SWAP",
                        "instId": inst,
                        "formulaType": "withRate",
                        "fundingRate": _s(r.rate * 1.01),
                        "realizedRate": _s(r.rate),
                        "fundingTime": str(int(r.ms)),
                        "method": "current_period",
                    }
                    for r in f.itertuples()
                ]
            )
        if path == "/api/v5/public/liquidation-orders":
            since = int((pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=1)).value // 1_000_000)
            f = self._page(
                self.market.frame("liquidations", asset, "okx", max(start, since), end, "1m").iloc[::-1], limit
            )
            details = [
                {
                    "side": "sell" if r.side == "long" else "buy",
                    "posSide": r.side,
                    "bkPx": _s(r.price),
                    "sz": _s(r.qty / CT_VAL[asset]),
                    "bkLoss": "0",
                    "ccy": "",
                    "ts": str(int(r.ms)),
                }
                for r in f.itertuples()
            ]
            return ok(
                [
                    {
                        "instType": "SWAP",
                        "instId": inst,
                        "instFamily": f"{asset}-USDT",
                        "uly": f"{asset}-USDT",
                        "details": details,
                    }
                ]
                if details
                else []
            )
        name = path.rsplit("/", 1)[-1]
        interval = OKX_BARS.get(p.get("period", "5m"), "5m")
        if name == "open-interest-history":
            f = self._page(self.market.frame("open_interest", asset, "okx", start, end, interval).iloc[::-1], limit)
            return ok([[str(int(r.ms)), "0", "0", _s(r.usd)] for r in f.itertuples()])
        if name == "taker-volume-contract":
            f = self.market.frame("ratios", asset, "okx", start, end, interval)
            f = self._page(f[f["kind"] == "taker"].iloc[::-1], limit)
            return ok([[str(int(r.ms)), _s(r.short_share * 500), _s(r.long_share * 500)] for r in f.itertuples()])
        kind = OKX_RATIOS.get(name)
        if kind is None:
            return 404, {"code": "50000", "msg": "Not found", "data": []}, {}
        f = self.market.frame("ratios", asset, "okx", start, end, interval)
        f = self._page(f[f["kind"] == kind].iloc[::-1], limit)
        return ok([[str(int(r.ms)), _s(r.ratio)] for r in f.itertuples()])

    # Bybit: {"retCode":0,"result":{"list":[...]}}, newest first, inclusive start/end, cursors.
    def _bybit(self, path: str, p: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        def ok(rows: list, cursor: str = "") -> tuple[int, Any, dict[str, str]]:
            result = {"category": "linear", "symbol": p.get("symbol", ""), "list": rows, "nextPageCursor": cursor}
            return 200, {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": 0}, {}

        if path == "/v5/market/time":
            return ok([])
        if p.get("symbol") not in SERVED["bybit"]:
            return 200, {"retCode": 10001, "retMsg": "params error: symbol invalid", "result": {}, "time": 0}, {}
        asset, unit = SERVED["bybit"][p["symbol"]]
        if path == "/v5/market/kline":
            start, end = int(p.get("start", 0)), int(p.get("end", 2**62)) + 1
            limit = min(int(p.get("limit", 200)), 1000)
            f = self.market.frame("candles", asset, "bybit", start, end, BYBIT_INTERVALS[p["interval"]])
            f = self._page(f.iloc[::-1], limit)
            return ok(
                [
                    [
                        str(int(r.ms)),
                        _s(r.open * unit),
                        _s(r.high * unit),
                        _s(r.low * unit),
                        _s(r.close * unit),
                        _s(r.volume / unit),
                        _s(r.quote_volume),
                    ]
                    for r in f.itertuples()
                ]
            )
        start, end = int(p.get("startTime", 0)), int(p.get("endTime", 2**62)) + 1
        if path == "/v5/market/funding/history":
            f = self.market.frame("funding", asset, "bybit", start, end, "1h").iloc[::-1]
            f = self._page(f, int(p.get("limit", 200)))
            return ok(
                [
                    {"symbol": p["symbol"], "fundingRate": _s(r.rate), "fundingRateTimestamp": str(int(r.ms))}
                    for r in f.itertuples()
                ]
            )
        offset = int(p.get("cursor") or 0)
        if path == "/v5/market/account-ratio":
            limit = min(int(p.get("limit", 50)), 500)
            f = self.market.frame("ratios", asset, "bybit", start, end, BYBIT_PERIODS[p["period"]])
            f = f[f["kind"] == "accounts"].iloc[::-1]
            page = self._page(f, limit, offset)
            rows = [
                {
                    "symbol": p["symbol"],
                    "buyRatio": _s(r.long_share),
                    "sellRatio": _s(r.short_share),
                    "timestamp": str(int(r.ms)),
                }
                for r in page.itertuples()
            ]
        elif path == "/v5/market/open-interest":
            limit = min(int(p.get("limit", 50)), 200)
            f = self.market.frame("open_interest", asset, "bybit", start, end, BYBIT_PERIODS[p["intervalTime"]])
            candles = self.market.frame("candles", asset, "bybit", start, end, "5m")[["ts", "close"]]
            f = pd.merge_asof(f, candles, on="ts", direction="backward").iloc[::-1]
            page = self._page(f, limit, offset)
            rows = [
                {"openInterest": _s(r.usd / r.close / unit), "singleOpenInterest": "0", "timestamp": str(int(r.ms))}
                for r in page.itertuples()
            ]
        else:
            return 404, {"retCode": 10404, "retMsg": "route not found", "result": {}, "time": 0}, {}
        cursor = str(offset + limit) if offset + limit < len(f) else ""
        return ok(rows, cursor)


# ---- Instrument listings (Binance exchangeInfo, OKX instruments, Bybit instruments-info) -------------------
# The 7 assets plus a long tail in each venue's naming: 1000x prefixes and Bybit's suffix, a ticker that starts
# with a digit (1INCH), USDC-quoted perpetuals, OKX inverse swaps, a delisted or suspended symbol, and the
# non-perpetuals each listing mixes in (which must be excluded). Bybit pages by BYBIT_LISTING_PAGE rows.
BYBIT_LISTING_PAGE = 4
LISTED_AT = 1569398400000


def _binance_listed(
    symbol: str, base: str, quote: str = "USDT", contract: str = "PERPETUAL", status: str = "TRADING"
) -> dict[str, Any]:
    delivery = 1782460800000 if contract == "CURRENT_QUARTER" else 4133404800000
    return {
        "symbol": symbol,
        "pair": symbol.split("_")[0],
        "contractType": contract,
        "deliveryDate": delivery,
        "onboardDate": LISTED_AT,
        "status": status,
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": base,
        "quoteAsset": quote,
        "marginAsset": quote,
        "pricePrecision": 7,
        "quantityPrecision": 0,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COMMODITY" if contract == "TRADIFI_PERPETUAL" else "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.0000010", "maxPrice": "200", "tickSize": "0.0000001"},
            {"filterType": "LOT_SIZE", "minQty": "1", "maxQty": "800000000", "stepSize": "1"},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "1", "maxQty": "80000000", "stepSize": "1"},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": "5"},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.0500",
                "multiplierDown": "0.9500",
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": [
            "LIMIT",
            "MARKET",
            "STOP",
            "STOP_MARKET",
            "TAKE_PROFIT",
            "TAKE_PROFIT_MARKET",
            "TRAILING_STOP_MARKET",
        ],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        "permissionSet": ["GRID", "COPY"],
    }


BINANCE_LISTED = [
    *(_binance_listed(f"{a}USDT", a) for a in ASSETS),
    _binance_listed("1000PEPEUSDT", "1000PEPE"),
    _binance_listed("1000SHIBUSDT", "1000SHIB"),
    _binance_listed("1000SATSUSDT", "1000SATS"),
    _binance_listed("1MBABYDOGEUSDT", "1MBABYDOGE"),
    _binance_listed("1INCHUSDT", "1INCH"),
    _binance_listed("WIFUSDT", "WIF"),
    _binance_listed("BTCUSDC", "BTC", quote="USDC"),
    _binance_listed("TOMOUSDT", "TOMO", status="SETTLING"),
    _binance_listed("BTCUSDT_260626", "BTC", contract="CURRENT_QUARTER"),
    _binance_listed("XAUUSDT", "XAU", contract="TRADIFI_PERPETUAL"),
]


def _okx_listed(inst: str, ct_val: str, state: str = "live") -> dict[str, Any]:
    family = inst.removesuffix("-SWAP")
    base, quote = family.split("-")
    inverse = quote == "USD"
    return {
        "alias": "",
        "auctionEndTime": "",
        "baseCcy": "",
        "category": "1",
        "contTdSwTime": "",
        "ctMult": "1",
        "ctType": "inverse" if inverse else "linear",
        "ctVal": ct_val,
        "ctValCcy": "USD" if inverse else base,
        "expTime": "",
        "futureSettlement": False,
        "instFamily": family,
        "instId": inst,
        "instIdCode": 10000 + len(inst),
        "instType": "SWAP",
        "lever": "50",
        "listTime": str(LISTED_AT),
        "lotSz": "1" if inverse else "0.01",
        "maxIcebergSz": "100000000.0000000000000000",
        "maxLmtAmt": "20000000",
        "maxLmtSz": "100000000",
        "maxMktAmt": "",
        "maxMktSz": "20000",
        "maxPlatOILmt": "",
        "maxStopSz": "20000",
        "maxTriggerSz": "100000000.0000000000000000",
        "maxTwapSz": "100000000.0000000000000000",
        "minSz": "1" if inverse else "0.01",
        "openType": "",
        "optType": "",
        "posLmtAmt": "",
        "posLmtPct": "",
        "preMktSwTime": "",
        "quoteCcy": "",
        "ruleType": "normal",
        "settleCcy": base if inverse else quote,
        "state": state,
        "stk": "",
        "tickSz": "0.1",
        "tradeQuoteCcyList": [],
        "uly": family,
    }


OKX_LISTED = [
    *(_okx_listed(f"{a}-USDT-SWAP", _s(CT_VAL[a])) for a in ASSETS),
    _okx_listed("PEPE-USDT-SWAP", "10000000"),
    _okx_listed("SHIB-USDT-SWAP", "1000000"),
    _okx_listed("1INCH-USDT-SWAP", "1"),
    _okx_listed("WIF-USDT-SWAP", "1"),
    _okx_listed("BTC-USDC-SWAP", "0.0001"),
    _okx_listed("BTC-USD-SWAP", "100"),
    _okx_listed("ETH-USD-SWAP", "10"),
    _okx_listed("LUNA-USDT-SWAP", "1", state="suspend"),
]


def _bybit_listed(symbol: str, base: str, quote: str = "USDT", contract: str = "LinearPerpetual") -> dict[str, Any]:
    return {
        "symbol": symbol,
        "symbolId": 100 + len(symbol),
        "contractType": contract,
        "status": "Trading",
        "baseCoin": base,
        "quoteCoin": quote,
        "launchTime": str(LISTED_AT),
        "deliveryTime": "1782460800000" if contract == "LinearFutures" else "0",
        "deliveryFeeRate": "",
        "priceScale": "7",
        "leverageFilter": {"minLeverage": "1", "maxLeverage": "50.00", "leverageStep": "0.01"},
        "priceFilter": {"minPrice": "0.0000001", "maxPrice": "1.9999998", "tickSize": "0.0000001"},
        "lotSizeFilter": {
            "maxOrderQty": "50000000",
            "minOrderQty": "100",
            "qtyStep": "100",
            "postOnlyMaxOrderQty": "50000000",
            "maxMktOrderQty": "10000000",
            "minNotionalValue": "5",
        },
        "unifiedMarginTrade": True,
        "fundingInterval": 480,
        "settleCoin": quote,
        "copyTrading": "both",
        "upperFundingRate": "0.02",
        "lowerFundingRate": "-0.02",
        "isPreListing": False,
        "preListingInfo": None,
        "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.1"},
        "symbolType": "",
    }


BYBIT_LISTED = [
    *(_bybit_listed(f"{a}USDT", a) for a in ASSETS),
    _bybit_listed("1000PEPEUSDT", "1000PEPE"),
    _bybit_listed("SHIB1000USDT", "SHIB1000"),
    _bybit_listed("10000SATSUSDT", "10000SATS"),
    _bybit_listed("1INCHUSDT", "1INCH"),
    _bybit_listed("WIFUSDT", "WIF"),
    _bybit_listed("BTCPERP", "BTC", quote="USDC"),
    _bybit_listed("BTC-26JUN26", "BTC", quote="USDC", contract="LinearFutures"),
]


def _bybit_cursor(page: list[dict[str, Any]]) -> str:
    """Bybit's token shape, percent-encoded inside the JSON string (as the docs show)."""
    return f"first%3D{page[0]['symbol']}%26last%3D{page[-1]['symbol']}"


def tail_listed(exchange: str, extra: int) -> list[dict[str, Any]]:
    """`extra` synthetic perpetuals (TAIL0, TAIL1, ...) in the venue's listing format: a longer tail."""
    coins = [f"TAIL{i}" for i in range(extra)]
    if exchange == "binance":
        return [_binance_listed(f"{c}USDT", c) for c in coins]
    if exchange == "okx":
        return [_okx_listed(f"{c}-USDT-SWAP", "1") for c in coins]
    return [_bybit_listed(f"{c}USDT", c) for c in coins]


def instrument_listing(path: str, p: dict[str, str], extra: int = 0) -> tuple[int, Any, dict[str, str]] | None:
    """The three listing endpoints in each venue's format, with `extra` synthetic perpetuals; None for any other
    request."""
    if path == "/fapi/v1/exchangeInfo":
        body = {
            "timezone": "UTC",
            "serverTime": int(time.time() * 1000),
            "futuresType": "U_MARGINED",
            "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400}],
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": BINANCE_LISTED + tail_listed("binance", extra),
        }
        return 200, body, {"X-MBX-USED-WEIGHT-1M": "1"}
    if path == "/api/v5/public/instruments" and "instId" not in p and "instFamily" not in p:
        if p.get("instType") != "SWAP":
            return 200, {"code": "51000", "msg": "Parameter instType error", "data": []}, {}
        return 200, {"code": "0", "msg": "", "data": OKX_LISTED + tail_listed("okx", extra)}, {}
    if path == "/v5/market/instruments-info" and "symbol" not in p:
        if p.get("category") != "linear":
            return 200, {"retCode": 10001, "retMsg": "params error: category", "result": {}, "time": 0}, {}
        listed = [r for r in BYBIT_LISTED + tail_listed("bybit", extra) if r["status"] == p.get("status", "Trading")]
        offset = 0
        if p.get("cursor"):
            last = p["cursor"].rpartition("%26last%3D")[2]
            offset = next((i + 1 for i, r in enumerate(listed) if r["symbol"] == last), -1)
            if offset < 0 or not p["cursor"].startswith("first%3D"):
                return 200, {"retCode": 10001, "retMsg": "params error: cursor invalid", "result": {}, "time": 0}, {}
        page = listed[offset : offset + min(int(p.get("limit", 500)), 1000, BYBIT_LISTING_PAGE)]
        cursor = _bybit_cursor(page) if page and offset + len(page) < len(listed) else ""
        result = {"category": "linear", "list": page, "nextPageCursor": cursor}
        return (
            200,
            {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": int(time.time() * 1000)},
            {},
        )
    return None


# ---- end of instrument listings ---------------------------------------------------------------------------


# ---- All-symbol tickers (Binance ticker/24hr, OKX open-interest, Bybit tickers) ----------------------------
# One answer per venue for every listed perpetual, in each venue's format, numbers as the venue types them.
# The served coins carry the demo's calibrated open interest (`DemoSource.open_interest_usd`) and a 24 h quote
# volume of the same order; every other listed symbol (1INCH, SATS, USDC pairs, the synthetic tail) a small one.
UNSERVED_USD = 2_000_000.0


def _ticker_usd(exchange: str, symbol: str, measures: dict[str, float]) -> float:
    asset = SERVED[exchange].get(symbol, ("",))[0]
    return measures.get(asset, UNSERVED_USD)


def ticker_answer(path: str, p: dict[str, str], extra: int) -> tuple[int, Any, dict[str, str]] | None:
    """The three all-symbol ticker endpoints in each venue's format; None for any other request."""
    now = int(time.time() * 1000)
    source = demo.DemoSource()
    if path == "/fapi/v1/ticker/24hr" and "symbol" not in p:
        volume = {a: demo.DAILY_VOLUME_USD[a] * demo.EXCHANGE_VOLUME_SHARE["binance"] for a in SERVED_ASSETS}
        rows = [
            {
                "symbol": r["symbol"],
                "priceChange": "0.0100",
                "priceChangePercent": "1.250",
                "weightedAvgPrice": "0.8100",
                "lastPrice": "0.8200",
                "lastQty": "10",
                "openPrice": "0.8100",
                "highPrice": "0.8300",
                "lowPrice": "0.8000",
                "volume": "1000000",
                "quoteVolume": _s(_ticker_usd("binance", r["symbol"], volume)),
                "openTime": now - 86_400_000,
                "closeTime": now - 1,
                "firstId": 1,
                "lastId": 1000,
                "count": 1000,
            }
            for r in BINANCE_LISTED + tail_listed("binance", extra)
            if r["contractType"] == "PERPETUAL"
        ]
        return 200, rows, {"X-MBX-USED-WEIGHT-1M": "41"}
    if path == "/api/v5/public/open-interest" and "instId" not in p and "instFamily" not in p:
        if p.get("instType") != "SWAP":
            return 200, {"code": "51000", "msg": "Parameter instType error", "data": []}, {}
        measures = source.open_interest_usd("okx")
        data = [
            {
                "instId": r["instId"],
                "instType": "SWAP",
                "oi": "1000",
                "oiCcy": "1000",
                "oiUsd": _s(_ticker_usd("okx", r["instId"], measures)),
                "ts": str(now),
            }
            for r in OKX_LISTED + tail_listed("okx", extra)
        ]
        return 200, {"code": "0", "msg": "", "data": data}, {}
    if path == "/v5/market/tickers" and "symbol" not in p:
        if p.get("category") != "linear":
            return 200, {"retCode": 10001, "retMsg": "params error: category", "result": {}, "time": 0}, {}
        measures = source.open_interest_usd("bybit")
        rows = [
            {
                "symbol": r["symbol"],
                "lastPrice": "0.8200",
                "indexPrice": "0.8199",
                "markPrice": "0.8200",
                "prevPrice24h": "0.8100",
                "price24hPcnt": "0.012345",
                "highPrice24h": "0.8300",
                "lowPrice24h": "0.8000",
                "prevPrice1h": "0.8190",
                "openInterest": "1000000",
                "openInterestValue": f"{_ticker_usd('bybit', r['symbol'], measures):.2f}",
                "turnover24h": "1000000.0000",
                "volume24h": "1000000.0000",
                "fundingRate": "0.0001",
                "nextFundingTime": str(now + 3_600_000),
                "predictedDeliveryPrice": "",
                "basisRate": "",
                "deliveryFeeRate": "",
                "deliveryTime": "0",
                "ask1Size": "100",
                "bid1Price": "0.8199",
                "ask1Price": "0.8201",
                "bid1Size": "100",
                "basis": "",
                "preOpenPrice": "",
                "preQty": "",
                "curPreListingPhase": "",
            }
            for r in BYBIT_LISTED + tail_listed("bybit", extra)
            if r["contractType"] == "LinearPerpetual"
        ]
        result = {"category": "linear", "list": rows}
        return 200, {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": now}, {}
    return None


# ---- end of all-symbol tickers ------------------------------------------------------------------------------


def _handler(exchanges: FakeExchanges) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

        def log_message(self, *_: object) -> None:
            return

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            with exchanges._lock:
                exchanges.requests.append((parts.path, params))
            if exchanges.delay and not parts.path.startswith("/_fake/"):
                time.sleep(exchanges.delay)
            exchanges._held(parts.path)
            fault = exchanges._take_fault(parts.path, params)
            if fault is not None:
                time.sleep(fault.delay)
                self._send(fault.status, fault.body.encode(), fault.content_type, fault.headers, fault.truncate)
                return
            try:
                status, body, headers = exchanges.answer(parts.path, params, dict(self.headers))
            except Exception as error:  # a bug in the fake must be visible, not a hang
                status, body, headers = 500, {"fake_error": repr(error)}, {}
            self._send(status, json.dumps(body).encode(), "application/json", headers, False)

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


def serve() -> None:
    """`python -m tests.fake_exchanges [delay]`: serve until stdin closes; prints the base URL first."""
    import sys

    with FakeExchanges(delay=float(sys.argv[1]) if len(sys.argv) > 1 else 0.0) as exchanges:
        exchanges.market.warm()
        print(exchanges.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    serve()
