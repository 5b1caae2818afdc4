"""Binance USD-M futures (fapi): candles, four long/short ratio kinds, open interest, funding.

Request building lives in `BinanceAdapter`; parsing is a pure function of each
endpoint's raw payload. Rows come ascending, but an over-full range is not filled
the same way everywhere (klines and fundingRate from `startTime`, `/futures/data/*`
from the END), so every series is asked for in windows that fit one page
(`paging.Series`). Ratios and open interest exist for the last 30 days only; it
publishes no liquidation history over REST. A coin is read through its listed perpetual
(`resolve`, from the instrument listing): `1000PEPEUSDT` quotes per 1,000 PEPE, so its candles
are divided (prices) and multiplied (volume) by 1,000 into the schema's units.

SIDE CONVENTION (stream `!forceOrder@arr`, `BinanceStream`): `S` is the liquidation ORDER side, so SELL = a
long was liquidated, BUY = a short (exchange-apis.md §1.5). At most one event per symbol per second: totals
are a lower bound. Symbols: `symbol(asset)` BTC -> BTCUSDT; listing `GET /fapi/v1/exchangeInfo` ->
`symbols[]`, kept: `contractType == "PERPETUAL"` quoted in USDT or USDC; prices per one `baseAsset` and sizes
in `baseAsset` units, so a `1000PEPE` base means "per 1,000 PEPE" and "thousands of PEPE".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd
import requests

from data_sources import decode
from data_sources.base import Instrument, NoCoverage, Query, from_ms, ms
from data_sources.budgets import REF, Budget, Params
from data_sources.decode import Malformed
from data_sources.http import BadPayload, UnknownSymbol, Upstream, UpstreamError, json_body
from data_sources.instruments import STABLE_QUOTES, parsed, split_base
from data_sources.intervals import INTERVAL_SECONDS
from data_sources.paging import Series
from data_sources.schema import Dataset, conform, empty
from data_sources.streams import Reading, StreamProtocol, refusal
from data_sources.tickers import Tickers, usd_per_coin
from data_sources.units import per_coin

NAME = "Binance"
LISTING = "/fapi/v1/exchangeInfo"
KLINES = "/fapi/v1/klines"
FUNDING = "/fapi/v1/fundingRate"
OPEN_INTEREST = "/futures/data/openInterestHist"
RATIO_PATHS = {
    "accounts": "/futures/data/globalLongShortAccountRatio",
    "top_accounts": "/futures/data/topLongShortAccountRatio",
    "top_positions": "/futures/data/topLongShortPositionRatio",
    "taker": "/futures/data/takerlongshortRatio",
}
PERIODS = {"1m": "5m", "5m": "5m", "15m": "15m", "30m": "30m", "1h": "1h", "2h": "2h", "4h": "4h", "1d": "1d"}
KLINE_LIMIT, DATA_LIMIT, FUNDING_LIMIT = 1500, 500, 1000
FUNDING_STEP_MS = 3_600_000  # the shortest funding interval Binance uses (1 h), so a funding window always fits
HISTORY = pd.Timedelta(days=30)


def symbol(asset: str) -> str:
    """BTC -> BTCUSDT."""
    return f"{asset}USDT"


def plain(asset: str) -> Instrument:
    """The coin's plain USDT perpetual (BTC -> BTCUSDT, per one coin): the reading when no listing is at hand."""
    return Instrument("binance", symbol(asset), asset, "linear", "USDT", 1.0, 1.0, "trading")


def _rows(raw: Any, what: str) -> list:
    if not isinstance(raw, list):
        raise BadPayload(f"{NAME} sent an unexpected answer for {what} (expected a list).")
    return raw


def _frame(raw: list[dict], asset: str, ts_key: str) -> pd.DataFrame:
    frame = pd.DataFrame(raw)
    frame["ts"] = from_ms(frame[ts_key])
    frame["exchange"] = "binance"
    frame["asset"] = asset
    return frame


