"""Bybit v5 (linear USDT perpetuals): candles, account long/short ratio, open interest, funding.

Bybit wraps everything in `{"retCode": 0, "result": {...}}` (errors are
`retCode != 0`, often with HTTP 200), sorts newest-first, and reports linear
open interest in coins, so it is valued with the candle close of the same period.
Candles and funding are asked for in windows that fit one page (`paging.Series`:
which end of an over-full range a page holds is not documented); ratios and open
interest follow `nextPageCursor`, the documented way, checked to run to its end. A coin is
read through its listed perpetual (`resolve`): `1000PEPEUSDT` and `SHIB1000USDT` quote per
1,000 coins and size in thousands, converted into USD per one coin and coins.

SIDE CONVENTION (stream `allLiquidation.{symbol}`, `BybitStream`): `S` is the POSITION side, so Buy = a long
was liquidated (the opposite of Binance; exchange-apis.md §3.4). `v` is in base units. Every liquidation is
pushed. One topic per symbol, split across connections of at most 21,000 characters of args, subscribed in
requests of `BATCH` topics whose `req_id` the ack or refusal echoes. Symbols: `symbol(asset)` BTC -> BTCUSDT;
listing `GET /v5/market/instruments-info?category=linear&limit=1000`, following `nextPageCursor` until it is
empty, kept: `LinearPerpetual` quoted in USDT or USDC; prices and sizes per `baseCoin` unit (`SHIB1000`: per
1,000 SHIB). Bybit lists only `Trading` symbols unless asked otherwise.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd
import requests

from data_sources import decode
from data_sources.base import Instrument, NoCoverage, Query, from_ms, ms
from data_sources.budgets import REF, Budget
from data_sources.http import BadPayload, GeoBlocked, RateLimited, UnknownSymbol, Upstream, UpstreamError, json_body
from data_sources.instruments import STABLE_QUOTES, parsed, split_base
from data_sources.intervals import INTERVAL_SECONDS
from data_sources.paging import Series
from data_sources.schema import Dataset, conform
from data_sources.streams import Reading, Request, StreamProtocol, refusal
from data_sources.tickers import Tickers, usd_per_coin
from data_sources.units import per_coin

NAME = "Bybit"
KLINE = "/v5/market/kline"
ACCOUNT_RATIO = "/v5/market/account-ratio"
OPEN_INTEREST = "/v5/market/open-interest"
FUNDING = "/v5/market/funding/history"
INTERVALS = {"1m": "1", "5m": "5", "15m": "15", "30m": "30", "1h": "60", "2h": "120", "4h": "240", "1d": "D"}
PERIODS = {"1m": "5min", "5m": "5min", "15m": "15min", "30m": "30min", "1h": "1h", "2h": "1h", "4h": "4h", "1d": "1d"}
PERIOD_SECONDS = {"5min": 300, "15min": 900, "30min": 1800, "1h": 3600, "4h": 14400, "1d": 86400}
KLINE_LIMIT, RATIO_LIMIT, OI_LIMIT, FUNDING_LIMIT = 1000, 500, 200, 200
FUNDING_STEP_MS = 3_600_000  # the shortest funding interval Bybit uses (1 h), so a funding window always fits
ERRORS = {10006: RateLimited, 10018: RateLimited, 10009: GeoBlocked}


def symbol(asset: str) -> str:
    """BTC -> BTCUSDT."""
    return f"{asset}USDT"


def plain(asset: str) -> Instrument:
    """The coin's plain USDT perpetual (BTC -> BTCUSDT, per one coin): the reading when no listing is at hand."""
    return Instrument("bybit", symbol(asset), asset, "linear", "USDT", 1.0, 1.0, "trading")


def result(raw: Any, what: str) -> dict:
    """The `result` of a Bybit envelope; `retCode != 0` becomes a typed error."""
    if not isinstance(raw, dict) or "retCode" not in raw:
        raise BadPayload(f"{NAME} sent an unexpected answer for {what} (no retCode/result envelope).")
    code = raw["retCode"]
    if code != 0:
        message = raw.get("retMsg") or "no message"
        if code == 10001 and "symbol" in message.lower():
            raise UnknownSymbol(f"{NAME} does not list this symbol ({message}).")
        raise ERRORS.get(code, UpstreamError)(f"{NAME} error {code} for {what}: {message}.")
    body = raw.get("result")
    if not isinstance(body, dict) or not isinstance(body.get("list"), list):
        raise BadPayload(f"{NAME} sent no result list for {what}.")
    return body


