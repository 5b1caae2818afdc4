"""A loopback fake of Gate futures APIv4 (USDT settle): REST and the futures WebSocket, in Gate's exact formats.

REST (`http://127.0.0.1:<port>/api/v4/futures/usdt/...`): bare lists/objects, numbers as strings where Gate
sends strings, times in SECONDS, sizes in CONTRACTS (coins / `quanto_multiplier`), errors as a non-2xx status
with `{"label", "message"}` (429 `TOO_MANY_REQUESTS` from `fail`). Its market is the demo market's Binance
series (`tests/fake_exchanges.FakeMarket`, last day = today), relabelled as Gate's:

- `/contracts` pages by `limit` (<= 1000) and `offset`; `/contracts/{name}` one row or 400 CONTRACT_NOT_FOUND;
- `/candlesticks` refuses `limit` with `from`/`to`, more than 2,000 points, a `from` more than 10,000 points ago
  and intervals outside Gate's enum (no `2h`); rows with from <= t <= to, oldest first, `v` integer contracts;
- `/contract_stats` ignores `to`, runs one row past `limit` from `from` (`stats_fill="start"`, as measured) or
  sends the newest rows (`"end"`); per-bucket liquidation totals are the demo's events summed by side, with a
  `long_liq_usd_new` 1 % off (mark price), so a parser reading the wrong field is caught;
- `/funding_rate` newest first; an over-full range keeps its newest (`funding_fill="end"`) or oldest rows.

WebSocket (`ws://127.0.0.1:<port>/v4/ws/usdt`): a subscribe to `futures.public_liquidates` with `["!all"]`
and a `time` within 60 s is acked (`{"event":"subscribe","result":{"status":"success"}}`), anything else, or
every request with `refuse`, gets Gate's error object; `{"channel":"futures.ping"}` is answered with
`futures.pong` unless `answer_pings` is False; then the script of pushes is sent once.
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

import pandas as pd
import websockets

from data_sources.schema import ASSETS
from tests.fake_exchanges import FakeMarket

PREFIX = "/api/v4/futures/usdt"
WS_PATH = "/v4/ws/usdt"
CHANNEL = "futures.public_liquidates"
QUANTO = {"BTC": "0.0001", "ETH": "0.01", "SOL": "1", "XRP": "10", "DOGE": "10", "ADA": "10", "BNB": "0.001"}
LONG_TAIL = {"PEPE": ("10000000", "trading"), "WIF": ("1", "trading"), "LUNA": ("1", "delisted")}
CANDLE_SECONDS = {"10s": 10, "1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400}
CANDLE_SECONDS |= {"8h": 28800, "1d": 86400, "7d": 604800}
TICKER_MARK = {"BTC": 97_000.0, "ETH": 2_400.0, "SOL": 170.0, "XRP": 2.3, "DOGE": 0.22, "ADA": 0.78, "BNB": 650.0}
TICKER_MARK |= {"PEPE": 0.000013, "WIF": 1.1, "LUNA": 0.3}
STATS_SECONDS = {"5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400, "1d": 86400}


def _s(value: float) -> str:
    return f"{value:.10g}"


def contract_row(name: str, quanto: str, status: str = "trading", kind: str = "direct") -> dict[str, Any]:
    """A `/contracts` row in the shape of Gate's docs example (`payloads/gate_futures_contracts.json`)."""
    return {
        "name": name,
        "type": kind,
        "quanto_multiplier": quanto,
        "ref_discount_rate": "0",
        "order_price_deviate": "0.5",
        "maintenance_rate": "0.005",
        "mark_type": "index",
        "last_price": "38026",
        "mark_price": "37985.6",
        "index_price": "37954.92",
        "funding_rate_indicative": "0.000219",
        "mark_price_round": "0.01",
        "funding_offset": 0,
        "in_delisting": status == "delisting",
        "risk_limit_base": "1000000",
        "interest_rate": "0.0003",
        "order_price_round": "0.1",
        "order_size_min": 1,
        "ref_rebate_rate": "0.2",
        "funding_interval": 28800,
        "risk_limit_step": "1000000",
        "leverage_min": "1",
        "leverage_max": "100",
        "risk_limit_max": "8000000",
        "maker_fee_rate": "-0.00025",
        "taker_fee_rate": "0.00075",
        "funding_rate": "0.002053",
        "order_size_max": 1000000,
        "funding_next_apply": 1610035200,
        "short_users": 977,
        "config_change_time": 1609899548,
        "trade_size": 28530850594,
        "position_size": 5223816,
        "long_users": 455,
        "funding_impact_value": "60000",
        "orders_limit": 50,
        "trade_id": 10851092,
        "orderbook_id": 2129638396,
        "enable_bonus": True,
        "enable_credit": True,
        "create_time": 1569398400,
        "funding_cap_ratio": "0.75",
        "status": status,
        "launch_time": 1569398400,
        "delisting_time": 0,
        "delisted_time": 0,
    }