def parse_klines(raw: Any, asset: str, multiplier: float = 1.0) -> pd.DataFrame:
    """`/fapi/v1/klines` rows [openTime, o, h, l, c, volume(base units), closeTime, quoteVolume, ...]; a base of
    `multiplier` coins (1000 for `1000PEPE`) gives prices / multiplier and volume x multiplier."""
    rows = _rows(raw, "candles")
    frame = pd.DataFrame(
        [r[:8] for r in rows],
        columns=["ts", "open", "high", "low", "close", "volume", "close_time", "quote_volume"],
    )
    frame["ts"] = from_ms(frame["ts"])
    frame["exchange"] = "binance"
    frame["asset"] = asset
    return conform("candles", per_coin(frame, multiplier))


def parse_ratios(raw: Any, asset: str, kind: str) -> pd.DataFrame:
    """A `/futures/data/*Ratio` list; `timestamp` may be a string or a number.

    Account/position kinds carry longAccount/shortAccount shares; the taker kind
    carries buyVol/sellVol, whose shares of their sum are its long/short shares.
    """
    rows = _rows(raw, f"{kind} ratios")
    if not rows:
        return empty("ratios")
    frame = _frame(rows, asset, "timestamp")
    if kind == "taker":
        buy, sell = pd.to_numeric(frame["buyVol"]), pd.to_numeric(frame["sellVol"])
        frame["long_share"] = buy / (buy + sell)
    else:
        frame["long_share"] = pd.to_numeric(frame["longAccount"])
    frame["short_share"] = 1 - frame["long_share"]
    frame["ratio"] = frame["long_share"] / frame["short_share"]
    frame["kind"] = kind
    return conform("ratios", frame)


def parse_open_interest(raw: Any, asset: str) -> pd.DataFrame:
    """`openInterestHist`: `sumOpenInterestValue` is already USD."""
    rows = _rows(raw, "open interest")
    if not rows:
        return empty("open_interest")
    frame = _frame(rows, asset, "timestamp")
    frame["usd"] = pd.to_numeric(frame["sumOpenInterestValue"])
    return conform("open_interest", frame)


def parse_funding(raw: Any, asset: str) -> pd.DataFrame:
    """`/fapi/v1/fundingRate`: `fundingRate` is a fraction per funding period."""
    rows = _rows(raw, "funding")
    if not rows:
        return empty("funding")
    frame = _frame(rows, asset, "fundingTime")
    frame["rate"] = pd.to_numeric(frame["fundingRate"])
    return conform("funding", frame)


def classify(response: requests.Response) -> UpstreamError | None:
    """Binance 4xx bodies `{"code": -1121, "msg": "Invalid symbol."}` -> typed errors."""
    body = json_body(response)
    if isinstance(body, dict) and body.get("code") == -1121:
        return UnknownSymbol(f"{NAME} does not list this symbol ({body.get('msg')}).")
    return None


