"""Bitget USDT-M futures (`productType=USDT-FUTURES`): candles, account long/short ratio, current open
interest, funding history, the contract list, and the sampled public liquidation topic.

Facts and sources: `shared/reference/more-venues.md` §2 (Bitget docs via coincise, ccxt, tardis-node).

SIDE CONVENTION (liquidation topic): `side` names the POSITION that was liquidated, so
`side == "buy"` means a LONG was liquidated and `"sell"` a short (tardis-node `src/mappers/bitget.ts`:
"Bitget side is position side"; more-venues.md §2.3 and §4.5). This is Bybit's convention and the
opposite of Binance's, where the field is the liquidation ORDER side.

Units. REST: every value is a string, times in epoch ms; sizes are in the base coin (`sizeMultiplier`
in the contract list is an order step, not a contract value, so it never scales a quantity); candle
`baseVolume` is coins and `quoteVolume` USDT; open interest `size` is coins (valued here at the latest
1-minute close). Liquidation topic: `price` in USDT per quoted unit and `amount` read as the USDT
notional (qty = amount / price), as two independent 3rd-party parsers read it; the venue's docs do
not state the unit (UNCONFIRMED, §2.3): check amount / price against live sizes before trusting
totals.

Errors come inside the `{"code","msg","requestTime","data"}` envelope with `code != "00000"` (HTTP 200
or 4xx) and become typed errors; HTTP 429 is a rate limit.

Paging and limits:
- candles: `/candles` (`limit` <= 1000) reaches back by granularity (1m/5m a month, 15m 52 days,
  30m 62, 1H 83, 2H 120, 4H 240 days) and returns nothing beyond; `/history-candles` (`limit` <= 200)
  reaches all history. A request spans at most 90 days. Which end of an over-full range a page holds
  is not documented (ccxt: the window is anchored at `endTime`), so candles are asked for in windows
  that fit one page (`paging.Series`); `startTime`/`endTime` are sent 1 ms before the window's ends,
  which is right whether the venue reads them as inclusive or exclusive.
- account long/short (`account-long-short`, 1 request/s): no time parameters; it answers its latest
  rows (about 30, in an undocumented order), so only a recent window is covered.
- open interest: current only (no history over REST).
- funding: `history-fund-rate` pages by `pageNo`/`pageSize` (<= 100), newest first (documented);
  pages are walked from the newest until the window's start is passed.
- liquidations: no history over REST; the v3 WebSocket topic `liquidation` pushes once a second at
  most the largest long and the largest short per pair (a sample): recorded totals are a lower bound.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd
import requests

from data_sources import decode
from data_sources.base import NoCoverage, Query, from_ms, ms
from data_sources.decode import Malformed
from data_sources.http import BadPayload, RateLimited, UnknownSymbol, Upstream, UpstreamError, json_body
from data_sources.instruments import STABLE_QUOTES, Instrument, split_base
from data_sources.paging import Series
from data_sources.schema import Dataset, conform
from data_sources.streams import Reading, Request, StreamProtocol, event_envelope
from data_sources.tickers import Tickers, usd_per_coin_units

# ---------------------------------------------------------------- constants

ID = "bitget"
NAME = "Bitget"
URL_SETTING = "LIQSCOPE_BITGET_URL"
DEFAULT_URL = "https://api.bitget.com"
WS_SETTING = "LIQSCOPE_BITGET_WS"
DEFAULT_WS = "wss://ws.bitget.com/v3/ws/public"  # the UTA v3 public socket carries `liquidation` (§2)
PRODUCT_TYPE = "USDT-FUTURES"
WS_INST_TYPE = "usdt-futures"
OK_CODE = "00000"

CANDLES = "/api/v2/mix/market/candles"
HISTORY_CANDLES = "/api/v2/mix/market/history-candles"
CONTRACTS = "/api/v2/mix/market/contracts"
ACCOUNT_RATIO = "/api/v2/mix/market/account-long-short"
OPEN_INTEREST = "/api/v2/mix/market/open-interest"
FUNDING = "/api/v2/mix/market/history-fund-rate"
TICKERS_PATH = "/api/v2/mix/market/tickers"

CANDLE_LIMIT, HISTORY_CANDLE_LIMIT, FUNDING_LIMIT = 1000, 200, 100
MAX_SPAN = pd.Timedelta(days=90)  # the longest startTime..endTime range a candle request may span
MAX_FUNDING_PAGES = 60
# Our intervals -> Bitget granularity (upper-case H/D; the UTC day, not UTC+8) and its length in seconds.
GRANULARITIES = {"1m": "1m", "5m": "5m", "15m": "15m", "30m": "30m", "1h": "1H", "2h": "2H", "4h": "4H", "1d": "1Dutc"}
GRANULARITY_SECONDS = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1H": 3600,
    "2H": 7200,
    "4H": 14400,
    "1Dutc": 86400,
}
# How far back `/candles` reaches per granularity (docs); the others always use `/history-candles`.
CANDLE_DEPTH = {
    "1m": pd.Timedelta(days=30),
    "5m": pd.Timedelta(days=30),
    "15m": pd.Timedelta(days=52),
    "30m": pd.Timedelta(days=62),
    "1H": pd.Timedelta(days=83),
    "2H": pd.Timedelta(days=120),
    "4H": pd.Timedelta(days=240),
}
# Our intervals -> `account-long-short` period (lower case; 5m is the finest).
PERIODS = {"1m": "5m", "5m": "5m", "15m": "15m", "30m": "30m", "1h": "1h", "2h": "2h", "4h": "4h", "1d": "1d"}
PRICE_LOOKBACK_MS = 600_000  # open interest is valued at the latest 1-minute close of the last 10 minutes
OI_FRESH = pd.Timedelta(minutes=15)  # a window ending earlier than this before now cannot hold the current OI
ERRORS = {"429": RateLimited, "40034": UnknownSymbol}
STATUSES = {"normal": "trading", "listed": "pending", "maintain": "suspended", "off": "closed"}
log = logging.getLogger("liqscope.bitget")

# ---------------------------------------------------------------- budgets

# (path prefix, limit, period seconds, per instrument?, source): Bitget counts per IP, per endpoint.
BUDGETS: tuple[tuple[str, int, float, bool, str], ...] = (
    (CANDLES, 20, 1.0, False, "more-venues.md §2 General (coincise get_api_v2_mix_market_candles.md)"),
    (HISTORY_CANDLES, 20, 1.0, False, "more-venues.md §2 General (coincise ..._history_candles.md)"),
    (CONTRACTS, 20, 1.0, False, "more-venues.md §2 General (coincise ..._contracts.md)"),
    (OPEN_INTEREST, 20, 1.0, False, "more-venues.md §2 General (coincise ..._open_interest.md)"),
    (FUNDING, 20, 1.0, False, "more-venues.md §2 General (coincise ..._history_fund_rate.md)"),
    (TICKERS_PATH, 20, 1.0, False, "more-venues.md §2 General (coincise get_api_v2_mix_market_tickers.md)"),
    (ACCOUNT_RATIO, 1, 1.0, False, "more-venues.md §2 General (coincise ..._account_long_short.md: 1 req/s)"),
    ("/api/", 6000, 60.0, False, "more-venues.md §2 General (coincise rate_limits.md: 6000 per minute per IP)"),
)

# ---------------------------------------------------------------- symbols and listing


def symbol(asset: str) -> str:
    """BTC -> BTCUSDT."""
    return f"{asset}USDT"


def data(raw: Any, what: str) -> Any:
    """The `data` of a Bitget envelope; `code != "00000"` becomes a typed error naming the venue's message."""
    if not isinstance(raw, dict) or "code" not in raw:
        raise BadPayload(f"{NAME} sent an unexpected answer for {what} (no code/data envelope).")
    code = str(raw["code"])
    if code != OK_CODE:
        error = ERRORS.get(code, UpstreamError)
        raise error(f"{NAME} error {code} for {what}: {raw.get('msg') or 'no message'}.")
    return raw.get("data")