def parse_klines(rows: list[list[str]], asset: str, multiplier: float = 1.0) -> pd.DataFrame:
    """Rows [startTime, o, h, l, c, volume(base units), turnover(USDT)], newest first; a base of `multiplier`
    coins (`1000PEPE`, `SHIB1000`) gives prices / multiplier and volume x multiplier."""
    frame = pd.DataFrame(
        [r[:7] for r in rows], columns=["ts", "open", "high", "low", "close", "volume", "quote_volume"]
    )
    frame["ts"] = from_ms(frame["ts"])
    frame["exchange"], frame["asset"] = "bybit", asset
    return conform("candles", per_coin(frame, multiplier))


def parse_account_ratio(rows: list[dict], asset: str) -> pd.DataFrame:
    """`buyRatio`/`sellRatio` are the shares of accounts long and short."""
    frame = pd.DataFrame(rows, columns=["timestamp", "buyRatio", "sellRatio"])
    frame["ts"] = from_ms(frame["timestamp"])
    frame["long_share"] = pd.to_numeric(frame["buyRatio"])
    frame["short_share"] = pd.to_numeric(frame["sellRatio"])
    frame["ratio"] = frame["long_share"] / frame["short_share"]
    frame["exchange"], frame["asset"], frame["kind"] = "bybit", asset, "accounts"
    return conform("ratios", frame)


def parse_open_interest(rows: list[dict], asset: str, closes: pd.DataFrame, multiplier: float = 1.0) -> pd.DataFrame:
    """`openInterest` is in base units for linear contracts (x `multiplier` = coins): x the latest close (USD per
    coin) at or before each row."""
    frame = pd.DataFrame(rows, columns=["timestamp", "openInterest"])
    frame["ts"] = from_ms(frame["timestamp"])
    frame = frame.sort_values("ts")
    priced = pd.merge_asof(frame, closes[["ts", "close"]].sort_values("ts"), on="ts", direction="backward")
    priced["usd"] = pd.to_numeric(priced["openInterest"]) * multiplier * priced["close"]
    priced["exchange"], priced["asset"] = "bybit", asset
    return conform("open_interest", priced.dropna(subset=["usd"]))


def parse_funding(rows: list[dict], asset: str) -> pd.DataFrame:
    """`fundingRate` per period at `fundingRateTimestamp`."""
    frame = pd.DataFrame(rows, columns=["fundingRateTimestamp", "fundingRate"])
    frame["ts"] = from_ms(frame["fundingRateTimestamp"])
    frame["rate"] = pd.to_numeric(frame["fundingRate"])
    frame["exchange"], frame["asset"] = "bybit", asset
    return conform("funding", frame)


def classify(response: requests.Response) -> UpstreamError | None:
    """Bybit's 403 is a CloudFront page for US IPs and for >600 requests per 5 s."""
    if response.status_code == 403 and json_body(response) is None:
        return GeoBlocked(
            f"{NAME} refused this server (HTTP 403): US locations are blocked, and more than 600 requests "
            "in 5 s also earns a 403 for 10 minutes. Set LIQSCOPE_BYBIT_URL to a reachable endpoint or proxy."
        )
    return None


def _first(row: list) -> str:
    """The epoch-ms start time of a kline row."""
    return row[0]


