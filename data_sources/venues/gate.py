"""Gate futures APIv4, USDT-settled perpetuals: candles, the contract list, funding, `contract_stats`
(long/short ratios, open interest and per-side liquidation totals) and the `futures.public_liquidates` stream.

Facts and sources: `shared/reference/more-venues.md` §1 (Gate docs via coincise and gateapi-python, ccxt).

Formats. REST answers are bare lists or objects (no envelope); an error is a non-2xx status with
`{"label": "...", "message": "..."}` (`CONTRACT_NOT_FOUND`, `INVALID_PARAM_VALUE`, 429
`TOO_MANY_REQUESTS`). Times are UNIX SECONDS in REST (`t`, `time`, `from`, `to`); the stream adds ms.

Units. Sizes are CONTRACTS (candle `v`, `*_size`, `open_interest`, stream `size`): coins = contracts x
`quanto_multiplier` from `/futures/usdt/contracts` (BTC_USDT 0.0001, so reading contracts as coins is
10,000x too much). Prices are USD per one coin (names are plain, `PEPE_USDT`: the scale is in the
multiplier). Candle `sum` and `contract_stats` `*_usd` are quote (USDT) amounts, used as USD.

Liquidations, and the SIDE CONVENTION:
- History over REST: `contract_stats` per-bucket official totals, sides NAMED BY THE FIELD:
  `long_liq_usd` = long positions liquidated in the bucket, `short_liq_usd` = shorts (gateapi-python
  `ContractStat.md`). They become bucket rows like Coinalyze's (`usd` per side at the bucket's start,
  price and qty unknown). `long_liq_usd` ("quote currency") is used, not the 2026-04 `long_liq_usd_new`
  (size x multiplier x MARK price); the two differ by the mark-vs-fill gap.
- Stream `futures.public_liquidates` (`!all`): the side is the SIGN OF `size`, the liquidation ORDER's
  quantity in contracts: Gate signs order sizes (negative = sell) and a long is closed by a sell, so
  NEGATIVE size = a LONG was liquidated, positive = a short (more-venues.md §1.6 and §4.5; the docs'
  examples are negative; no Gate sentence states it: UNCONFIRMED, compare with `contract_stats`).
  Do not reuse this for REST `liq_orders`, whose `size` is the user's POSITION (positive = a long).
  Before 2026-08-20 the channel pushed at most one order per contract per second; since then every
  order, batched per contract per second (items `{price (float|string), size (int|decimal string),
  time_ms | time (ms), contract}`): both shapes are read.

Paging and limits.
- candles: `from`+`to` (never with `limit`, which Gate rejects alongside them), at most 2,000 points a
  request, and no further back than 10,000 points (1m: ~6.9 days): an older window is NoCoverage.
  No `2h` in the documented enum: 2h bars are built from 1h bars.
- contract_stats: `to` is ignored once `from` is set and rows come oldest first from `from` (third-party
  measurement), so pages walk forward from `from` by the newest `time` + one bucket; a full page that
  starts far past `from` is refused, not kept partial. Buckets 5m 15m 30m 1h 4h 1d.
- funding_rate: newest first, `from`/`to`/`limit` <= 1000; asked in windows that fit one page whichever
  end an over-full range keeps (`paging.Series`).
- contracts: `limit` <= 1000 and `offset`, until a short page.
- 200 requests per 10 s per endpoint per IP (`BUDGETS`).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd
import requests
from cachetools import TTLCache

from data_sources import decode
from data_sources.base import NoCoverage, Query, from_ms, ms
from data_sources.decode import Malformed
from data_sources.http import BadPayload, UnknownSymbol, Upstream, UpstreamError, json_body
from data_sources.instruments import Instrument, split_base
from data_sources.intervals import INTERVAL_SECONDS
from data_sources.paging import Series
from data_sources.schema import Dataset, conform, empty
from data_sources.streams import Reading, StreamProtocol, refusal
from data_sources.tickers import Tickers, usd_per_coin_units

ID = "gate"
NAME = "Gate"
URL_SETTING = "LIQSCOPE_GATE_URL"
DEFAULT_URL = "https://api.gateio.ws"
WS_SETTING = "LIQSCOPE_GATE_WS"
DEFAULT_WS = "wss://fx-ws.gateio.ws/v4/ws/usdt"

PREFIX = "/api/v4/futures/usdt"
CONTRACTS = f"{PREFIX}/contracts"
CANDLES = f"{PREFIX}/candlesticks"
STATS = f"{PREFIX}/contract_stats"
FUNDING = f"{PREFIX}/funding_rate"
TICKERS_PATH = f"{PREFIX}/tickers"
CHANNEL, PING_CHANNEL, PONG_CHANNEL = "futures.public_liquidates", "futures.ping", "futures.pong"

CONTRACTS_PAGE, CONTRACTS_MAX_PAGES = 1000, 20
CANDLE_LIMIT = 2000  # points per request (more is 400 "Candlestick range too broad")
CANDLE_DEPTH = 10_000  # points back from now ("Candlestick too long ago. Maximum 10000 points ago")
STATS_LIMIT = 100  # the SDK's bound (a third party saw up to 2000 accepted)
STATS_MAX_REQUESTS = 200
STATS_GAP_SECONDS = 86_400  # a full page starting later than this after `from` was not filled from `from`
FUNDING_LIMIT = 1000
CONTRACT_TTL_SECONDS = 86_400.0
FUNDING_STEP_MS = 3_600_000  # the shortest funding interval (1 h), so a funding window always fits one page
CANDLE_INTERVALS = {"1m": "1m", "5m": "5m", "15m": "15m", "30m": "30m", "1h": "1h", "2h": "1h", "4h": "4h", "1d": "1d"}
STATS_INTERVALS = {"1m": "5m", "5m": "5m", "15m": "15m", "30m": "30m", "1h": "1h", "2h": "1h", "4h": "4h", "1d": "1d"}
NATIVE_SECONDS = {"1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400, "1d": 86400}
RATIO_FIELDS = {
    "accounts": "lsr_account",
    "top_accounts": "top_lsr_account",
    "top_positions": "top_lsr_size",
    "taker": "lsr_taker",
}
STATUSES = {"trading": "trading", "prelaunch": "pending", "delisting": "settling", "delisted": "closed"}

_RATE_SOURCE = "more-venues.md §1 'Rate limit': 'All public endpoints: 200r/10s per endpoint', per IP (coincise)"
# (path prefix, limit, period seconds, counted per instrument?, source)
BUDGETS: tuple[tuple[str, int, float, bool, str], ...] = tuple(
    (path, 200, 10.0, False, _RATE_SOURCE) for path in (CONTRACTS, CANDLES, STATS, FUNDING, TICKERS_PATH)
)

log = logging.getLogger("liqscope.gate")


# ---------------------------------------------------------------- symbols and the contract list


def symbol(asset: str) -> str:
    """BTC -> BTC_USDT."""
    return f"{asset}_USDT"


def instrument(row: dict[str, Any]) -> Instrument | None:
    """One `/futures/usdt/contracts` row -> a linear Instrument (contract_size = `quanto_multiplier` coins);
    None for an inverse (`type` inverse, BTC-settled) row, whose USD contract value is not documented here.
    Raises KeyError/ValueError for a row without usable fields."""
    name = row["name"]
    base, _, quote = name.partition("_")
    if row["type"] != "direct" or quote != "USDT":
        return None
    asset, multiplier = split_base(base)  # plain names on Gate; a `1000X_USDT` would be priced per 1,000
    quanto = float(row["quanto_multiplier"])
    if not (math.isfinite(quanto) and quanto > 0):
        raise ValueError(f"quanto_multiplier {row['quanto_multiplier']!r}")
    status = "settling" if row.get("in_delisting") and row["status"] == "trading" else row["status"]
    status = STATUSES.get(status, str(status).lower())
    return Instrument(ID, name, asset, "linear", quote, quanto * multiplier, multiplier, status)


def parse_listing(raw: Any) -> list[Instrument]:
    """`GET /futures/usdt/contracts` rows (all pages) -> USDT perpetuals; a row without usable fields is logged
    and skipped."""
    if not isinstance(raw, list):
        raise BadPayload(f"{NAME} sent an unexpected answer for contracts (expected a list).")
    out: dict[str, Instrument] = {}
    for row in raw:
        try:
            found = instrument(row)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            name = row.get("name") if isinstance(row, dict) else None
            log.warning("%s listed %s without usable fields (%s); skipped.", NAME, name, error)
            continue
        if found is not None:
            out[found.symbol] = found
    return list(out.values())


def fetch_listing(upstream: Upstream, page: int = CONTRACTS_PAGE) -> list[Instrument]:
    """Every USDT contract, paged by `limit`/`offset` until a short page."""
    rows: list[Any] = []
    for index in range(CONTRACTS_MAX_PAGES):
        batch = _rows(upstream.get_json(CONTRACTS, {"limit": page, "offset": index * page}), "contracts")
        rows += batch
        if len(batch) < page:
            return parse_listing(rows)
    raise BadPayload(f"{NAME} kept paging contracts past {CONTRACTS_MAX_PAGES} pages; try again later.")


# ---------------------------------------------------------------- parsers (pure)


def _rows(raw: Any, what: str) -> list:
    if not isinstance(raw, list):
        raise BadPayload(f"{NAME} sent an unexpected answer for {what} (expected a list).")
    return raw


def _frame(rows: list[dict], asset: str, ts_key: str) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["ts"] = from_ms(pd.to_numeric(frame[ts_key]) * 1000)
    frame["exchange"], frame["asset"] = ID, asset
    return frame


def parse_candles(raw: Any, asset: str, contract_size: float) -> pd.DataFrame:
    """`/candlesticks` rows `{t (s), v (contracts), c, h, l, o (strings), sum (quote volume)}` -> candles;
    volume in coins = `v` x `contract_size` (the contract's `quanto_multiplier`)."""
    rows = _rows(raw, "candles")
    if not rows:
        return empty("candles")
    frame = _frame(rows, asset, "t")
    for column, key in (("open", "o"), ("high", "h"), ("low", "l"), ("close", "c"), ("quote_volume", "sum")):
        frame[column] = pd.to_numeric(frame[key])
    frame["volume"] = pd.to_numeric(frame["v"]) * contract_size
    return conform("candles", frame)


def coarser(candles: pd.DataFrame, seconds: int) -> pd.DataFrame:
    """Candles merged into UTC-aligned bars of `seconds` (2h from 1h: Gate documents no 2h interval)."""
    if candles.empty:
        return candles
    bars = candles.groupby([candles["ts"].dt.floor(f"{seconds}s"), "exchange", "asset"], sort=True)
    frame = bars.agg(
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        volume=("volume", "sum"),
        quote_volume=("quote_volume", "sum"),
    ).reset_index()
    return conform("candles", frame)


def _stats_frame(raw: Any, asset: str) -> pd.DataFrame | None:
    rows = _rows(raw, "contract_stats")
    return _frame(rows, asset, "time") if rows else None


def parse_ratios(raw: Any, asset: str) -> pd.DataFrame:
    """`contract_stats` ratios (longs per short: `lsr_account` accounts, `top_lsr_account` top-trader accounts,
    `top_lsr_size` top-trader positions, `lsr_taker` taker volume) -> shares r / (1 + r); a bucket without a
    ratio is left out."""
    frame = _stats_frame(raw, asset)
    if frame is None:
        return empty("ratios")
    frames = []
    for kind, key in RATIO_FIELDS.items():
        if key not in frame:
            continue
        ratio = pd.to_numeric(frame[key])
        part = frame.assign(kind=kind, ratio=ratio, long_share=ratio / (1 + ratio), short_share=1 / (1 + ratio))
        frames.append(part[ratio.notna() & (ratio >= 0)])
    return conform("ratios", pd.concat(frames, ignore_index=True)) if frames else empty("ratios")


def parse_open_interest(raw: Any, asset: str) -> pd.DataFrame:
    """`contract_stats` `open_interest_usd` (quote currency) per bucket."""
    frame = _stats_frame(raw, asset)
    if frame is None:
        return empty("open_interest")
    frame["usd"] = pd.to_numeric(frame["open_interest_usd"])
    return conform("open_interest", frame)


def parse_liquidations(raw: Any, asset: str) -> pd.DataFrame:
    """`contract_stats` per-bucket totals -> one row per non-zero side at the bucket's start: `long_liq_usd` is
    side "long", `short_liq_usd` side "short"; `usd` set, `price`/`qty` unknown (NaN), as Coinalyze buckets."""
    rows = _rows(raw, "contract_stats")
    out = []
    for row in rows:
        for key, side in (("long_liq_usd", "long"), ("short_liq_usd", "short")):
            usd = float(row.get(key) or 0.0)
            if usd > 0:
                out.append({"time": row["time"], "side": side, "usd": usd})
    if not out:
        return empty("liquidations")
    frame = _frame(out, asset, "time")
    frame["price"] = frame["qty"] = float("nan")
    return conform("liquidations", frame)


def parse_funding(raw: Any, asset: str) -> pd.DataFrame:
    """`/funding_rate` rows `{t (s), r (string fraction per period)}`, newest first."""
    rows = _rows(raw, "funding")
    if not rows:
        return empty("funding")
    frame = _frame(rows, asset, "t")
    frame["rate"] = pd.to_numeric(frame["r"])
    return conform("funding", frame)


def classify(response: requests.Response) -> UpstreamError | None:
    """4xx bodies `{"label", "message"}`: CONTRACT_NOT_FOUND -> UnknownSymbol, others carry the venue's words
    (429 and 5xx keep the shared messages)."""
    body = json_body(response)
    if response.status_code == 429 or response.status_code >= 500 or not isinstance(body, dict):
        return None
    label, message = body.get("label"), body.get("message") or "no message"
    if label == "CONTRACT_NOT_FOUND":
        return UnknownSymbol(f"{NAME} does not list this contract ({message}).")
    if label is None:
        return None
    return UpstreamError(f"{NAME} rejected the request (HTTP {response.status_code} {label}): {message}")


# ---------------------------------------------------------------- REST adapter


def _at(seconds: int) -> str:
    return f"{pd.Timestamp(seconds, unit='s', tz='UTC'):%Y-%m-%d %H:%M} UTC"


class GateAdapter:
    """Gate USDT perpetuals behind the source interface's `fetch`."""

    def __init__(self, base_url: str, timeout: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.upstream = Upstream(NAME, base_url, URL_SETTING, timeout, classify=classify)
        self._contracts: TTLCache[str, tuple[Instrument, int]] = TTLCache(1024, CONTRACT_TTL_SECONDS, timer=clock)
        self._lock = threading.Lock()

    def contract(self, name: str) -> tuple[Instrument, int]:
        """(instrument, launch time in s) of one contract from `/contracts/{name}`, kept for a day (Gate may change a
        contract's `quanto_multiplier`)."""
        with self._lock:
            cached = self._contracts.get(name)
        if cached is not None:
            return cached
        row = self.upstream.get_json(f"{CONTRACTS}/{name}", {})
        try:
            found = instrument(row) if isinstance(row, dict) else None
            launch = int(row.get("launch_time") or 0) if found else 0
        except (KeyError, TypeError, ValueError) as error:
            raise BadPayload(f"{NAME} sent contract {name} without usable fields ({error}).") from None
        if found is None:
            raise UnknownSymbol(f"{NAME} lists no USDT-settled linear contract {name}.")
        with self._lock:
            self._contracts[name] = (found, launch)
        return found, launch

    def fetch(self, dataset: Dataset, query: Query) -> pd.DataFrame:
        """The normalized frame for one asset; raises a typed SourceError."""
        name = symbol(query.asset)
        if dataset == "candles":
            return self._candles(name, query)
        if dataset == "funding":
            series = Series(NAME, self._ask({"contract": name}), _t_ms, FUNDING_STEP_MS, FUNDING_LIMIT)
            return parse_funding(series.gather([FUNDING], ms(query.start), ms(query.end))[FUNDING], query.asset)
        rows = self.stats(name, STATS_INTERVALS[query.interval], query)
        parse = {"ratios": parse_ratios, "open_interest": parse_open_interest, "liquidations": parse_liquidations}
        return parse[dataset](rows, query.asset)

    def _ask(self, params: dict[str, Any]) -> Callable[[str, int, int], list]:
        """A `paging.Series` request: rows of [lo, hi) ms as Gate's inclusive `from`/`to` seconds."""

        def ask(path: str, lo: int, hi: int) -> list:
            window = {"from": lo // 1000, "to": -(-hi // 1000) - 1}
            if path == FUNDING:
                window["limit"] = FUNDING_LIMIT
            return _rows(self.upstream.get_json(path, {**params, **window}), path)

        return ask

    def _candles(self, name: str, query: Query) -> pd.DataFrame:
        """Candles in windows of < 2,000 points, from no earlier than 10,000 points ago (NoCoverage before)."""
        native = CANDLE_INTERVALS[query.interval]
        step = NATIVE_SECONDS[native]
        earliest = (int(self.clock()) // step - (CANDLE_DEPTH - 1)) * step
        if query.end <= pd.Timestamp(earliest, unit="s", tz="UTC"):
            raise NoCoverage(
                f"{NAME} serves only the latest {CANDLE_DEPTH:,} {native} candles (since {_at(earliest)}); "
                "pick a later window or a coarser interval."
            )
        contract, _ = self.contract(name)
        series = Series(NAME, self._ask({"contract": name, "interval": native}), _t_ms, step * 1000, CANDLE_LIMIT)
        rows = series.gather([CANDLES], max(ms(query.start), earliest * 1000), ms(query.end))[CANDLES]
        frame = parse_candles(rows, query.asset, contract.contract_size)
        if query.interval == native:
            return frame
        merged = coarser(frame, INTERVAL_SECONDS[query.interval])
        return merged[merged["ts"] >= query.start].reset_index(drop=True)  # a bar opening before start is partial

    def stats(self, name: str, interval: str, query: Query) -> list[dict]:
        """`contract_stats` rows of [start, end), ascending, one per bucket: pages walk forward from `from`
        (from the contract's launch at the earliest); a full page starting more than a day past `from` is
        refused (rows may be missing), as is a walk of more than STATS_MAX_REQUESTS pages."""
        _, launch = self.contract(name)
        step = NATIVE_SECONDS[interval]
        start, end = int(query.start.timestamp()), math.ceil(query.end.timestamp())
        cursor = max(start, launch // step * step)
        rows: dict[int, dict] = {}
        for _ in range(STATS_MAX_REQUESTS):
            if cursor >= end:
                break
            params = {"contract": name, "interval": interval, "from": cursor, "limit": STATS_LIMIT}
            page = _rows(self.upstream.get_json(STATS, params), "contract_stats")
            times = sorted(int(row["time"]) for row in page)
            if len(page) >= STATS_LIMIT and times[0] > cursor + STATS_GAP_SECONDS:
                raise BadPayload(
                    f"{NAME} answered contract_stats from {_at(cursor)} with a full page starting {_at(times[0])}; "
                    "rows in between may be missing, so the answer was not used."
                )
            for row in page:
                if start <= int(row["time"]) < end:
                    rows.setdefault(int(row["time"]), row)
            if len(page) < STATS_LIMIT:
                break
            cursor = times[-1] + step
        else:
            raise BadPayload(
                f"{NAME} needed more than {STATS_MAX_REQUESTS} contract_stats requests for {_at(start)} to "
                f"{_at(end)}; pick a shorter window or a coarser interval."
            )
        return [rows[t] for t in sorted(rows)]


def _t_ms(row: dict) -> int:
    """A candle's or funding row's `t` (seconds) in epoch ms."""
    return int(row["t"]) * 1000


# ---------------------------------------------------------------- stream


def _signed(item: dict[str, Any], key: str, path: str) -> float:
    """The finite non-zero number at `item[key]` (an integer, or a decimal string with `X-Gate-Size-Decimal`)."""
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise Malformed(f"'{path}{key}' is missing or not a number")
    try:
        number = float(value)
    except ValueError:
        raise Malformed(f"'{path}{key}' is not a number") from None
    if not math.isfinite(number) or number == 0:
        raise Malformed(f"'{path}{key}' is not a non-zero number")
    return number


def _item_ms(item: dict[str, Any], path: str) -> int:
    """`time_ms`, else `time` (ms since 2026-08); a value that is not epoch ms (e.g. seconds) is Malformed."""
    ts = decode.epoch_ms(item, "time_ms" if "time_ms" in item else "time", path)
    if ts < 10**12:
        raise Malformed(f"'{path}time' is not epoch milliseconds")
    return ts


class GateStream(StreamProtocol):
    """`wss://fx-ws.gateio.ws/v4/ws/usdt`, channel `futures.public_liquidates` with payload `["!all"]`; the
    heartbeat is the application ping `futures.ping`, answered by `futures.pong`. See the module docstring
    for the side convention (negative `size` = a long was liquidated)."""

    def __init__(
        self,
        url: str,
        instruments: Iterable[Instrument],
        assets: frozenset[str] | None = None,
        heartbeat: float = 20.0,
        silence: float = 30.0,
    ) -> None:
        super().__init__(ID, url, assets, None, heartbeat, silence)
        self.update(instruments)

    @property  # type: ignore[override]
    def ping(self) -> str:
        """`{"time": now (s), "channel": "futures.ping"}`, built at each send (Gate reads request times)."""
        return json.dumps({"time": int(time.time()), "channel": PING_CHANNEL})

    @ping.setter
    def ping(self, _value: object) -> None:
        """The heartbeat is always the application ping above (the dataclass init assigns this field)."""

    def requests(self, connection: int, done: int) -> tuple[list[tuple[str, str]], int]:
        """The one `!all` subscription, sent once per connection."""
        message = {"time": int(time.time()), "channel": CHANNEL, "event": "subscribe", "payload": ["!all"]}
        return ([(CHANNEL, json.dumps(message))] if done == 0 else []), 1

    def read(self, raw: str) -> Reading:
        """Acks `{"event":"subscribe","result":{"status":"success"}}`, refusals `{"error":{code,message}}`, pongs,
        and pushes `{"event":"update","result":[{contract, price, size (signed), time_ms|time}]}`."""
        message = decode.obj(decode.load(raw), "message")
        channel = message.get("channel")
        if channel == PONG_CHANNEL:
            return Reading()
        if channel != CHANNEL:
            raise Malformed(f"'channel' is not {CHANNEL}")
        error = message.get("error")
        if error is not None:
            words = error.get("message") if isinstance(error, dict) else error
            return Reading(refused=refusal(words, error.get("code") if isinstance(error, dict) else None))
        event = message.get("event")
        if event == "subscribe":
            status = decode.obj(message.get("result"), "result").get("status")
            return Reading(confirmed=True) if status == "success" else Reading(refused=refusal(status))
        if event != "update":
            raise Malformed("'event' is not subscribe or update")
        events, unknown = [], []
        path = "result[]."
        for item in decode.rows(message.get("result"), "result"):
            contract = decode.text(item, "contract", path)
            size = _signed(item, "size", path)
            side = "long" if size < 0 else "short"  # the order's sign: a sell (negative) closes a long
            price = decode.positive(item, "price", path)
            if found := self._event(contract, _item_ms(item, path), side, price, abs(size), unknown):
                if not found.qty > 0:  # a size so small that contracts x multiplier underflows to 0 coins
                    raise Malformed(f"'{path}size' is too small to be a quantity")
                events.append(found)
        return Reading(events, confirmed=True, unknown=tuple(unknown))


# ---------------------------------------------------------------- venue registry interface (`venues/__init__.py`)

STREAM = GateStream
# contract_stats reaches back to each contract's launch: REST covers any window the recorder did not.
LIQUIDATION_HISTORY: pd.Timedelta | None = pd.Timedelta(days=36_500)
LIQUIDATION_NOTE: str | None = "official contract_stats per-side buckets (USD only) where not recorded"
LOWER_BOUND: str | None = None


def parse_tickers(raw: Any, listing: Mapping[str, Instrument]) -> dict[str, float]:
    """`GET /futures/usdt/tickers` -> open interest per coin, USD: `total_size` is CONTRACTS, so coins =
    `total_size` x `quanto_multiplier` (from the listing), valued at `mark_price` (more-venues.md §1.5)."""
    return usd_per_coin_units(_rows(raw, "tickers"), listing, "contract", "mark_price", "total_size")


TICKERS = Tickers("open interest", lambda upstream: upstream.get_json(TICKERS_PATH, {}), parse_tickers)


def probe(upstream: Upstream) -> None:
    """Ask for one contract of the list (Gate futures has no server-time endpoint); typed SourceError if none."""
    _rows(upstream.get_json(CONTRACTS, {"limit": 1}), "contracts")


def adapter(base_url: str, timeout: float, resolve: Callable[[str], Instrument]) -> GateAdapter:
    """The REST adapter the live source uses (`resolve` is unused: Gate reads its contract per symbol)."""
    return GateAdapter(base_url, timeout)