def rows_of(raw: Any, what: str) -> list:
    """The `data` list of an envelope (see `data`)."""
    rows = data(raw, what)
    if not isinstance(rows, list):
        raise BadPayload(f"{NAME} sent no data list for {what}.")
    return rows


def parse_listing(raw: Any) -> list[Instrument]:
    """`GET /api/v2/mix/market/contracts?productType=USDT-FUTURES` -> perpetuals quoted in USDT/USDC.

    Sizes and prices are per one `baseCoin` unit (a `1000X` base: per 1,000 X); `sizeMultiplier` is the
    order step and is not used. `symbolStatus` normal/listed/maintain/off -> trading/pending/suspended/
    closed, others lowercased (`limit_open`: reduce-only). A row without usable fields is skipped.
    """
    out: dict[str, Instrument] = {}
    for row in rows_of(raw, "contracts"):
        try:
            if row["symbolType"] != "perpetual" or row["quoteCoin"] not in STABLE_QUOTES:
                continue
            asset, multiplier = split_base(row["baseCoin"])
            status = STATUSES.get(row["symbolStatus"], str(row["symbolStatus"]).lower())
            out[row["symbol"]] = Instrument(
                ID, row["symbol"], asset, "linear", row["quoteCoin"], multiplier, multiplier, status
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            named = row.get("symbol") if isinstance(row, dict) else None
            log.warning("%s listed %s without usable fields (%s); skipped.", NAME, named, error)
    return list(out.values())


# ---------------------------------------------------------------- parsers


def parse_candles(rows: list[list[str]], asset: str) -> pd.DataFrame:
    """Rows `[ts, open, high, low, close, baseVolume (coin), quoteVolume (USDT)]`, strings."""
    frame = pd.DataFrame(
        [r[:7] for r in rows], columns=["ts", "open", "high", "low", "close", "volume", "quote_volume"]
    )
    frame["ts"] = from_ms(frame["ts"])
    frame["exchange"], frame["asset"] = ID, asset
    return conform("candles", frame)


def parse_ratios(rows: list[dict], asset: str) -> pd.DataFrame:
    """`account-long-short` rows `{longAccountRatio, shortAccountRatio, longShortAccountRatio, ts}`: kind
    "accounts". The shares are normalized to sum to 1 and the ratio computed from them (the venue's own
    `longShortAccountRatio` does not always match its shares: ccxt quotes 0.58 / 0.42 -> "0.0138")."""
    frame = pd.DataFrame(rows, columns=["ts", "longAccountRatio", "shortAccountRatio"])
    long, short = pd.to_numeric(frame["longAccountRatio"]), pd.to_numeric(frame["shortAccountRatio"])
    frame["long_share"] = long / (long + short)
    frame["short_share"] = 1 - frame["long_share"]
    frame["ratio"] = frame["long_share"] / frame["short_share"]
    frame["ts"] = from_ms(frame["ts"])
    frame["exchange"], frame["asset"], frame["kind"] = ID, asset, "accounts"
    return conform("ratios", frame.drop_duplicates("ts"))


def parse_open_interest(body: Any, asset: str, price: float) -> pd.DataFrame:
    """`{openInterestList: [{symbol, size (coin)}], ts}` valued at `price` (USD per coin): one row."""
    try:
        ts = int(body["ts"])
        sizes = [float(r["size"]) for r in body["openInterestList"] if r.get("symbol") == symbol(asset)]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise BadPayload(f"{NAME} sent open interest without `ts` and `openInterestList[].size`.") from None
    frame = pd.DataFrame({"ts": [ts] * len(sizes), "usd": [size * price for size in sizes]})
    frame["ts"] = from_ms(frame["ts"])
    frame["exchange"], frame["asset"] = ID, asset
    return conform("open_interest", frame)


def parse_funding(rows: list[dict], asset: str) -> pd.DataFrame:
    """`history-fund-rate` rows `{symbol, fundingRate (fraction), fundingTime (ms)}`."""
    frame = pd.DataFrame(rows, columns=["fundingTime", "fundingRate"])
    frame["ts"] = from_ms(frame["fundingTime"])
    frame["rate"] = frame["fundingRate"]
    frame["exchange"], frame["asset"] = ID, asset
    return conform("funding", frame.drop_duplicates("ts"))


# ---------------------------------------------------------------- adapter


def classify(response: requests.Response) -> UpstreamError | None:
    """Bitget 4xx bodies carry the envelope; its code and message become the error (429 stays generic)."""
    body = json_body(response)
    if response.status_code == 429 or not isinstance(body, dict) or str(body.get("code", OK_CODE)) == OK_CODE:
        return None
    code = str(body["code"])
    return ERRORS.get(code, UpstreamError)(f"{NAME} error {code}: {body.get('msg') or 'no message'}.")


class BitgetAdapter:
    """Bitget USDT-M futures behind the source interface's `fetch`."""

    def __init__(self, base_url: str, timeout: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.upstream = Upstream(NAME, base_url, URL_SETTING, timeout, classify=classify)

    def now(self) -> pd.Timestamp:
        """The adapter's clock as a UTC timestamp."""
        return pd.Timestamp(self.clock(), unit="s", tz="UTC")

    def fetch(self, dataset: Dataset, query: Query) -> pd.DataFrame:
        """The normalized frame for one asset; raises a typed SourceError."""
        if dataset == "candles":
            return self._candles(query)
        if dataset == "ratios":
            return self._ratios(query)
        if dataset == "open_interest":
            return self._open_interest(query)
        if dataset == "funding":
            return self._funding(query)
        raise NoCoverage(
            f"{NAME} publishes no liquidation history over REST; its liquidations come only from its live "
            "`liquidation` topic once the recorder has captured them (a sample: at most the largest long and "
            "largest short per pair per second, so totals are a lower bound)."
        )

    def _candles(self, query: Query) -> pd.DataFrame:
        """Windows that fit one page and at most 90 days; `/candles` within its depth, else `/history-candles`."""
        granularity = GRANULARITIES[query.interval]
        step_ms = GRANULARITY_SECONDS[granularity] * 1000
        depth = CANDLE_DEPTH.get(granularity)
        recent = depth is not None and query.start >= self.now() - depth
        path, page = (CANDLES, CANDLE_LIMIT) if recent else (HISTORY_CANDLES, HISTORY_CANDLE_LIMIT)
        limit = min(page, int(MAX_SPAN.total_seconds() * 1000) // step_ms)
        params = {"symbol": symbol(query.asset), "productType": PRODUCT_TYPE, "granularity": granularity}

        def ask(path: str, lo: int, hi: int) -> list:
            window = {**params, "startTime": lo - 1, "endTime": hi - 1, "limit": limit}
            return rows_of(self.upstream.get_json(path, window), "candles")

        start = ms(query.start) // step_ms * step_ms
        rows = Series(NAME, ask, lambda row: row[0], step_ms, limit).gather([path], start, ms(query.end))[path]
        return parse_candles(rows, query.asset)

    def _ratios(self, query: Query) -> pd.DataFrame:
        """The venue's latest account long/short rows (it takes no time range), cut to the window."""
        period = PERIODS[query.interval]
        raw = self.upstream.get_json(ACCOUNT_RATIO, {"symbol": symbol(query.asset), "period": period})
        frame = parse_ratios(rows_of(raw, "account long/short"), query.asset)
        if frame.empty or query.end <= frame["ts"].min():
            since = "" if frame.empty else f" (since {frame['ts'].min():%Y-%m-%d %H:%M} UTC)"
            raise NoCoverage(
                f"{NAME} publishes only its latest account long/short rows per period{since}; "
                "pick a more recent window."
            )
        return frame[(frame["ts"] >= query.start) & (frame["ts"] < query.end)].reset_index(drop=True)

    def _open_interest(self, query: Query) -> pd.DataFrame:
        """The current open interest (coins) valued at the latest 1-minute close (either row order); no history."""
        if query.end < self.now() - OI_FRESH:
            raise NoCoverage(
                f"{NAME} publishes current open interest only (no history over REST); "
                "pick a window that reaches the present."
            )
        params = {"symbol": symbol(query.asset), "productType": PRODUCT_TYPE}
        body = data(self.upstream.get_json(OPEN_INTEREST, params), "open interest")
        now = ms(self.now())
        window = {**params, "granularity": "1m", "startTime": now - PRICE_LOOKBACK_MS, "endTime": now}
        recent = rows_of(self.upstream.get_json(CANDLES, window), "candles")
        if not recent:
            raise BadPayload(f"{NAME} sent no candle of the last 10 minutes to value open interest with.")
        latest = max(recent, key=lambda row: int(row[0]))
        frame = parse_open_interest(body, query.asset, float(latest[4]))
        return frame[frame["ts"] >= query.start].reset_index(drop=True)

    def _funding(self, query: Query) -> pd.DataFrame:
        """Pages of `history-fund-rate` from the newest until one reaches before the window (or history ends)."""
        start, end = ms(query.start), ms(query.end)
        params = {"symbol": symbol(query.asset), "productType": PRODUCT_TYPE, "pageSize": FUNDING_LIMIT}
        rows: list[dict] = []
        for page_no in range(1, MAX_FUNDING_PAGES + 1):
            page = rows_of(self.upstream.get_json(FUNDING, {**params, "pageNo": page_no}), "funding history")
            times = [int(row["fundingTime"]) for row in page]
            if times != sorted(times, reverse=True):
                raise BadPayload(f"{NAME} sent funding history out of its documented newest-first order; not used.")
            rows += [row for row, ts in zip(page, times, strict=True) if start <= ts < end]
            if len(page) < FUNDING_LIMIT or times[-1] < start:
                return parse_funding(rows, query.asset)
        raise BadPayload(
            f"{NAME} needed more than {MAX_FUNDING_PAGES} pages of funding history to reach "
            f"{query.start:%Y-%m-%d}; pick a more recent window."
        )


# ---------------------------------------------------------------- stream


class BitgetStream(StreamProtocol):
    """The v3 public socket (`wss://ws.bitget.com/v3/ws/public`), topic `liquidation` for every USDT-M pair
    in one subscription; text `ping` answered by `pong`.

    A LOWER BOUND (`lower_bound=True`): Bitget pushes once a second at most the largest long and the
    largest short liquidation per pair, so smaller liquidations in the same second are never sent.
    Side: `buy` = a long was liquidated (the position side; see the module docstring).
    """

    SUBSCRIBE = json.dumps({"op": "subscribe", "args": [{"instType": WS_INST_TYPE, "topic": "liquidation"}]})

    def __init__(
        self,
        url: str,
        instruments: Iterable[Instrument],
        assets: frozenset[str] | None = None,
        heartbeat: float = 20.0,
        silence: float = 30.0,
    ) -> None:
        super().__init__(ID, url, assets, "ping", heartbeat, silence, lower_bound=True)
        self.update(instruments)

    def requests(self, connection: int, done: int) -> tuple[list[Request], int]:
        """The one subscription, sent once per connection."""
        return ([("liquidation", self.SUBSCRIBE)] if done == 0 else []), 1

    def read(self, raw: str) -> Reading:
        """`{"event":"subscribe"|"error",...}`, `pong`, or `{"arg":{"topic":"liquidation"},"data":[{symbol, side,
        price, amount, ts}]}`; `amount` is read as the USDT notional (module docstring)."""
        control, message = event_envelope(raw)
        if control is not None:
            return control
        if decode.obj(message.get("arg"), "arg").get("topic") != "liquidation":
            raise Malformed("'arg.topic' is not liquidation")
        events, unknown = [], []
        path = "data[]."
        for item in decode.rows(message.get("data"), "data"):
            native = decode.text(item, "symbol", path)
            side = "long" if decode.choice(item, "side", ("buy", "sell"), path) == "buy" else "short"
            ts = decode.epoch_ms(item, "ts", path)
            price, amount = decode.positive(item, "price", path), decode.positive(item, "amount", path)
            size = amount / price
            if not math.isfinite(size) or size <= 0:
                raise Malformed("'data[].amount' / 'data[].price' is not a positive size")
            if found := self._event(native, ts, side, price, size, unknown):
                events.append(found)
        return Reading(events, confirmed=True, unknown=tuple(unknown))


# ---------------------------------------------------------------- venue registry interface (`venues/__init__.py`)

STREAM = BitgetStream
LIQUIDATION_HISTORY: pd.Timedelta | None = None
LIQUIDATION_NOTE: str | None = None
LOWER_BOUND: str | None = "at most the largest long and the largest short per pair per second"


def fetch_listing(upstream: Upstream) -> list[Instrument]:
    """Every USDT-M contract: one request."""
    return parse_listing(upstream.get_json(CONTRACTS, {"productType": PRODUCT_TYPE}))


def parse_tickers(raw: Any, listing: Mapping[str, Instrument]) -> dict[str, float]:
    """`GET /api/v2/mix/market/tickers?productType=USDT-FUTURES` -> open interest per coin, USD:
    `holdingAmount` (coins) x `markPrice` (more-venues.md, "Ranking by open interest")."""
    return usd_per_coin_units(rows_of(raw, "tickers"), listing, "symbol", "markPrice", "holdingAmount")


TICKERS = Tickers(
    "open interest",
    lambda upstream: upstream.get_json(TICKERS_PATH, {"productType": PRODUCT_TYPE}),
    parse_tickers,
)


def probe(upstream: Upstream) -> None:
    """Ask for the BTC contract (a light request); typed SourceError when the venue does not answer."""
    data(upstream.get_json(CONTRACTS, {"productType": PRODUCT_TYPE, "symbol": symbol("BTC")}), "contracts")


def adapter(base_url: str, timeout: float, resolve: Callable[[str], Instrument]) -> BitgetAdapter:
    """The REST adapter the live source uses (`resolve` is unused: Bitget names every coin `<COIN>USDT`)."""
    return BitgetAdapter(base_url, timeout)
