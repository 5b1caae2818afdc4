"""A loopback fake Bitget: the v2 mix-market REST API and the v3 public WebSocket, in Bitget's exact formats.

REST (`FakeBitget`): the `{"code":"00000","msg":"success","requestTime":ms,"data":...}` envelope, every
value a string, errors as the same envelope with a Bitget code and HTTP 400 (`40019` missing parameter,
`40020` bad parameter, `40034` unknown symbol). The market is the demo market's Bybit series (`FakeMarket`,
shifted so its last day is today) served as Bitget's:

- `/candles` and `/history-candles`: rows oldest first; `startTime`/`endTime` read literally as "after"
  and "before" (both exclusive); `limit` <= 1000 / 200 (more is refused), a range over 90 days is refused;
  `/candles` returns nothing older than its depth per granularity; an over-full range is filled from its
  END (anchored at `endTime`, as ccxt says) or, with `fill = "start"`, from its start.
- `/account-long-short`: no time range, the latest 30 rows, in `ratio_order` ("ascending" by default:
  undocumented, so tests flip it).
- `/open-interest`: the current size in coins; `/history-fund-rate`: `pageNo`/`pageSize` (<= 100), newest
  first; `/contracts`: the 7 assets, PEPE, a maintenance row and a delivery contract.

WebSocket (`FakeBitgetStream`): path `/v3/ws/public` (others get 404); the subscribe request
`{"op":"subscribe","args":[{"instType":"usdt-futures","topic":"liquidation"}]}` is acked as in
`bitget_ws_liquidation_subscribe.json`, any other argument (or every one, with `refuse`) gets
`{"event":"error","arg":..,"code":30001,"msg":..}`; the text `ping` is answered `pong` (unless
`answer_pings` is False); after the ack the `script` messages are pushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import websockets

from data_sources.schema import ASSETS
from tests.fake_exchanges import FakeMarket

SOURCE = "bybit"  # the demo series served as Bitget's
GRANULARITIES = {
    "1m", "3m", "5m", "15m", "30m", "1H", "2H", "4H", "6H", "12H", "1D", "3D", "1W", "1M",
    "6Hutc", "12Hutc", "1Dutc", "3Dutc", "1Wutc", "1Mutc",
}  # fmt: skip
DEMO_INTERVALS = {"1m": "1m", "5m": "5m", "15m": "15m", "30m": "30m", "1H": "1h", "2H": "2h", "4H": "4h", "1Dutc": "1d"}
DEPTH_DAYS = {"1m": 30, "3m": 30, "5m": 30, "15m": 52, "30m": 62, "1H": 83, "2H": 120, "4H": 240, "6H": 360}
PERIODS = {"5m": "5m", "15m": "15m", "30m": "30m", "1h": "1h", "2h": "2h", "4h": "4h", "1d": "1d", "6h": "", "12h": ""}
RATIO_ROWS = 30
TICKER_MARK = {"BTC": 97_000.0, "ETH": 2_400.0, "SOL": 170.0, "XRP": 2.3, "DOGE": 0.22, "ADA": 0.78, "BNB": 650.0}
TICKER_MARK |= {"PEPE": 0.000013, "LUNA": 0.3}
MAX_SPAN_MS = 90 * 86_400_000
SUBSCRIPTION = {"instType": "usdt-futures", "topic": "liquidation"}


def _s(value: float) -> str:
    return f"{value:.10g}"


def contract(symbol: str, base: str, status: str = "normal", kind: str = "perpetual") -> dict[str, Any]:
    """One `/contracts` row in the shape of `bitget_v2_mix_market_contracts.json`."""
    return {
        "symbol": symbol,
        "baseCoin": base,
        "quoteCoin": "USDT",
        "buyLimitPriceRatio": "0.9",
        "sellLimitPriceRatio": "0.9",
        "feeRateUpRatio": "0.1",
        "makerFeeRate": "0.0002",
        "takerFeeRate": "0.0006",
        "openCostUpRatio": "0.1",
        "supportMarginCoins": ["USDT"],
        "minTradeNum": "0.01",
        "priceEndStep": "1",
        "volumePlace": "2",
        "pricePlace": "1",
        "sizeMultiplier": "0.01",
        "symbolType": kind,
        "minTradeUSDT": "5",
        "maxSymbolOrderNum": "999999",
        "maxProductOrderNum": "999999",
        "maxPositionNum": "150",
        "symbolStatus": status,
        "offTime": "-1",
        "limitOpenTime": "-1",
        "deliveryTime": "1790496000000" if kind == "delivery" else "",
        "deliveryStartTime": "",
        "launchTime": "",
        "fundInterval": "8",
        "minLever": "1",
        "maxLever": "125",
        "posLimit": "0.05",
        "maintainTime": "",
        "maxMarketOrderQty": "220",
        "maxOrderQty": "1200",
        "isRwa": "NO",
    }


CONTRACTS = [
    *(contract(f"{asset}USDT", asset) for asset in ASSETS),
    contract("PEPEUSDT", "PEPE"),
    contract("LUNAUSDT", "LUNA", status="maintain"),
    contract("BTCUSDT1226", "BTC", kind="delivery"),
]


class ApiError(Exception):
    """A Bitget error envelope with HTTP 400."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(msg)
        self.code, self.msg = code, msg


