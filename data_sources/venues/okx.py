"""OKX v5: candles, rubik long/short and taker ratios, open interest, funding, recent liquidations.

OKX answers errors inside HTTP 200 (`code != "0"`), sends every number as a
string, sorts newest-first with exclusive `after`/`before` cursors (`begin`/`end`
on rubik), and sizes swaps in contracts: quantities are multiplied by the
instrument's `ctVal` (read from `/public/instruments`, never assumed). Which end
of an over-full range a page holds is not documented, so series are asked for in
windows that fit one page (`paging.Series`) and liquidation orders by a walk that
holds for either end (`paging.walk`). A coin is read through its listed swap (`resolve`, from the
instrument listing, whose `ctVal` sizes it: `PEPE-USDT-SWAP` is 10,000,000 PEPE a contract).

SIDE CONVENTION (stream `liquidation-orders`, instType SWAP, every contract in one feed, `OkxStream`, and
REST `liquidation-orders`): `posSide` names the POSITION liquidated (long/short); in net mode it is `net`
and a forced `sell` closes a long (exchange-apis.md §2.4). `sz` is in contracts (x `ctVal`). At most one
order per contract per second: a lower bound. Symbols: `inst_id(asset)` BTC -> BTC-USDT-SWAP; listing
`GET /api/v5/public/instruments?instType=SWAP` -> `data[]`, kept: `ctType` linear settled in USDT or USDC
(sizes in contracts of `ctVal` x `ctMult` `ctValCcy`) and inverse (contracts of `ctVal` USD, e.g. 100 for
`BTC-USD-SWAP`); prices per one coin of `instFamily`'s base.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd
import requests

from data_sources import decode
from data_sources.base import Instrument, NoCoverage, Query, from_ms, ms
from data_sources.budgets import REF, Budget
from data_sources.decode import Malformed
from data_sources.http import (
    BadPayload,
    GeoBlocked,
    RateLimited,
    UnknownSymbol,
    Upstream,
    UpstreamError,
    json_body,
)
from data_sources.instruments import STABLE_QUOTES, parsed, split_base
from data_sources.paging import Series, walk
from data_sources.schema import Dataset, conform
from data_sources.streams import Reading, Request, StreamProtocol, event_envelope
from data_sources.tickers import Tickers, usd_per_coin
from data_sources.units import per_coin

NAME = "OKX"
CANDLES, HISTORY_CANDLES = "/api/v5/market/candles", "/api/v5/market/history-candles"
INSTRUMENTS = "/api/v5/public/instruments"
FUNDING = "/api/v5/public/funding-rate-history"
LIQUIDATIONS = "/api/v5/public/liquidation-orders"
OPEN_INTEREST = "/api/v5/rubik/stat/contracts/open-interest-history"
RATIO_PATHS = {
    "accounts": "/api/v5/rubik/stat/contracts/long-short-account-ratio-contract",
    "top_accounts": "/api/v5/rubik/stat/contracts/long-short-account-ratio-contract-top-trader",
    "top_positions": "/api/v5/rubik/stat/contracts/long-short-position-ratio-contract-top-trader",
    "taker": "/api/v5/rubik/stat/taker-volume-contract",
}
BARS = {"1m": "1m", "5m": "5m", "15m": "15m", "30m": "30m", "1h": "1H", "2h": "2H", "4h": "4H", "1d": "1Dutc"}
PERIODS = {"1m": "5m", "5m": "5m", "15m": "15m", "30m": "30m", "1h": "1H", "2h": "2H", "4h": "4H", "1d": "1Dutc"}
PERIOD_SECONDS = {"5m": 300, "15m": 900, "30m": 1800, "1H": 3600, "2H": 7200, "4H": 14400, "1Dutc": 86400}
BAR_SECONDS = {"1m": 60, **PERIOD_SECONDS, "1Dutc": 86400}
CANDLE_LIMIT, RUBIK_LIMIT, FUNDING_LIMIT, LIQUIDATION_LIMIT = 100, 100, 400, 100
RECENT_ROWS = 1440
FUNDING_HISTORY = pd.Timedelta(days=92)
LIQUIDATION_HISTORY = pd.Timedelta(days=1)
FUNDING_STEP_MS = 3_600_000  # OKX moves volatile contracts from 8 h down to 1 h funding: 1 h windows always fit
MAX_LIQUIDATION_REQUESTS = 100
ERRORS = {"50011": RateLimited, "51001": UnknownSymbol, "50051": GeoBlocked}


def inst_id(asset: str) -> str:
    """BTC -> BTC-USDT-SWAP."""
    return f"{asset}-USDT-SWAP"


def plain(asset: str) -> Instrument:
    """The coin's plain USDT swap (BTC -> BTC-USDT-SWAP) when no listing is at hand; its ctVal is asked for."""
    return Instrument("okx", inst_id(asset), asset, "linear", "USDT", math.nan, 1.0, "trading")


