"""Hyperliquid perpetuals (the main perp dex): candles, hourly funding, current open interest, the listing.

Every request is `POST {LIQSCOPE_HYPERLIQUID_URL}/info` with a JSON body `{"type": ...}`; prices and
sizes come as strings, times as integer epoch ms (a time sent as a string is an HTTP 422, not an empty
answer). Source: Hyperliquid docs "Info endpoint"; shared/reference/more-venues.md §3.

Coins are the names in `meta` (`BTC`, `kPEPE`). A `k` prefix means 1,000 coins: `kPEPE` prices are per
1,000 PEPE and its sizes are in thousands of PEPE (3rd-party normalizers; HL's own docs do not define the
prefix), so the asset is PEPE with multiplier 1000 and `units.to_usd_units` gives USD per one PEPE.
Contracts are USDC-margined and linear; sizes are in the coin (`szDecimals` decimals).

- candles      `candleSnapshot`: only the most recent 5,000 candles of an interval exist (1m: about
               3.5 days); older windows are NoCoverage, partly older ones are clipped. Rows carry base
               volume only, so `quote_volume` is volume x the bar's mean of open, high, low, close (an
               estimate, not a venue figure).
- funding      `fundingHistory`: hourly (`time` a few ms after the hour), `rate` per ONE HOUR (x 8 to
               compare with 8-hour venues); ascending, at most 500 rows per answer.
- open interest `metaAndAssetCtxs`: the CURRENT value only, `openInterest` in coins x `markPx` = USD, the
               contexts positional to `universe`. `snapshot_open_interest()` returns every coin's value now
               for a collector to store; `fetch("open_interest")` answers a window holding now with that
               one row (a window that ended under a minute ago counts: a collector asks [last, its now))
               and any older window with NoCoverage.
- ratios       none over the API.

Paging: `startTime`/`endTime` are inclusive and "responses that take a time range only return 500 elements"
(5,000 for candles). Windows are asked so each answer fits one page (`paging.Series`: `limit - 1`
periods of the series' step; a full page is split and asked again, never kept partial), so paging never
depends on which end of an over-full range the venue keeps.

Liquidations: Hyperliquid publishes NO market-wide liquidation request or subscription. They appear only
in per-wallet fills (`userFills`, WS `userEvents`) as `liquidation: {liquidatedUser, markPx, method}`.
SIDE CONVENTION there: the liquidated user's own fill has `dir` "Close Long" when a long was liquidated
("Close Short" for a short) (liquidation-labs/liq-stream `adapters/hyperliquid_adapter.py`). Full coverage
needs a non-validator node run with `--write-fills` (hyperliquid-dex/node README), the requester-pays S3
`node_fills` archive, or a paid feed. So `fetch("liquidations")` raises NoCoverage saying so, unless a
`LiquidationSource` is plugged in: any object with `events(asset, start, end) -> frame` (columns ts, side
as the POSITION liquidated, price USD per ONE coin, qty coins, usd), passed to `HyperliquidAdapter(...,
liquidations=...)` or named by the setting `LIQSCOPE_HYPERLIQUID_LIQUIDATIONS=package.module:factory`
(`load_liquidation_source`; the factory takes no arguments and reads its own settings, e.g. a fills
directory). The adapter checks and normalizes what the plug-in returns.
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import pandas as pd
from cachetools import TTLCache

from data_sources import settings
from data_sources.base import NoCoverage, Query, SourceError, from_ms, ms
from data_sources.http import BadPayload, UnknownSymbol, Upstream
from data_sources.instruments import Instrument
from data_sources.intervals import INTERVAL_SECONDS
from data_sources.paging import Series
from data_sources.schema import SIDES, Dataset, conform
from data_sources.tickers import Tickers
from data_sources.units import to_usd_units

ID = "hyperliquid"
NAME = "Hyperliquid"
URL_SETTING = "LIQSCOPE_HYPERLIQUID_URL"
DEFAULT_URL = "https://api.hyperliquid.xyz"
LIQUIDATIONS_SETTING = "LIQSCOPE_HYPERLIQUID_LIQUIDATIONS"
INFO = "/info"
QUOTE = "USDC"
CANDLE_LIMIT = 5000  # rows per candleSnapshot answer
CANDLE_HISTORY = 5000  # "Only the most recent 5000 candles are available", per interval
FUNDING_LIMIT = 500  # rows per fundingHistory answer
FUNDING_STEP_MS = 3_600_000  # funding is hourly
FUNDING_INTERVAL_HOURS = 1.0  # hourly funding: a rate annualises x8,760 (components.summary)
K_MULTIPLIER = 1000.0
CURRENT_SLACK = pd.Timedelta(minutes=1)  # a window ending this recently still asks for the current OI
LISTING_SECONDS = 3600.0  # how long one `meta` answer is reused to map assets to coins
INTERVALS = {interval: interval for interval in INTERVAL_SECONDS}  # HL names 1m 5m 15m 30m 1h 2h 4h 1d alike

# (path prefix, limit, period seconds, per instrument?, source): one aggregated weight budget per IP;
# a request costs `weight(path, body)`.
BUDGETS: tuple[tuple[str, int, float, bool, str], ...] = (
    (
        INFO,
        1200,
        60.0,
        False,
        "more-venues.md §3 General: weight 1200/min per IP (coincise docs/hyperliquid/rate_limits.md)",
    ),
)
LIGHT_TYPES = frozenset(
    {"l2Book", "allMids", "clearinghouseState", "orderStatus", "spotClearinghouseState", "exchangeStatus"}
)
ITEMS_PER_WEIGHT = {"candleSnapshot": 60, "fundingHistory": 20}  # 1 more weight per this many rows returned

NO_LIQUIDATIONS = (
    f"{NAME} publishes no market-wide liquidation feed (liquidations appear only in each wallet's own fills), "
    "so they are not covered. To add them, run a non-validator node with --write-fills or use a data vendor, "
    f"and name a liquidation plug-in in {LIQUIDATIONS_SETTING} (see the README, 'Hyperliquid liquidations')."
)
OPEN_INTEREST_HISTORY = (
    f"{NAME} publishes only the current open interest, no history; liqscope's collector builds the history "
    "by storing snapshots, so past windows are covered only from when it started."
)
NO_RATIOS = f"{NAME} publishes no long/short ratios."

log = logging.getLogger("liqscope.hyperliquid")
K_PREFIX = re.compile(r"^k(?=[A-Z0-9])")


def weight(path: str, body: Mapping[str, Any]) -> int:
    """The documented weight of one `POST /info` (the budgets' cost, known before sending): 2 for light
    types, 20 for the rest, plus 1 per 60 candles or 20 funding rows the body's inclusive window can hold
    (at most one answer's worth). A window that is not integer ms (the venue answers 422) costs the base."""
    kind = body.get("type", "")
    base = 2 if kind in LIGHT_TYPES else 20
    if kind == "candleSnapshot":
        req = body.get("req") or {}
        step = INTERVAL_SECONDS.get(req.get("interval", ""), 60) * 1000
        span, limit = _span(req.get("startTime", 0), req.get("endTime", 0)), CANDLE_LIMIT
    elif kind == "fundingHistory":
        start = body.get("startTime", 0)
        step, span, limit = FUNDING_STEP_MS, _span(start, body.get("endTime", start)), FUNDING_LIMIT
    else:
        return base
    return base + max(min(span // step + 1, limit), 0) // ITEMS_PER_WEIGHT[kind]


def _span(start: Any, end: Any) -> int:
    """`end - start` in ms when both are integers, else -1 (the venue refuses it: no rows)."""
    return end - start if isinstance(start, int) and isinstance(end, int) else -1


# ---- symbols and listing -------------------------------------------------------------------------------


def split_coin(name: str) -> tuple[str, float]:
    """A listed coin -> (asset, coins per quoted unit): `kPEPE` -> (PEPE, 1000), `BTC` -> (BTC, 1).

    Only a lowercase `k` before an uppercase letter or digit is the prefix (`KAITO` is a real ticker).
    """
    if K_PREFIX.match(name):
        return name[1:], K_MULTIPLIER
    return name, 1.0


def _listed(row: dict) -> Instrument:
    """One `universe` row as an Instrument; raises KeyError/TypeError/ValueError on unusable fields."""
    name, decimals = row["name"], row["szDecimals"]
    if not isinstance(name, str) or not name:
        raise ValueError(f"name {name!r}")
    if not isinstance(decimals, int) or isinstance(decimals, bool) or decimals < 0:
        raise ValueError(f"szDecimals {decimals!r}")
    asset, multiplier = split_coin(name)
    status = "closed" if row.get("isDelisted") else "trading"
    return Instrument(ID, name, asset, "linear", QUOTE, multiplier, multiplier, status)


def _universe(meta: Any, what: str) -> list:
    if not isinstance(meta, dict) or not isinstance(meta.get("universe"), list):
        raise BadPayload(f"{NAME} sent an unexpected answer for {what} (no universe list).")
    return meta["universe"]


def parse_listing(raw: Any) -> list[Instrument]:
    """`{"type":"meta"}` -> every perpetual of the main dex; delisted coins (`isDelisted`) have status
    "closed". Sizes are in the coin (`szDecimals` decimals), `kPEPE` in thousands of PEPE. A row without
    usable fields is logged and skipped."""
    out: list[Instrument] = []
    for row in _universe(raw, "meta"):
        try:
            out.append(_listed(row))
        except (KeyError, TypeError, ValueError) as error:
            name = row.get("name") if isinstance(row, dict) else None
            log.warning("%s listed %r without usable fields (%s); skipped.", NAME, name, error)
    return out


def symbol(asset: str, listing: list[Instrument]) -> Instrument:
    """The listed coin of `asset` (PEPE -> kPEPE: `.symbol` is the native name, `.multiplier` its scale),
    preferring a trading one; UnknownSymbol if none. The listing decides, since no rule tells PEPE from kPEPE."""
    matches = sorted((i for i in listing if i.asset == asset), key=lambda i: not i.trading)
    if not matches:
        raise UnknownSymbol(f"{NAME} does not list a {asset} perpetual.")
    return matches[0]


# ---- pure parsers --------------------------------------------------------------------------------------


def _rows(raw: Any, what: str) -> list[dict]:
    if not isinstance(raw, list) or not all(isinstance(row, dict) for row in raw):
        raise BadPayload(f"{NAME} sent an unexpected answer for {what} (not a list of rows).")
    return raw


def parse_candles(raw: Any, instrument: Instrument) -> pd.DataFrame:
    """`candleSnapshot` rows `{t, o, h, l, c, v}` (strings; prices per quoted unit, `v` in the coin's
    units) -> candles in USD per ONE coin and coins (`kPEPE`: price / 1000, volume x 1000)."""
    rows = _rows(raw, "candleSnapshot")
    try:
        frame = pd.DataFrame(
            {
                "ts": from_ms([row["t"] for row in rows]),
                **{
                    field: [to_usd_units(instrument, row[key], 0).price for row in rows]
                    for field, key in (("open", "o"), ("high", "h"), ("low", "l"), ("close", "c"))
                },
                "volume": [to_usd_units(instrument, 0, row["v"]).qty for row in rows],
            }
        )
    except (KeyError, ValueError) as error:
        raise BadPayload(f"{NAME} sent a candle without a usable field ({error}).") from None
    mean_price = frame[["open", "high", "low", "close"]].mean(axis=1)
    frame["quote_volume"] = frame["volume"] * mean_price
    frame["exchange"], frame["asset"] = ID, instrument.asset
    return conform("candles", frame)


def parse_funding(raw: Any, asset: str) -> pd.DataFrame:
    """`fundingHistory` rows `{coin, fundingRate, premium, time}` -> funding, `rate` per one hour."""
    rows = _rows(raw, "fundingHistory")
    try:
        frame = pd.DataFrame({"ts": from_ms([r["time"] for r in rows]), "rate": [r["fundingRate"] for r in rows]})
        return conform("funding", frame.assign(exchange=ID, asset=asset))
    except (KeyError, ValueError) as error:
        raise BadPayload(f"{NAME} sent a funding row without a usable field ({error}).") from None


def parse_open_interest(raw: Any, at: pd.Timestamp) -> pd.DataFrame:
    """`metaAndAssetCtxs` = `[meta, [ctx...]]`, contexts positional to `meta.universe` -> every listed
    (not delisted) coin's open interest at `at`: `openInterest` (coins of the quoted unit) x `markPx`
    (USD per quoted unit) = USD."""
    if not isinstance(raw, list) or len(raw) != 2 or not isinstance(raw[1], list):
        raise BadPayload(f"{NAME} sent an unexpected answer for metaAndAssetCtxs (not [meta, contexts]).")
    universe, contexts = _universe(raw[0], "metaAndAssetCtxs"), raw[1]
    if len(universe) != len(contexts):
        raise BadPayload(
            f"{NAME} sent {len(contexts)} asset contexts for {len(universe)} coins; they cannot be matched."
        )
    out = []
    for row, ctx in zip(universe, contexts, strict=True):
        try:
            instrument = _listed(row)
            if not instrument.trading:
                continue
            usd = to_usd_units(instrument, ctx["markPx"], ctx["openInterest"]).usd
        except (KeyError, TypeError, ValueError) as error:
            raise BadPayload(f"{NAME} sent an unusable asset context for {row.get('name')!r} ({error}).") from None
        out.append({"ts": at, "exchange": ID, "asset": instrument.asset, "usd": usd})
    return conform("open_interest", pd.DataFrame(out, columns=["ts", "exchange", "asset", "usd"]))


# ---- liquidation plug-ins ------------------------------------------------------------------------------


@runtime_checkable
class LiquidationSource(Protocol):
    """Where Hyperliquid liquidations come from when a user has a source (node fills, a data vendor)."""

    def events(self, asset: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Liquidations of `asset` in [start, end) (UTC): columns ts, side ("long"/"short": the POSITION
        liquidated), price (USD per ONE coin), qty (coins), usd; raises SourceError when it cannot answer."""
        ...


def load_liquidation_source(spec: str) -> LiquidationSource:
    """The plug-in named `package.module:factory` (the LIQUIDATIONS_SETTING value): `factory()` must
    return a LiquidationSource. Raises ValueError with a sentence naming the setting."""
    module_name, _, attribute = spec.strip().partition(":")
    if not module_name or not attribute:
        raise ValueError(f"{LIQUIDATIONS_SETTING}={spec!r} must look like package.module:factory.")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"{LIQUIDATIONS_SETTING}={spec!r} cannot be loaded: {error}.") from None
    source = factory()
    if not isinstance(source, LiquidationSource):
        raise ValueError(f"{LIQUIDATIONS_SETTING}={spec!r} returned {type(source).__name__}, which has no events().")
    return source


def _plugged(frame: Any, asset: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """A plug-in's answer as the liquidations schema for [start, end), or BadPayload saying what is wrong."""
    if not isinstance(frame, pd.DataFrame):
        raise BadPayload(f"The {NAME} liquidation plug-in returned {type(frame).__name__}, not a frame.")
    try:
        out = conform("liquidations", frame.assign(exchange=ID, asset=asset))
    except (ValueError, TypeError) as error:
        raise BadPayload(f"The {NAME} liquidation plug-in returned an unusable frame ({error}).") from None
    wrong = sorted(set(out["side"]) - set(SIDES))
    if wrong:
        raise BadPayload(f"The {NAME} liquidation plug-in returned sides {wrong}; use 'long' or 'short'.")
    return out[(out["ts"] >= start) & (out["ts"] < end)].reset_index(drop=True)


# ---- adapter -------------------------------------------------------------------------------------------


class HyperliquidAdapter:
    """Hyperliquid behind the source interface's `fetch` (also a MarketSource on its own: `name`,
    `simulated`), plus `snapshot_open_interest()` for a collector."""

    name = ID
    simulated = False

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        liquidations: LiquidationSource | None = None,
    ) -> None:
        self.clock = clock
        self.liquidations = liquidations
        self.upstream = Upstream(NAME, base_url.rstrip("/"), URL_SETTING, timeout)
        self._listing: TTLCache[str, list[Instrument]] = TTLCache(maxsize=1, ttl=LISTING_SECONDS, timer=clock)
        self._listing_lock = threading.Lock()

    def info(self, body: dict[str, Any]) -> Any:
        """One `POST /info` with `body`; typed SourceError on failure."""
        return self.upstream.post_json(INFO, body)

    def listing(self) -> list[Instrument]:
        """Every perpetual (`meta`), fetched at most once per LISTING_SECONDS."""
        with self._listing_lock:
            cached = self._listing.get("meta")
            if cached is None:
                cached = self._listing["meta"] = parse_listing(self.info({"type": "meta"}))
            return cached

    def snapshot_open_interest(self) -> pd.DataFrame:
        """Every listed coin's open interest now (USD), one row per asset, `ts` the time of asking."""
        at = pd.Timestamp(self.clock(), unit="s", tz="UTC")
        return parse_open_interest(self.info({"type": "metaAndAssetCtxs"}), at)

    def _series(self, body: Callable[[int, int], dict], ts_key: str, step_ms: int, limit: int) -> Series:
        """Windows of one series; `body(lo, last)` is the request for [lo, last] (inclusive ms)."""

        def ask(what: str, lo: int, hi: int) -> list:
            return _rows(self.info(body(lo, hi - 1)), what)

        return Series(NAME, ask, lambda row: row[ts_key], step_ms, limit)

    def _candles(self, query: Query, instrument: Instrument) -> pd.DataFrame:
        step = INTERVAL_SECONDS[query.interval] * 1000
        now = ms(pd.Timestamp(self.clock(), unit="s", tz="UTC"))
        earliest = now - now % step - (CANDLE_HISTORY - 1) * step
        if ms(query.end) <= earliest:
            raise NoCoverage(
                f"{NAME} keeps only the most recent {CANDLE_HISTORY:,} {query.interval} candles (since "
                f"{pd.Timestamp(earliest, unit='ms', tz='UTC'):%Y-%m-%d %H:%M} UTC); pick a coarser interval."
            )
        coin = instrument.symbol

        def body(lo: int, last: int) -> dict:
            req = {"coin": coin, "interval": INTERVALS[query.interval], "startTime": lo, "endTime": last}
            return {"type": "candleSnapshot", "req": req}

        series = self._series(body, "t", step, CANDLE_LIMIT)
        rows = series.gather(["candleSnapshot"], max(ms(query.start), earliest), ms(query.end))["candleSnapshot"]
        return parse_candles(rows, instrument)

    def _funding(self, query: Query, instrument: Instrument) -> pd.DataFrame:
        coin = instrument.symbol

        def body(lo: int, last: int) -> dict:
            return {"type": "fundingHistory", "coin": coin, "startTime": lo, "endTime": last}

        series = self._series(body, "time", FUNDING_STEP_MS, FUNDING_LIMIT)
        rows = series.gather(["fundingHistory"], ms(query.start), ms(query.end))["fundingHistory"]
        return parse_funding(rows, instrument.asset)

    def _open_interest(self, query: Query) -> pd.DataFrame:
        """The current row, for a window through now or ending under CURRENT_SLACK ago (a collector asks
        [last, its now)); stamped now, or the window's last ms when it ended just before."""
        now = pd.Timestamp(self.clock(), unit="s", tz="UTC")
        if not query.start <= now < query.end + CURRENT_SLACK:
            raise NoCoverage(OPEN_INTEREST_HISTORY)
        at = min(now, query.end - pd.Timedelta(milliseconds=1))
        snapshot = parse_open_interest(self.info({"type": "metaAndAssetCtxs"}), at)
        row = snapshot[snapshot["asset"] == query.asset].reset_index(drop=True)
        if row.empty:
            raise UnknownSymbol(f"{NAME} does not list a {query.asset} perpetual.")
        return row

    def _liquidations(self, query: Query) -> pd.DataFrame:
        if self.liquidations is None:
            raise NoCoverage(NO_LIQUIDATIONS)
        try:
            frame = self.liquidations.events(query.asset, query.start, query.end)
        except SourceError:
            raise
        except Exception as error:  # a third-party plug-in: its failure is a sentence, not a traceback
            raise BadPayload(f"The {NAME} liquidation plug-in failed: {type(error).__name__}: {error}.") from None
        return _plugged(frame, query.asset, query.start, query.end)

    def fetch(self, dataset: Dataset, query: Query) -> pd.DataFrame:
        """The normalized frame for one asset; raises a typed SourceError (NoCoverage for what HL lacks)."""
        if dataset == "liquidations":
            return self._liquidations(query)
        if dataset == "ratios":
            raise NoCoverage(NO_RATIOS)
        if dataset == "open_interest":
            return self._open_interest(query)
        instrument = symbol(query.asset, self.listing())
        if dataset == "candles":
            return self._candles(query, instrument)
        return self._funding(query, instrument)


# ---------------------------------------------------------------- venue registry interface (`venues/__init__.py`)

STREAM = None  # no public liquidation subscription (see the module docstring)
LIQUIDATION_HISTORY: pd.Timedelta | None = None
LIQUIDATION_NOTE: str | None = "no public market-wide liquidation feed (not covered unless a plug-in is set)"
LOWER_BOUND: str | None = None


def fetch_listing(upstream: Upstream) -> list[Instrument]:
    """Every perpetual of the main dex: one `{"type":"meta"}` request."""
    return parse_listing(upstream.post_json(INFO, {"type": "meta"}))


def parse_tickers(raw: Any, listing: Mapping[str, Instrument]) -> dict[str, float]:
    """`POST /info {"type":"metaAndAssetCtxs"}` -> open interest per coin, USD (`openInterest` x `markPx`,
    `parse_open_interest`); the answer names its coins itself, so `listing` is not needed."""
    frame = parse_open_interest(raw, pd.Timestamp.now(tz="UTC"))
    return {str(asset): float(usd) for asset, usd in frame.groupby("asset")["usd"].sum().items()}


TICKERS = Tickers(
    "open interest", lambda upstream: upstream.post_json(INFO, {"type": "metaAndAssetCtxs"}), parse_tickers
)


def probe(upstream: Upstream) -> None:
    """Ask for `meta`; typed SourceError when the venue does not answer."""
    _universe(upstream.post_json(INFO, {"type": "meta"}), "meta")


def adapter(base_url: str, timeout: float, resolve: Callable[[str], Instrument]) -> HyperliquidAdapter:
    """The REST adapter the live source uses, with the liquidation plug-in named by LIQUIDATIONS_SETTING
    (one that cannot be loaded is logged and left out, so liquidations say "not covered")."""
    plugin = None
    spec = settings.read(LIQUIDATIONS_SETTING)
    if spec:
        try:
            plugin = load_liquidation_source(spec)
        except ValueError as error:
            log.warning("%s", error)
    return HyperliquidAdapter(base_url, timeout, liquidations=plugin)