@dataclass
class Fault:
    """The next `times` requests whose path starts with `prefix` get `status` and `body`."""

    prefix: str
    status: int
    body: str
    times: int = 1


class FakeBitget:
    """The REST server; `url` is what `LIQSCOPE_BITGET_URL` takes. `requests` records (path, params)."""

    def __init__(self) -> None:
        self.market = FakeMarket()
        self.fill = "end"
        self.ratio_order = "ascending"
        self.funding_order = "newest"
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeBitget:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        """Forget requests and faults; back to the default orders."""
        with self._lock:
            self.requests.clear()
            self.faults.clear()
        self.fill, self.ratio_order, self.funding_order = "end", "ascending", "newest"

    def fail(self, prefix: str, status: int, body: str, times: int = 1) -> None:
        """Queue a canned answer."""
        with self._lock:
            self.faults.append(Fault(prefix, status, body, times))

    def calls(self, prefix: str = "") -> list[tuple[str, dict[str, str]]]:
        """Requests so far whose path starts with `prefix`."""
        with self._lock:
            return [r for r in self.requests if r[0].startswith(prefix)]

    def take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if path.startswith(fault.prefix):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def answer(self, path: str, p: dict[str, str]) -> tuple[int, Any]:
        """(HTTP status, JSON body) for one request."""
        try:
            payload = self._route(path, p)
        except ApiError as error:
            return 400, {"code": error.code, "msg": error.msg, "requestTime": _now_ms(), "data": None}
        if payload is None:
            return 404, {"code": "40404", "msg": "Request URL NOT FOUND", "requestTime": _now_ms(), "data": None}
        return 200, {"code": "00000", "msg": "success", "requestTime": _now_ms(), "data": payload}

    def open_interest_usd(self) -> dict[str, float]:
        """The open interest `/tickers` serves per coin, USD (the demo's figures of the venue served as Bitget)."""
        return self.market.source.open_interest_usd(SOURCE)

    def tickers(self) -> list[dict[str, Any]]:
        """`/api/v2/mix/market/tickers`: `holdingAmount` is open interest in COINS, valued at `markPrice`."""
        rows = []
        for row in CONTRACTS:
            if row.get("symbolType") == "delivery":
                continue
            asset, mark = row["baseCoin"], TICKER_MARK[row["baseCoin"]]
            coins = self.open_interest_usd().get(asset, 1e6) / mark
            rows.append(
                {
                    "symbol": row["symbol"],
                    "lastPr": f"{mark:.10g}",
                    "markPrice": f"{mark:.10g}",
                    "indexPrice": f"{mark * 0.9999:.10g}",
                    "holdingAmount": f"{coins:.10g}",
                    "baseVolume": f"{coins * 2:.10g}",
                    "quoteVolume": f"{coins * 2 * mark:.10g}",
                    "fundingRate": "0.0001",
                    "ts": str(_now_ms()),
                }
            )
        return rows

    def _route(self, path: str, p: dict[str, str]) -> Any:
        prefix = "/api/v2/mix/market/"
        if not path.startswith(prefix):
            return None
        name = path.removeprefix(prefix)
        if name != "account-long-short":
            _product_type(p)
        if name == "contracts":
            return CONTRACTS
        if name == "tickers":
            return self.tickers()
        asset = _asset(p)
        if name in ("candles", "history-candles"):
            return self._candles(name, asset, p)
        if name == "account-long-short":
            return self._ratios(asset, p)
        if name == "open-interest":
            now = _now_ms()
            oi = self.market.frame("open_interest", asset, SOURCE, now - 86_400_000, now + 1, "5m")
            close = self.market.frame("candles", asset, SOURCE, now - 86_400_000, now + 1, "1m")["close"].iloc[-1]
            size = oi["usd"].iloc[-1] / close
            return {"openInterestList": [{"symbol": p["symbol"], "size": _s(size)}], "ts": str(now)}
        if name == "history-fund-rate":
            return self._funding(asset, p)
        return None

    def _candles(self, name: str, asset: str, p: dict[str, str]) -> list[list[str]]:
        granularity = _required(p, "granularity")
        if granularity not in GRANULARITIES:
            raise ApiError("40020", "Parameter granularity error")
        most = 1000 if name == "candles" else 200
        limit = int(p.get("limit", 100))
        if not 0 < limit <= most:
            raise ApiError("40020", "Parameter limit error")
        now = _now_ms()
        after, before = int(p.get("startTime", 0)), int(p.get("endTime", now + 1))
        if "startTime" in p and before - after > MAX_SPAN_MS:
            raise ApiError("40020", "Parameter startTime error: the maximum time query range is 90 days")
        if name == "candles" and granularity in DEPTH_DAYS:
            after = max(after, now - DEPTH_DAYS[granularity] * 86_400_000 - 1)
        interval = DEMO_INTERVALS.get(granularity)
        if interval is None:
            return []
        frame = self.market.frame("candles", asset, SOURCE, after + 1, before, interval)
        frame = frame.iloc[:limit] if self.fill == "start" else frame.iloc[max(len(frame) - limit, 0) :]
        return [
            [str(int(r.ms)), _s(r.open), _s(r.high), _s(r.low), _s(r.close), _s(r.volume), _s(r.quote_volume)]
            for r in frame.itertuples()
        ]

    def _ratios(self, asset: str, p: dict[str, str]) -> list[dict[str, str]]:
        period = p.get("period", "5m")
        if period not in PERIODS:
            raise ApiError("40020", "Parameter period error")
        if not PERIODS[period]:
            return []
        now = _now_ms()
        frame = self.market.frame("ratios", asset, SOURCE, now - 40 * 86_400_000, now, PERIODS[period])
        frame = frame[frame["kind"] == "accounts"].iloc[-RATIO_ROWS:]
        if self.ratio_order == "descending":
            frame = frame.iloc[::-1]
        return [
            {
                "longAccountRatio": _s(r.long_share),
                "shortAccountRatio": _s(r.short_share),
                "longShortAccountRatio": _s(r.ratio),
                "ts": str(int(r.ms)),
            }
            for r in frame.itertuples()
        ]

    def _funding(self, asset: str, p: dict[str, str]) -> list[dict[str, str]]:
        size, number = int(p.get("pageSize", 20)), int(p.get("pageNo", 1))
        if not 0 < size <= 100:
            raise ApiError("40020", "Parameter pageSize error")
        frame = self.market.frame("funding", asset, SOURCE, 0, _now_ms(), "1h").iloc[::-1]
        page = frame.iloc[(number - 1) * size : number * size]
        if self.funding_order != "newest":
            page = page.iloc[::-1]
        return [
            {"symbol": p["symbol"], "fundingRate": _s(r.rate), "fundingTime": str(int(r.ms))} for r in page.itertuples()
        ]