def data(raw: Any, what: str) -> list:
    """The `data` list of an OKX envelope; `code != "0"` becomes a typed error."""
    if not isinstance(raw, dict) or "code" not in raw:
        raise BadPayload(f"{NAME} sent an unexpected answer for {what} (no code/data envelope).")
    code = str(raw["code"])
    if code != "0":
        error = ERRORS.get(code, UpstreamError)
        raise error(f"{NAME} error {code} for {what}: {raw.get('msg') or 'no message'}.")
    rows = raw.get("data")
    if not isinstance(rows, list):
        raise BadPayload(f"{NAME} sent no data list for {what}.")
    return rows


def parse_candles(rows: list[list[str]], asset: str, multiplier: float = 1.0) -> pd.DataFrame:
    """Rows [ts, o, h, l, c, vol(contracts), volCcy(base), volCcyQuote(USDT), confirm]; a base of `multiplier`
    coins gives prices / multiplier and volume x multiplier (OKX quotes its swaps per one coin: 1)."""
    frame = pd.DataFrame(
        [r[:8] for r in rows], columns=["ts", "open", "high", "low", "close", "contracts", "volume", "quote_volume"]
    )
    frame["ts"] = from_ms(frame["ts"])
    frame["exchange"], frame["asset"] = "okx", asset
    return conform("candles", per_coin(frame, multiplier))


def parse_ratios(rows: list[list[str]], asset: str, kind: str) -> pd.DataFrame:
    """Rubik rows: [ts, ratio] for account/position kinds, [ts, sellVol, buyVol] for taker."""
    if kind == "taker":
        frame = pd.DataFrame([r[:3] for r in rows], columns=["ts", "sell", "buy"])
        sell, buy = pd.to_numeric(frame["sell"]), pd.to_numeric(frame["buy"])
        frame["long_share"] = buy / (buy + sell)
    else:
        frame = pd.DataFrame([r[:2] for r in rows], columns=["ts", "long_short"])
        ratio = pd.to_numeric(frame["long_short"])
        frame["long_share"] = ratio / (1 + ratio)
    frame["ts"] = from_ms(frame["ts"])
    frame["short_share"] = 1 - frame["long_share"]
    frame["ratio"] = frame["long_share"] / frame["short_share"]
    frame["exchange"], frame["asset"], frame["kind"] = "okx", asset, kind
    return conform("ratios", frame)


def parse_open_interest(rows: list[list[str]], asset: str) -> pd.DataFrame:
    """Rubik OI rows [ts, oi(contracts), oiCcy(coin), oiUsd]: `oiUsd` is the USD figure."""
    frame = pd.DataFrame([r[:4] for r in rows], columns=["ts", "contracts", "coins", "usd"])
    frame["ts"] = from_ms(frame["ts"])
    frame["exchange"], frame["asset"] = "okx", asset
    return conform("open_interest", frame)