class BinanceAdapter:
    """Binance USD-M behind the source interface's `fetch`."""

    def __init__(
        self,
        base_url: str,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        resolve: Callable[[str], Instrument] = plain,
    ) -> None:
        self.clock = clock
        self.resolve = resolve
        self.upstream = Upstream(NAME, base_url, "LIQSCOPE_BINANCE_URL", timeout, classify=classify)

    def _series(self, params: dict, step_ms: int, limit: int, ts_of: Callable[[Any], Any]) -> Series:
        """Windows of one series; Binance's `startTime`/`endTime` are both inclusive."""

        def ask(path: str, lo: int, hi: int) -> list:
            query = {**params, "startTime": lo, "endTime": hi - 1, "limit": limit}
            return _rows(self.upstream.get_json(path, query), path)

        return Series(NAME, ask, ts_of, step_ms, limit)

    def _history_window(self, query: Query, what: str) -> tuple[int, int]:
        earliest = pd.Timestamp(self.clock(), unit="s", tz="UTC") - HISTORY
        if query.end <= earliest:
            raise NoCoverage(f"{NAME} keeps {what} history for 30 days only (since {earliest:%Y-%m-%d}).")
        return ms(max(query.start, earliest)), ms(query.end)

    def fetch(self, dataset: Dataset, query: Query) -> pd.DataFrame:
        """The normalized frame for one asset; raises a typed SourceError (NoCoverage when it is not listed)."""
        instrument = self.resolve(query.asset)
        sym = instrument.symbol
        if dataset == "candles":
            step = INTERVAL_SECONDS[query.interval] * 1000
            series = self._series({"symbol": sym, "interval": query.interval}, step, KLINE_LIMIT, lambda r: r[0])
            rows = series.gather([KLINES], ms(query.start), ms(query.end))[KLINES]
            return parse_klines(rows, query.asset, instrument.multiplier)
        if dataset in ("ratios", "open_interest"):
            what = "long/short" if dataset == "ratios" else "open-interest"
            start, end = self._history_window(query, what)
            period = PERIODS[query.interval]
            series = self._series(
                {"symbol": sym, "period": period}, INTERVAL_SECONDS[period] * 1000, DATA_LIMIT, lambda r: r["timestamp"]
            )
            if dataset == "open_interest":
                return parse_open_interest(series.gather([OPEN_INTEREST], start, end)[OPEN_INTEREST], query.asset)
            rows = series.gather(RATIO_PATHS.values(), start, end)
            frames = [parse_ratios(rows[path], query.asset, kind) for kind, path in RATIO_PATHS.items()]
            return conform("ratios", pd.concat(frames, ignore_index=True))
        if dataset == "funding":
            series = self._series({"symbol": sym}, FUNDING_STEP_MS, FUNDING_LIMIT, lambda r: r["fundingTime"])
            rows = series.gather([FUNDING], ms(query.start), ms(query.end))[FUNDING]
            return parse_funding(rows, query.asset)
        raise NoCoverage(
            f"{NAME} publishes no liquidation history over REST (only a live stream); "
            "its liquidations appear once the recorder has captured them."
        )


# ---------------------------------------------------------------- venue registry interface (`venues/__init__.py`)

ID = "binance"
URL_SETTING = "LIQSCOPE_BINANCE_URL"
DEFAULT_URL = "https://fapi.binance.com"
WS_SETTING = "LIQSCOPE_BINANCE_WS"
DEFAULT_WS = "wss://fstream.binance.com/market"
PROBE = "/fapi/v1/time"  # server time: the cheapest request that proves the host answers
LIQUIDATION_HISTORY: pd.Timedelta | None = None
LIQUIDATION_NOTE: str | None = None
LOWER_BOUND: str | None = "at most 1 event per symbol per second"

# How far back the venue serves each series (the collector's backfill starts no earlier).
SERIES_HISTORY: dict[str, pd.Timedelta] = {"ratios": HISTORY, "open_interest": HISTORY}


def parse_tickers(raw: Any, listing: Mapping[str, Instrument]) -> dict[str, float]:
    """`GET /fapi/v1/ticker/24hr` (weight 40) -> USDT volume per coin (`quoteVolume`): Binance has no all-symbol
    open-interest endpoint (`/fapi/v1/openInterest` takes one symbol), so this is a proxy for open interest."""
    if not isinstance(raw, list):
        raise BadPayload("Binance sent an unexpected answer for ticker/24hr (expected a list).")
    return usd_per_coin(raw, listing, "symbol", "quoteVolume")


TICKERS = Tickers("24 h volume", lambda upstream: upstream.get_json("/fapi/v1/ticker/24hr", {}), parse_tickers)


def probe(upstream: Upstream) -> None:
    """Ask the venue's server time; raises a typed SourceError when it does not answer."""
    upstream.get_json(PROBE, {})


def adapter(base_url: str, timeout: float, resolve: Callable[[str], Instrument]) -> BinanceAdapter:
    """The REST adapter the live source uses (coins read through `resolve`: the listing)."""
    return BinanceAdapter(base_url, timeout, resolve=resolve)


# ---------------------------------------------------------------- budgets