def _now_ms() -> int:
    return int(time.time() * 1000)


def _required(p: dict[str, str], name: str) -> str:
    value = p.get(name, "")
    if not value:
        raise ApiError("40019", f"Parameter {name} cannot be empty")
    return value


def _product_type(p: dict[str, str]) -> None:
    if _required(p, "productType").upper() not in ("USDT-FUTURES", "COIN-FUTURES", "USDC-FUTURES"):
        raise ApiError("40020", "Parameter productType error")


def _asset(p: dict[str, str]) -> str:
    symbol = _required(p, "symbol")
    asset = symbol.removesuffix("USDT")
    if asset not in ASSETS or asset == symbol:
        raise ApiError("40034", f"Parameter {symbol} does not exist")
    return asset


def _handler(fake: FakeBitget) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *_: object) -> None:
            return

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            with fake._lock:
                fake.requests.append((parts.path, params))
            fault = fake.take_fault(parts.path)
            if fault is not None:
                status, body = fault.status, fault.body.encode()
            else:
                try:
                    status, payload = fake.answer(parts.path, params)
                except Exception as error:  # a bug in the fake must be visible, not a hang
                    status, payload = 500, {"fake_error": repr(error)}
                body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


# ---------------------------------------------------------------- WebSocket


def push(items: list[tuple[str, str, float, float, int]]) -> str:
    """A `liquidation` push like `bitget_ws_liquidation.json`; items are (symbol, side buy/sell, price,
    amount, ts)."""
    data = [
        {"symbol": s, "side": side, "price": _s(price), "amount": _s(amount), "ts": str(ts)}
        for s, side, price, amount, ts in items
    ]
    return json.dumps({"data": data, "arg": SUBSCRIPTION, "action": "update", "ts": items[-1][4]})