class BybitAdapter:
    """Bybit linear perpetuals behind the source interface's `fetch`."""

    def __init__(
        self,
        base_url: str,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        resolve: Callable[[str], Instrument] = plain,
    ) -> None:
        self.clock = clock
        self.resolve = resolve
        self.upstream = Upstream(NAME, base_url, "LIQSCOPE_BYBIT_URL", timeout, classify=classify)

    def _series(self, params: dict, keys: tuple[str, str], step_ms: int, limit: int, ts_of: Callable) -> Series:
        """Windows of one series; `keys` name the inclusive (start, end) parameters."""
        start_key, end_key = keys

        def ask(path: str, lo: int, hi: int) -> list:
            query = {**params, start_key: lo, end_key: hi - 1, "limit": limit}
            return result(self.upstream.get_json(path, query), path)["list"]

        return Series(NAME, ask, ts_of, step_ms, limit)

    def _by_cursor(self, path: str, params: dict, span: tuple[int, int], step_ms: int, limit: int) -> list:
        """Every row of [start, end) by following `nextPageCursor` until it is empty, one row per timestamp.

        The chain must end: a cursor sent twice, or more pages than the window's
        periods fill, raises BadPayload instead of keeping a partial answer.
        """
        start, end = span
        rows: dict[int, dict] = {}
        seen: set[str] = set()
        cursor = ""
        for _ in range(-(-(end - start) // (step_ms * limit)) + 1):
            query = {**params, "startTime": start, "endTime": end - 1, "limit": limit}
            if cursor:
                query["cursor"] = cursor
            body = result(self.upstream.get_json(path, query), path)
            for row in body["list"]:
                if start <= int(row["timestamp"]) < end:
                    rows.setdefault(int(row["timestamp"]), row)
            cursor = body.get("nextPageCursor") or ""
            if not cursor or not body["list"]:
                return [rows[ts] for ts in sorted(rows)]
            if cursor in seen:
                raise BadPayload(f"{NAME} sent the same page cursor twice for {path}; its answer was not used.")
            seen.add(cursor)
        raise BadPayload(
            f"{NAME} kept sending page cursors for {path} beyond the pages the window holds; its answer was not used."
        )

    def _candles(self, query: Query, instrument: Instrument) -> pd.DataFrame:
        params = {"category": "linear", "symbol": instrument.symbol, "interval": INTERVALS[query.interval]}
        series = self._series(params, ("start", "end"), INTERVAL_SECONDS[query.interval] * 1000, KLINE_LIMIT, _first)
        rows = series.gather([KLINE], ms(query.start), ms(query.end))[KLINE]
        return parse_klines(rows, query.asset, instrument.multiplier)

    def fetch(self, dataset: Dataset, query: Query) -> pd.DataFrame:
        """The normalized frame for one asset; raises a typed SourceError (NoCoverage when it is not listed)."""
        instrument = self.resolve(query.asset)
        sym = instrument.symbol
        start, end = ms(query.start), ms(query.end)
        if dataset == "candles":
            return self._candles(query, instrument)
        if dataset in ("ratios", "open_interest"):
            period = PERIODS[query.interval]
            step = PERIOD_SECONDS[period] * 1000
            if dataset == "ratios":
                params = {"category": "linear", "symbol": sym, "period": period}
                rows = self._by_cursor(ACCOUNT_RATIO, params, (start, end), step, RATIO_LIMIT)
                return parse_account_ratio(rows, query.asset)
            params = {"category": "linear", "symbol": sym, "intervalTime": period}
            rows = self._by_cursor(OPEN_INTEREST, params, (start, end), step, OI_LIMIT)
            return parse_open_interest(rows, query.asset, self._candles(query, instrument), instrument.multiplier)
        if dataset == "funding":
            series = self._series(
                {"category": "linear", "symbol": sym},
                ("startTime", "endTime"),
                FUNDING_STEP_MS,
                FUNDING_LIMIT,
                lambda r: r["fundingRateTimestamp"],
            )
            return parse_funding(series.gather([FUNDING], start, end)[FUNDING], query.asset)
        raise NoCoverage(
            f"{NAME} publishes no liquidation history over REST (only a live stream); "
            "its liquidations appear once the recorder has captured them."
        )


# ---------------------------------------------------------------- venue registry interface (`venues/__init__.py`)

ID = "bybit"
URL_SETTING = "LIQSCOPE_BYBIT_URL"
DEFAULT_URL = "https://api.bybit.com"
WS_SETTING = "LIQSCOPE_BYBIT_WS"
DEFAULT_WS = "wss://stream.bybit.com/v5/public/linear"
PROBE = "/v5/market/time"  # server time: the cheapest request that proves the host answers
LIQUIDATION_HISTORY: pd.Timedelta | None = None
LIQUIDATION_NOTE: str | None = None
LOWER_BOUND: str | None = None


def parse_tickers(raw: Any, listing: Mapping[str, Instrument]) -> dict[str, float]:
    """`GET /v5/market/tickers?category=linear` -> open interest per coin, USD (`openInterestValue`)."""
    return usd_per_coin(result(raw, "tickers")["list"], listing, "symbol", "openInterestValue")


TICKERS = Tickers(
    "open interest", lambda upstream: upstream.get_json("/v5/market/tickers", {"category": "linear"}), parse_tickers
)


def probe(upstream: Upstream) -> None:
    """Ask the venue's server time; raises a typed SourceError when it does not answer."""
    upstream.get_json(PROBE, {})


def adapter(base_url: str, timeout: float, resolve: Callable[[str], Instrument]) -> BybitAdapter:
    """The REST adapter the live source uses (coins read through `resolve`: the listing)."""
    return BybitAdapter(base_url, timeout, resolve=resolve)


# ---------------------------------------------------------------- budgets

BUDGETS: tuple[Budget, ...] = (
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
)


# ---------------------------------------------------------------- listing

LISTING = "/v5/market/instruments-info"
LISTING_PAGE_LIMIT = 1000
LISTING_MAX_PAGES = 20
STATUSES: dict[str, str] = {"Trading": "trading", "PreLaunch": "pending", "Delivering": "settling", "Closed": "closed"}


def parse_listing(rows: list[dict]) -> list[Instrument]:
    """`result.list` rows of `GET /v5/market/instruments-info?category=linear` (all pages) -> USDT/USDC
    perpetuals; sizes in `baseCoin` units (`SHIB1000`: thousands of SHIB)."""

    def parse(row: dict) -> Instrument | None:
        if row["contractType"] != "LinearPerpetual" or row["quoteCoin"] not in STABLE_QUOTES:
            return None
        asset, multiplier = split_base(row["baseCoin"])
        status = STATUSES.get(row["status"], row["status"].lower())
        return Instrument("bybit", row["symbol"], asset, "linear", row["quoteCoin"], multiplier, multiplier, status)

    return parsed("bybit", rows, parse)


def fetch_listing(upstream: Upstream) -> list[Instrument]:
    """Bybit's linear listing, following `nextPageCursor` (sent back verbatim) until it is empty."""
    rows: list[dict] = []
    cursor = ""
    for _ in range(LISTING_MAX_PAGES):
        params: dict[str, Any] = {"category": "linear", "limit": LISTING_PAGE_LIMIT}
        if cursor:
            params["cursor"] = cursor
        body = result(upstream.get_json(LISTING, params), "instruments-info")
        rows += body["list"]
        cursor = body.get("nextPageCursor") or ""
        if not cursor or not body["list"]:
            return parse_listing(rows)
    raise BadPayload(f"{NAME} kept paging instruments-info past {LISTING_MAX_PAGES} pages; try again later.")


# ---------------------------------------------------------------- stream

ARGS_CHARS = 21_000  # public subscribe args per connection, in characters (exchange-apis.md §3.4)
BATCH = 10  # topics per subscribe request


class BybitStream(StreamProtocol):
    """`wss://stream.bybit.com/v5/public/linear`, one `allLiquidation.{symbol}` topic per trading symbol,
    split into connections of at most `args_limit` characters of args and requests of `batch` topics.

    `shards` only grow (a new listing joins the last connection, or opens a new one when it is
    full), so a live connection is never asked to give a topic up.
    """

    def __init__(
        self,
        url: str,
        instruments: Iterable[Instrument],
        assets: frozenset[str] | None = None,
        heartbeat: float = 20.0,
        silence: float = 30.0,
        args_limit: int = ARGS_CHARS,
        batch: int = BATCH,
    ) -> None:
        super().__init__("bybit", url, assets, json.dumps({"op": "ping"}), heartbeat, silence)
        self.args_limit, self.batch = args_limit, batch
        self.shards: list[list[str]] = []
        self.update(instruments)

    def update(self, instruments: Iterable[Instrument]) -> None:
        """Replace the snapshot; every tracked trading symbol not yet subscribed gets a topic."""
        super().update(instruments)
        subscribed = {topic for shard in self.shards for topic in shard}
        for symbol in sorted(self.instruments):
            instrument = self.instruments[symbol]
            topic = f"allLiquidation.{symbol}"
            if instrument.trading and self.tracked(instrument) and topic not in subscribed:
                if not self.shards or len(json.dumps([*self.shards[-1], topic])) > self.args_limit:
                    self.shards.append([])
                self.shards[-1].append(topic)

    def recorded(self) -> int:
        """How many topics are subscribed (or will be, on a connection being opened)."""
        return sum(len(shard) for shard in self.shards)

    def connections(self) -> int:
        """One connection per shard of topics."""
        return len(self.shards)

    def requests(self, connection: int, done: int) -> tuple[list[Request], int]:
        """`{"op":"subscribe","req_id","args":[...]}` for the topics of `connection` after the first `done`."""
        topics = self.shards[connection]
        requests = []
        for start in range(done, len(topics), self.batch):
            request_id = f"{connection}.{start}"
            args = topics[start : start + self.batch]
            requests.append((request_id, json.dumps({"op": "subscribe", "req_id": request_id, "args": args})))
        return requests, len(topics)

    def read(self, raw: str) -> Reading:
        """`{"topic":"allLiquidation.X","data":[{T,s,S,v,p}]}` (S=Buy: a long was liquidated); op answers."""
        message = decode.obj(decode.load(raw), "message")
        op = message.get("op")
        if op == "subscribe":
            request = message.get("req_id") or None
            request = request if isinstance(request, str) else None
            if message.get("success") is True:
                return Reading(confirmed=True, request=request)
            return Reading(refused=refusal(message.get("ret_msg")), request=request)
        if op in ("ping", "pong"):  # `{"success":true,"ret_msg":"pong","op":"ping"}` or `{"op":"pong"}`
            return Reading()
        topic = decode.text(message, "topic")
        if not topic.startswith("allLiquidation."):
            return Reading()
        events, unknown = [], []
        for item in decode.rows(message.get("data"), "data"):
            symbol = decode.text(item, "s", "data[].")
            side = "long" if decode.choice(item, "S", ("Buy", "Sell"), "data[].") == "Buy" else "short"
            ts = decode.epoch_ms(item, "T", "data[].")
            price, size = decode.positive(item, "p", "data[]."), decode.positive(item, "v", "data[].")
            if event := self._event(symbol, ts, side, price, size, unknown):
                events.append(event)
        return Reading(events, confirmed=True, unknown=tuple(unknown))


STREAM = BybitStream