def binance_weight(path: str, params: Params) -> int:
    """Binance request weight: klines by `limit` ([1,100) 1, [100,500) 2, [500,1000] 5, above 10; default 500)."""
    if path != "/fapi/v1/klines":
        return 1
    limit = int(params.get("limit", 500))
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


BUDGETS: tuple[Budget, ...] = (
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
)


# ---------------------------------------------------------------- listing

STATUSES: dict[str, str] = {
    "TRADING": "trading",
    "PENDING_TRADING": "pending",
    "PRE_SETTLE": "settling",
    "SETTLING": "settling",
    "PRE_DELIVERING": "settling",
    "DELIVERING": "settling",
    "DELIVERED": "closed",
    "CLOSE": "closed",
}


def parse_listing(raw: Any) -> list[Instrument]:
    """`GET /fapi/v1/exchangeInfo` -> USDT/USDC perpetuals; sizes in `baseAsset` units (`1000PEPE`: thousands)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("symbols"), list):
        raise BadPayload(f"{NAME} sent an unexpected answer for exchangeInfo (no symbols list).")

    def parse(row: dict) -> Instrument | None:
        if row["contractType"] != "PERPETUAL" or row["quoteAsset"] not in STABLE_QUOTES:
            return None
        asset, multiplier = split_base(row["baseAsset"])
        status = STATUSES.get(row["status"], row["status"].lower())
        return Instrument("binance", row["symbol"], asset, "linear", row["quoteAsset"], multiplier, multiplier, status)

    return parsed("binance", raw["symbols"], parse)


def fetch_listing(upstream: Upstream) -> list[Instrument]:
    """Binance's listing: one request (weight 1)."""
    return parse_listing(upstream.get_json(LISTING, {}))


# ---------------------------------------------------------------- stream


def _first_positive(order: dict[str, Any], keys: tuple[str, str]) -> float:
    """The first of `keys` holding a positive number (Binance sends "0" for an unfilled average)."""
    try:
        return decode.positive(order, keys[0], "o.")
    except Malformed:
        return decode.positive(order, keys[1], "o.")


class BinanceStream(StreamProtocol):
    """`wss://fstream.binance.com/market/ws/!forceOrder@arr`; a WebSocket ping frame is the heartbeat."""

    def __init__(
        self,
        base_url: str,
        instruments: Iterable[Instrument],
        assets: frozenset[str] | None = None,
        heartbeat: float = 20.0,
        silence: float = 30.0,
    ) -> None:
        url = f"{base_url.rstrip('/')}/ws/!forceOrder@arr"
        super().__init__("binance", url, assets, heartbeat=heartbeat, silence=silence, lower_bound=True)
        self.update(instruments)

    def read(self, raw: str) -> Reading:
        """`{"e":"forceOrder","o":{s,S,ap|p,z|q,T}}` (or wrapped in `{"stream","data"}`); `{"error":{code,msg}}`."""
        message = decode.obj(decode.load(raw), "message")
        if "error" in message:
            error = message["error"]
            words = error.get("msg") if isinstance(error, dict) else error
            return Reading(refused=refusal(words, error.get("code") if isinstance(error, dict) else None))
        if "id" in message and "result" in message:  # the answer to a SUBSCRIBE we did not need
            return Reading(confirmed=True)
        if "stream" in message:
            message = decode.obj(message.get("data"), "data")
        if message.get("e") != "forceOrder":
            raise Malformed("not a forceOrder event")
        order = decode.obj(message.get("o"), "o")
        symbol = decode.text(order, "s", "o.")
        side = "long" if decode.choice(order, "S", ("SELL", "BUY"), "o.") == "SELL" else "short"
        price = _first_positive(order, ("ap", "p"))  # average fill price, else the order price
        size = _first_positive(order, ("z", "q"))  # filled quantity, else the order quantity
        unknown: list[str] = []
        event = self._event(symbol, decode.epoch_ms(order, "T", "o."), side, price, size, unknown)
        return Reading([event] if event else [], confirmed=True, unknown=tuple(unknown))


STREAM = BinanceStream