@dataclass
class FakeBitgetStream:
    """The v3 public socket on a background loop; `url` is what `LIQSCOPE_BITGET_WS` takes."""

    script: list[str] = field(default_factory=list)
    interval: float = 0.0
    refuse: str | None = None
    answer_pings: bool = True
    connections: int = 0
    pings: int = 0
    subscribed: list[str] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: Any = None

    def __enter__(self) -> FakeBitgetStream:
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(self._serve(), self.loop).result(timeout=10)
        port = next(iter(self.server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/v3/ws/public"
        return self

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)

    async def _serve(self) -> Any:
        return await websockets.serve(self._handler, "127.0.0.1", 0, process_request=self._route)

    async def _close(self) -> None:
        self.server.close()
        await self.server.wait_closed()

    def _route(self, connection: websockets.ServerConnection, request: Any) -> Any:
        """404 for any path but the v3 public socket's."""
        return None if request.path == "/v3/ws/public" else connection.respond(404, "Not Found\n")

    async def _handler(self, socket: websockets.ServerConnection) -> None:
        self.connections += 1
        pushing: asyncio.Task | None = None
        try:
            async for message in socket:
                if message == "ping":
                    self.pings += 1
                    if self.answer_pings:
                        await socket.send("pong")
                    continue
                self.subscribed.append(message)
                request = json.loads(message)
                args = request.get("args") or [{}]
                if request.get("op") != "subscribe":
                    continue
                if self.refuse is not None or args != [SUBSCRIPTION]:
                    arg = args[0]
                    words = self.refuse or f"instType:{arg.get('instType')},topic:{arg.get('topic')} doesn't exist"
                    await socket.send(json.dumps({"event": "error", "arg": arg, "code": 30001, "msg": words}))
                    continue
                await socket.send(json.dumps({"event": "subscribe", "arg": SUBSCRIPTION, "connId": "fake0001"}))
                if pushing is None:
                    pushing = asyncio.create_task(self._push(socket))
        except websockets.ConnectionClosed:
            return
        finally:
            if pushing is not None:
                pushing.cancel()

    async def _push(self, socket: websockets.ServerConnection) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            for raw in self.script:
                await socket.send(raw)
                if self.interval:
                    await asyncio.sleep(self.interval)