def parse_funding(rows: list[dict], asset: str) -> pd.DataFrame:
    """Funding history: `realizedRate` (what was paid) when present, else `fundingRate`."""
    frame = pd.DataFrame(rows, columns=["fundingTime", "fundingRate", "realizedRate"])
    frame["ts"] = from_ms(frame["fundingTime"])
    realized = pd.to_numeric(frame["realizedRate"].replace("", None), errors="coerce")
    frame["rate"] = realized.fillna(pd.to_numeric(frame["fundingRate"]))
    frame["exchange"], frame["asset"] = "okx", asset
    return conform("funding", frame)


def parse_liquidations(rows: list[dict], asset: str, ct_val: float, inst: str | None = None) -> pd.DataFrame:
    """Liquidation orders of swap `inst` (default `inst_id(asset)`): `sz` in contracts (x ctVal = coins), `bkPx`
    the bankruptcy price.

    `posSide` names the liquidated position; in net mode it is "net" and the
    order side tells: a forced `sell` closes a long, a forced `buy` a short.
    """
    records = []
    for item in rows:
        if item.get("instId") not in (None, inst or inst_id(asset)):
            continue
        for detail in item.get("details", []):
            pos_side = detail.get("posSide")
            side = pos_side if pos_side in ("long", "short") else ("long" if detail.get("side") == "sell" else "short")
            qty = float(detail["sz"]) * ct_val
            price = float(detail["bkPx"])
            records.append({"ts": int(detail["ts"]), "side": side, "price": price, "qty": qty, "usd": price * qty})
    frame = pd.DataFrame(records, columns=["ts", "side", "price", "qty", "usd"])
    frame["ts"] = from_ms(frame["ts"])
    frame["exchange"], frame["asset"] = "okx", asset
    return conform("liquidations", frame)


def classify(response: requests.Response) -> UpstreamError | None:
    """OKX 4xx bodies carry the same `code`/`msg` envelope as 200s."""
    body = json_body(response)
    if isinstance(body, dict) and str(body.get("code", "0")) in ERRORS and response.status_code != 429:
        error = ERRORS[str(body["code"])]
        return error(f"{NAME} error {body['code']}: {body.get('msg') or 'no message'}.")
    return None


def _first(row: list) -> str:
    """The epoch-ms time of a candle or rubik row."""
    return row[0]