CONTRACTS = [
    *(contract_row(f"{a}_USDT", QUANTO[a]) for a in ASSETS),
    *(contract_row(f"{a}_USDT", quanto, status) for a, (quanto, status) in LONG_TAIL.items()),
]


def liquidates_message(items: list[tuple[str, float, float, int]], shape: str = "2026-08") -> str:
    """A `futures.public_liquidates` push; items are (contract, signed ORDER size in contracts, price, ms).

    "2026-08": price a string, `time` in ms (batched per contract); "2025": price a float, `time_ms`.
    """
    if shape == "2025":
        result = [{"price": price, "size": size, "time_ms": ts, "contract": c} for c, size, price, ts in items]
    else:
        result = [{"price": _s(price), "size": size, "time": ts, "contract": c} for c, size, price, ts in items]
    now = time.time()
    body = {"channel": CHANNEL, "event": "update", "time": int(now), "time_ms": int(now * 1000), "result": result}
    return json.dumps(body)


def _error(status: int, label: str, message: str) -> tuple[int, Any]:
    return status, {"label": label, "message": message}


@dataclass
class Fault:
    """The next `times` requests under `prefix` answer `status` with Gate's error body."""

    prefix: str
    status: int
    label: str
    message: str
    times: int = 1


class FakeGateRest:
    """Gate's REST answers over the demo market (see the module docstring)."""

    def __init__(self) -> None:
        self.market = FakeMarket()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.faults: list[Fault] = []
        self.stats_fill = "start"
        self.funding_fill = "end"
        self._stats: dict[tuple[str, str], pd.DataFrame] = {}
        self._lock = threading.Lock()

    def fail(self, prefix: str, status: int, label: str, message: str, times: int = 1) -> None:
        """Queue Gate error answers for requests under `prefix`."""
        with self._lock:
            self.faults.append(Fault(prefix, status, label, message, times))

    def calls(self, prefix: str = "") -> list[tuple[str, dict[str, str]]]:
        """Requests received so far under `prefix`."""
        with self._lock:
            return [r for r in self.requests if r[0].startswith(prefix)]

    def answer(self, path: str, p: dict[str, str]) -> tuple[int, Any]:
        """(status, body) for one GET."""
        with self._lock:
            self.requests.append((path, p))
            fault = next((f for f in self.faults if path.startswith(f.prefix)), None)
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
        if fault is not None:
            return _error(fault.status, fault.label, fault.message)
        if not path.startswith(PREFIX + "/"):
            return _error(404, "NOT_FOUND", "Not found")
        route = path.removeprefix(PREFIX + "/")
        if route == "contracts":
            limit, offset = int(p.get("limit", 100)), int(p.get("offset", 0))
            if not 1 <= limit <= 1000:
                return _error(400, "INVALID_PARAM_VALUE", "limit must be between 1 and 1000")
            return 200, CONTRACTS[offset : offset + limit]
        if route.startswith("contracts/"):
            row = next((r for r in CONTRACTS if r["name"] == route.removeprefix("contracts/")), None)
            return (200, row) if row else _error(400, "CONTRACT_NOT_FOUND", "Contract not found")
        if route == "tickers":
            return 200, self.tickers()
        asset = p.get("contract", "").removesuffix("_USDT")
        if "contract" not in p:
            return _error(400, "MISSING_REQUIRED_PARAM", "contract is required")
        if asset not in ASSETS:
            return _error(400, "CONTRACT_NOT_FOUND", "Contract not found")
        handler = {"candlesticks": self._candles, "contract_stats": self._stats_rows, "funding_rate": self._funding}
        return handler[route](asset, p) if route in handler else _error(404, "NOT_FOUND", "Not found")

    def open_interest_usd(self) -> dict[str, float]:
        """The open interest `/tickers` serves per coin, USD (the demo's Binance figures)."""
        return self.market.source.open_interest_usd("binance")

    def tickers(self) -> list[dict[str, Any]]:
        """`/tickers` (shape of `payloads/gate_futures_tickers.json`): `total_size` in whole CONTRACTS
        (open interest / mark / `quanto_multiplier`), so reading it as coins is off by the multiplier."""
        rows = []
        for contract in CONTRACTS:
            asset = contract["name"].removesuffix("_USDT")
            mark = TICKER_MARK[asset]
            contracts = round(self.open_interest_usd().get(asset, 1e6) / mark / float(contract["quanto_multiplier"]))
            rows.append(
                {
                    "contract": contract["name"],
                    "last": _s(mark),
                    "change_percentage": "1.2",
                    "total_size": str(contracts),
                    "volume_24h": str(contracts * 3),
                    "volume_24h_quote": _s(contracts * 3 * float(contract["quanto_multiplier"]) * mark),
                    "mark_price": _s(mark),
                    "funding_rate": "0.0001",
                    "index_price": _s(mark * 0.9999),
                }
            )
        return rows

    def _candles(self, asset: str, p: dict[str, str]) -> tuple[int, Any]:
        interval = p.get("interval", "5m")
        if interval not in CANDLE_SECONDS:
            return _error(400, "INVALID_PARAM_VALUE", f"invalid interval {interval}")
        if "limit" in p and ("from" in p or "to" in p):
            return _error(400, "INVALID_PARAM_VALUE", "limit cannot be used with from or to")
        step, now = CANDLE_SECONDS[interval], int(time.time())
        to = int(p.get("to", now))
        start = int(p.get("from", to - int(p.get("limit", 100)) * step))
        if (to - start) // step + 1 > 2000:
            return _error(
                400,
                "INVALID_PARAM_VALUE",
                "Candlestick range too broad. Maximum 2000 data points are allowed per request",
            )
        if start < now - 10_000 * step:
            return _error(400, "INVALID_PARAM_VALUE", "Candlestick too long ago. Maximum 10000 points ago are allowed")
        if interval not in ("1m", "5m", "15m", "30m", "1h", "4h", "1d"):
            return 200, []
        frame = self.market.frame("candles", asset, "binance", start * 1000, (to + 1) * 1000, interval)
        quanto = float(QUANTO[asset])
        rows = [
            {
                "t": int(r.ms) // 1000,
                "v": round(r.volume / quanto),
                "c": _s(r.close),
                "h": _s(r.high),
                "l": _s(r.low),
                "o": _s(r.open),
                "sum": _s(r.quote_volume),
            }
            for r in frame.itertuples()
        ]
        return 200, rows

    def stats_table(self, asset: str, interval: str) -> pd.DataFrame:
        """Every `contract_stats` row of the demo period for one contract and bucket, ascending (cached)."""
        key = (asset, interval)
        with self._lock:
            cached = self._stats.get(key)
        if cached is not None:
            return cached
        start, end = 0, 2**62
        oi = self.market.frame("open_interest", asset, "binance", start, end, interval)[["ts", "ms", "usd"]]
        closes = self.market.frame("candles", asset, "binance", start, end, interval)[["ts", "close"]]
        table = pd.merge_asof(oi, closes, on="ts", direction="backward").bfill()
        ratios = self.market.frame("ratios", asset, "binance", start, end, interval)
        table = table.merge(ratios.pivot_table(index="ms", columns="kind", values="ratio").reset_index(), on="ms")
        events = self.market.frame("liquidations", asset, "binance", start, end, "1m")
        bucket = events["ms"] // (STATS_SECONDS[interval] * 1000) * (STATS_SECONDS[interval] * 1000)
        sums = events.groupby([bucket, "side"])[["qty", "usd"]].sum().unstack("side", fill_value=0.0)
        sums.columns = [f"{side}_{what}" for what, side in sums.columns]
        table = table.merge(sums, left_on="ms", right_index=True, how="left").fillna(0.0)
        with self._lock:
            return self._stats.setdefault(key, table)

    def _stats_rows(self, asset: str, p: dict[str, str]) -> tuple[int, Any]:
        interval, limit = p.get("interval", "5m"), int(p.get("limit", 30))
        if interval not in STATS_SECONDS or not 1 <= limit <= 2000:
            return _error(400, "INVALID_PARAM_VALUE", "invalid interval or limit")
        table = self.stats_table(asset, interval)
        table = table[table["ms"] < time.time() * 1000]
        if "from" in p:  # `to` is ignored once `from` is set; a page runs one row past `limit`
            table = table[table["ms"] >= int(p["from"]) * 1000]
            page = table.iloc[: limit + 1] if self.stats_fill == "start" else table.iloc[-(limit + 1) :]
        else:
            page = table.iloc[-limit:]
        quanto = float(QUANTO[asset])
        rows = []
        for r in page.itertuples():
            row = {"time": int(r.ms) // 1000, "lsr_taker": r.taker, "lsr_account": r.accounts}
            for side in ("long", "short"):
                qty, usd = getattr(r, f"{side}_qty", 0.0), getattr(r, f"{side}_usd", 0.0)
                row |= {f"{side}_liq_size": round(qty / quanto), f"{side}_liq_amount": qty, f"{side}_liq_usd": usd}
                row[f"{side}_liq_usd_new"] = usd * 1.01  # size x multiplier x MARK price: not the fills
            row |= {
                "open_interest": round(r.usd / r.close / quanto),
                "open_interest_usd": r.usd,
                "top_lsr_account": r.top_accounts,
                "top_lsr_size": r.top_positions,
                "mark_price": _s(r.close),
            }
            rows.append(row)
        return 200, rows

    def _funding(self, asset: str, p: dict[str, str]) -> tuple[int, Any]:
        limit = int(p.get("limit", 100))
        if not 1 <= limit <= 1000:
            return _error(400, "INVALID_PARAM_VALUE", "limit must be between 1 and 1000")
        start, end = int(p.get("from", 0)) * 1000, (int(p.get("to", time.time())) + 1) * 1000
        frame = self.market.frame("funding", asset, "binance", start, end, "1h")
        page = frame.iloc[-limit:] if self.funding_fill == "end" else frame.iloc[:limit]
        return 200, [{"t": int(r.ms) // 1000, "r": _s(r.rate)} for r in page.iloc[::-1].itertuples()]


def _handler(rest: FakeGateRest) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *_: object) -> None:
            return

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            try:
                status, body = rest.answer(parts.path, params)
            except Exception as error:  # a bug in the fake must be visible, not a hang
                status, body = 500, {"label": "SERVER_ERROR", "message": repr(error)}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@dataclass
class FakeGateStream:
    """Gate's futures WebSocket: what it received, and what it pushes after acking the subscription."""

    script: list[str] = field(default_factory=list)
    interval: float = 0.0
    refuse: str | None = None
    answer_pings: bool = True
    connections: int = 0
    pings: int = 0
    subscribed: list[dict] = field(default_factory=list)

    def process_request(self, connection: websockets.ServerConnection, request: Any) -> Any:
        """404 for any path but `/v4/ws/usdt`."""
        return None if request.path == WS_PATH else connection.respond(404, "Not Found\n")

    def _answer(self, request: dict, error: tuple[int, str] | None) -> str:
        now = time.time()
        base = {"time": int(now), "time_ms": int(now * 1000), "channel": request.get("channel"), "event": "subscribe"}
        if error is not None:
            return json.dumps({**base, "error": {"code": error[0], "message": error[1]}, "result": None})
        return json.dumps({**base, "error": None, "result": {"status": "success"}})

    async def handler(self, socket: websockets.ServerConnection) -> None:
        self.connections += 1
        pushing: asyncio.Task | None = None
        try:
            async for raw in socket:
                request = json.loads(raw)
                if request.get("channel") == "futures.ping":
                    self.pings += 1
                    if self.answer_pings:
                        now = time.time()
                        pong = {"time": int(now), "time_ms": int(now * 1000), "channel": "futures.pong"}
                        await socket.send(json.dumps({**pong, "event": "", "result": None}))
                    continue
                self.subscribed.append(request)
                error = self._check(request)
                await socket.send(self._answer(request, error))
                if error is None and pushing is None:
                    pushing = asyncio.create_task(self._push(socket))
        except websockets.ConnectionClosed:
            return
        finally:
            if pushing is not None:
                pushing.cancel()

    def _check(self, request: dict) -> tuple[int, str] | None:
        """Gate's error (code, message) for a subscribe request, or None to ack it."""
        if self.refuse is not None:
            return 2, self.refuse
        sent = request.get("time")
        if not isinstance(sent, int) or abs(sent - time.time()) > 60:
            return 1, "invalid argument struct"
        payload = request.get("payload")
        if request.get("channel") != CHANNEL or request.get("event") != "subscribe" or payload != ["!all"]:
            return 2, "invalid argument"
        return None

    async def _push(self, socket: websockets.ServerConnection) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            for raw in self.script:
                await socket.send(raw)
                if self.interval:
                    await asyncio.sleep(self.interval)


class FakeGate:
    """REST on `url` and the WebSocket on `ws_url`, served from background threads."""

    def __init__(self, stream: FakeGateStream | None = None) -> None:
        self.rest = FakeGateRest()
        self.stream = stream or FakeGateStream()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.rest))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.ws_url = ""
        self.loop = asyncio.new_event_loop()
        self.threads = [
            threading.Thread(target=self.server.serve_forever, daemon=True),
            threading.Thread(target=self.loop.run_forever, daemon=True),
        ]
        self._ws: Any = None

    def __enter__(self) -> FakeGate:
        for thread in self.threads:
            thread.start()

        async def serve() -> Any:
            return await websockets.serve(
                self.stream.handler, "127.0.0.1", 0, process_request=self.stream.process_request
            )

        self._ws = asyncio.run_coroutine_threadsafe(serve(), self.loop).result(timeout=10)
        self.ws_url = f"ws://127.0.0.1:{next(iter(self._ws.sockets)).getsockname()[1]}{WS_PATH}"
        return self

    def __exit__(self, *_: object) -> None:
        async def close() -> None:
            self._ws.close()
            await self._ws.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.server.shutdown()
        self.server.server_close()
        for thread in self.threads:
            thread.join(timeout=5)