class OkxAdapter:
    """OKX swaps behind the source interface's `fetch`."""

    def __init__(
        self,
        base_url: str,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        resolve: Callable[[str], Instrument] = plain,
    ) -> None:
        self.clock = clock
        self.resolve = resolve
        self.upstream = Upstream(NAME, base_url, "LIQSCOPE_OKX_URL", timeout, classify=classify)
        self._ct_val: dict[str, float] = {}
        self._lock = threading.Lock()

    def now(self) -> pd.Timestamp:
        """The adapter's clock as a UTC timestamp."""
        return pd.Timestamp(self.clock(), unit="s", tz="UTC")

    def ct_val(self, instrument: Instrument) -> float:
        """Coins per contract of a linear swap: the listing's, else from `/public/instruments?instId=` (cached)."""
        if math.isfinite(instrument.contract_size):
            return instrument.contract_size
        inst = instrument.symbol
        with self._lock:
            if inst in self._ct_val:
                return self._ct_val[inst]
        rows = data(self.upstream.get_json(INSTRUMENTS, {"instType": "SWAP", "instId": inst}), "instruments")
        if not rows:
            raise UnknownSymbol(f"{NAME} does not list {inst}.")
        value = float(rows[0]["ctVal"])
        with self._lock:
            self._ct_val[inst] = value
        return value

    def _series(self, params: dict, keys: tuple[str, str], step_ms: int, limit: int, ts_of: Callable) -> Series:
        """Windows of one series; `keys` are the exclusive (older-than, newer-than) cursor names."""
        older, newer = keys

        def ask(path: str, lo: int, hi: int) -> list:
            return data(self.upstream.get_json(path, {**params, older: hi, newer: lo - 1, "limit": limit}), path)

        return Series(NAME, ask, ts_of, step_ms, limit)

    def _recent_only(self, query: Query, period: str, what: str) -> tuple[int, int]:
        depth = pd.Timedelta(seconds=PERIOD_SECONDS[period] * RECENT_ROWS)
        earliest = self.now() - depth
        if query.end <= earliest:
            raise NoCoverage(
                f"{NAME} keeps only the latest 1,440 {period} rows of {what} (about {depth.days or 1} days, "
                f"since {earliest:%Y-%m-%d}); pick a coarser interval or a more recent window."
            )
        return ms(max(query.start, earliest)), ms(query.end)

    def fetch(self, dataset: Dataset, query: Query) -> pd.DataFrame:
        """The normalized frame for one asset; raises a typed SourceError (NoCoverage when it is not listed)."""
        instrument = self.resolve(query.asset)
        inst = instrument.symbol
        if dataset == "candles":
            bar = BARS[query.interval]
            recent = self.now() - pd.Timedelta(seconds=BAR_SECONDS[bar] * RECENT_ROWS)
            path = CANDLES if query.start >= recent else HISTORY_CANDLES
            series = self._series(
                {"instId": inst, "bar": bar}, ("after", "before"), BAR_SECONDS[bar] * 1000, CANDLE_LIMIT, _first
            )
            rows = series.gather([path], ms(query.start), ms(query.end))[path]
            return parse_candles(rows, query.asset, instrument.multiplier)
        if dataset in ("ratios", "open_interest"):
            period = PERIODS[query.interval]
            what = "long/short ratios" if dataset == "ratios" else "open interest"
            start, end = self._recent_only(query, period, what)
            paths = RATIO_PATHS if dataset == "ratios" else {"open_interest": OPEN_INTEREST}
            series = self._series(
                {"instId": inst, "period": period}, ("end", "begin"), PERIOD_SECONDS[period] * 1000, RUBIK_LIMIT, _first
            )
            rows = series.gather(paths.values(), start, end)
            if dataset == "open_interest":
                return parse_open_interest(rows[OPEN_INTEREST], query.asset)
            frames = [parse_ratios(rows[path], query.asset, kind) for kind, path in paths.items()]
            return conform("ratios", pd.concat(frames, ignore_index=True))
        if dataset == "funding":
            earliest = self.now() - FUNDING_HISTORY
            if query.end <= earliest:
                raise NoCoverage(f"{NAME} keeps funding history for 3 months only (since {earliest:%Y-%m-%d}).")
            series = self._series(
                {"instId": inst}, ("after", "before"), FUNDING_STEP_MS, FUNDING_LIMIT, lambda r: r["fundingTime"]
            )
            rows = series.gather([FUNDING], ms(max(query.start, earliest)), ms(query.end))[FUNDING]
            return parse_funding(rows, query.asset)
        return self._liquidations(query, instrument)

    def _liquidations(self, query: Query, instrument: Instrument) -> pd.DataFrame:
        """Recent liquidation orders. The endpoint is undocumented and pages by time cursor only,
        so it is walked by `paging.walk`, which learns from the first full page which end of
        an over-full range the endpoint keeps (one extra request per fetch) and drops repeats."""
        earliest = self.now() - LIQUIDATION_HISTORY
        if query.end <= earliest:
            raise NoCoverage(
                f"{NAME}'s public liquidation endpoint keeps about the last day only (since "
                f"{earliest:%Y-%m-%d %H:%M} UTC); older liquidations need the recorder."
            )
        start, end = ms(max(query.start, earliest)), ms(query.end)
        params = {
            "instType": "SWAP",
            "instFamily": instrument.symbol.removesuffix("-SWAP"),
            "state": "filled",
            "limit": LIQUIDATION_LIMIT,
        }

        def ask(lo: int, hi: int) -> list[dict]:
            """The details of orders in [lo, hi] (the cursors are exclusive), each tagged with its instrument."""
            window = {**params, "after": hi + 1, "before": lo - 1}
            page = data(self.upstream.get_json(LIQUIDATIONS, window), "liquidation orders")
            return [{**d, "instId": item.get("instId")} for item in page for d in item.get("details", [])]

        try:
            details = walk(
                NAME,
                ask,
                lambda d: d["ts"],
                (start, end - 1),
                LIQUIDATION_LIMIT,
                MAX_LIQUIDATION_REQUESTS,
                lambda d: (d["instId"], d["ts"], d.get("side"), d.get("posSide"), d.get("bkPx"), d.get("sz")),
            )
        except UpstreamError as error:
            if isinstance(error, (RateLimited, GeoBlocked)):
                raise
            raise NoCoverage(
                f"{NAME}'s liquidation-orders endpoint (undocumented since 2025) did not answer: {error}"
            ) from None
        rows = [{"instId": d["instId"], "details": [d]} for d in details]
        ct_val = self.ct_val(instrument) if rows else 1.0
        frame = parse_liquidations(rows, query.asset, ct_val, instrument.symbol)
        frame = frame[(frame["ts"] >= pd.Timestamp(start, unit="ms", tz="UTC")) & (frame["ts"] < query.end)]
        return frame.drop_duplicates(["ts", "side", "price", "qty"]).reset_index(drop=True)


# ---------------------------------------------------------------- venue registry interface (`venues/__init__.py`)

ID = "okx"
URL_SETTING = "LIQSCOPE_OKX_URL"
DEFAULT_URL = "https://www.okx.com"
WS_SETTING = "LIQSCOPE_OKX_WS"
DEFAULT_WS = "wss://ws.okx.com:8443/ws/v5/public"
PROBE = "/api/v5/public/time"  # server time: the cheapest request that proves the host answers
LIQUIDATION_HISTORY: pd.Timedelta | None = LIQUIDATION_HISTORY
LIQUIDATION_NOTE: str | None = "REST recent orders (about the last 24 h) where not recorded"
LOWER_BOUND: str | None = "at most 1 order per contract per second"

# How far back the venue serves each series (the collector's backfill starts no earlier): rubik keeps its latest
# RECENT_ROWS five-minute rows.
RUBIK_DEPTH = pd.Timedelta(seconds=PERIOD_SECONDS["5m"] * RECENT_ROWS)
SERIES_HISTORY: dict[str, pd.Timedelta] = {
    "ratios": RUBIK_DEPTH,
    "open_interest": RUBIK_DEPTH,
    "funding": FUNDING_HISTORY,
}


def parse_tickers(raw: Any, listing: Mapping[str, Instrument]) -> dict[str, float]:
    """`GET /api/v5/public/open-interest?instType=SWAP` -> open interest per coin, USD (`oiUsd`)."""
    return usd_per_coin(data(raw, "open interest"), listing, "instId", "oiUsd")


TICKERS = Tickers(
    "open interest",
    lambda upstream: upstream.get_json("/api/v5/public/open-interest", {"instType": "SWAP"}),
    parse_tickers,
)


def probe(upstream: Upstream) -> None:
    """Ask the venue's server time; raises a typed SourceError when it does not answer."""
    upstream.get_json(PROBE, {})


def adapter(base_url: str, timeout: float, resolve: Callable[[str], Instrument]) -> OkxAdapter:
    """The REST adapter the live source uses (coins read through `resolve`: the listing)."""
    return OkxAdapter(base_url, timeout, resolve=resolve)


# ---------------------------------------------------------------- budgets

RUBIK_RATIOS = (
    "/api/v5/rubik/stat/contracts/long-short-account-ratio-contract",
    "/api/v5/rubik/stat/contracts/long-short-account-ratio-contract-top-trader",
    "/api/v5/rubik/stat/contracts/long-short-position-ratio-contract-top-trader",
    "/api/v5/rubik/stat/taker-volume-contract",
)
BUDGETS: tuple[Budget, ...] = (
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
)


# ---------------------------------------------------------------- listing

LISTING = "/api/v5/public/instruments"
STATUSES: dict[str, str] = {"live": "trading", "preopen": "pending", "suspend": "suspended"}


def parse_listing(raw: Any) -> list[Instrument]:
    """`GET /api/v5/public/instruments?instType=SWAP` -> linear USDT/USDC swaps (contracts of `ctVal` x `ctMult`
    coins) and inverse swaps (contracts of `ctVal` USD)."""

    def parse(row: dict) -> Instrument | None:
        base, quote = (row.get("instFamily") or row["uly"]).split("-")[:2]
        asset, multiplier = split_base(base)
        size = float(row["ctVal"]) * float(row.get("ctMult") or 1)
        if row["ctType"] == "linear" and row["settleCcy"] in STABLE_QUOTES:
            coin, scale = split_base(row["ctValCcy"])
            if coin != asset:
                raise ValueError(f"ctValCcy {row['ctValCcy']} is not {asset}")
            margin, contract_size = "linear", size * scale
        elif row["ctType"] == "inverse" and row["ctValCcy"] == "USD":
            margin, contract_size = "inverse", size
        else:
            return None
        if not contract_size > 0:
            raise ValueError(f"ctVal {row['ctVal']}")
        status = STATUSES.get(row["state"], row["state"].lower())
        return Instrument("okx", row["instId"], asset, margin, quote, contract_size, multiplier, status)

    return parsed("okx", data(raw, "instruments"), parse)


def fetch_listing(upstream: Upstream) -> list[Instrument]:
    """OKX's swap listing: one request."""
    return parse_listing(upstream.get_json(LISTING, {"instType": "SWAP"}))


# ---------------------------------------------------------------- stream


class OkxStream(StreamProtocol):
    """`wss://ws.okx.com:8443/ws/v5/public`, channel `liquidation-orders` for every SWAP (linear and
    inverse) in one subscription; text ping."""

    SUBSCRIBE = json.dumps({"op": "subscribe", "args": [{"channel": "liquidation-orders", "instType": "SWAP"}]})

    def __init__(
        self,
        url: str,
        instruments: Iterable[Instrument],
        assets: frozenset[str] | None = None,
        heartbeat: float = 20.0,
        silence: float = 30.0,
    ) -> None:
        super().__init__("okx", url, assets, "ping", heartbeat, silence, lower_bound=True)
        self.update(instruments)

    def requests(self, connection: int, done: int) -> tuple[list[Request], int]:
        """The one subscription, sent once per connection."""
        return ([("liquidation-orders", self.SUBSCRIBE)] if done == 0 else []), 1

    def read(self, raw: str) -> Reading:
        """`{"arg":{"channel":"liquidation-orders"},"data":[{instId, details:[{side,posSide,bkPx,sz,ts}]}]}`; events."""
        control, message = event_envelope(raw)
        if control is not None:
            return control
        if decode.obj(message.get("arg"), "arg").get("channel") != "liquidation-orders":
            raise Malformed("'arg.channel' is not liquidation-orders")
        events, unknown = [], []
        path = "data[].details[]."
        for item in decode.rows(message.get("data"), "data"):
            inst_id = decode.text(item, "instId", "data[].")
            for detail in decode.rows(item.get("details"), "data[].details"):
                pos = detail.get("posSide")
                if pos in ("long", "short"):
                    side = pos
                else:  # net mode: a forced sell closes a long
                    side = "long" if decode.choice(detail, "side", ("sell", "buy"), path) == "sell" else "short"
                ts = decode.epoch_ms(detail, "ts", path)
                price, size = decode.positive(detail, "bkPx", path), decode.positive(detail, "sz", path)
                if found := self._event(inst_id, ts, side, price, size, unknown):
                    events.append(found)
        return Reading(events, confirmed=True, unknown=tuple(unknown))


STREAM = OkxStream
