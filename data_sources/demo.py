"""The built-in demo market: deterministic, simulated, and labelled as such.

Seven majors plus a long tail of twelve small caps (`LONG_TAIL`) on three exchanges
from 2025-04-24 to 2025-05-22 (UTC), with 1-minute
candles, individual liquidation events, 5-minute long/short ratios and open
interest, and 8-hourly funding. Ordinary days are random walks with small
liquidation flows; 2025-05-08 replays the shape of that day's short squeeze (ETH
about +20 %, over $800M of shorts liquidated, 84 % of the total), and 2025-05-19
is a long squeeze for contrast. Every number comes from a seeded generator, so
the same query always returns the same frame. The majors' calibration is the
story's; the long tail adds its own smaller flows on top (the whole market on
2025-05-08 is about $1.1B). `INSTRUMENTS` lists the demo's perpetuals in each venue's
own naming (`1000PEPEUSDT` on Binance and Bybit, `SHIB1000USDT` on Bybit, OKX swaps
with their `ctVal`; POPCAT is not listed on OKX), so the whole-market views, the
selector and "not listed" are exercised offline. Frames are always in the schema's
units (USD per one coin, coins).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from data_sources.base import NoCoverage, Query, SourceError
from data_sources.instruments import Instrument
from data_sources.intervals import INTERVAL_SECONDS
from data_sources.schema import ALL_ASSETS, ASSETS, EXCHANGE_NAMES, EXCHANGES, RATIO_KINDS, Dataset, conform, empty
from data_sources.universe import Ranking, Universe, order, rank

START = pd.Timestamp("2025-04-24", tz="UTC")
END = pd.Timestamp("2025-05-23", tz="UTC")
SEED_DAY = pd.Timestamp("2025-05-08", tz="UTC")
SQUEEZE_DAY = pd.Timestamp("2025-05-19", tz="UTC")
DAYS = (END - START).days
MINUTES_PER_DAY = 1440

SEED_DAY_OPEN = {"BTC": 97_300.0, "ETH": 1_810.0, "SOL": 146.0, "XRP": 2.13, "DOGE": 0.176, "ADA": 0.70, "BNB": 598.0}
SEED_DAY_RETURN = {"BTC": 0.045, "ETH": 0.204, "SOL": 0.09, "XRP": 0.07, "DOGE": 0.12, "ADA": 0.13, "BNB": 0.08}
SQUEEZE_DAY_RETURN = {
    "BTC": -0.035,
    "ETH": -0.06,
    "SOL": -0.07,
    "XRP": -0.055,
    "DOGE": -0.08,
    "ADA": -0.075,
    "BNB": -0.04,
}
DAILY_VOL = {"BTC": 0.018, "ETH": 0.03, "SOL": 0.035, "XRP": 0.03, "DOGE": 0.04, "ADA": 0.035, "BNB": 0.02}

SEED_DAY_LIQUIDATIONS_USD = {
    "BTC": 375e6,
    "ETH": 310e6,
    "SOL": 75e6,
    "XRP": 55e6,
    "DOGE": 70e6,
    "ADA": 35e6,
    "BNB": 45e6,
}
SEED_DAY_SHORT_SHARE = {"BTC": 0.82, "ETH": 0.86, "SOL": 0.84, "XRP": 0.83, "DOGE": 0.86, "ADA": 0.85, "BNB": 0.83}
SQUEEZE_DAY_LIQUIDATIONS_USD = 420e6
SQUEEZE_DAY_LONG_SHARE = 0.86
ORDINARY_DAY_LIQUIDATIONS_USD = {
    "BTC": 24e6,
    "ETH": 18e6,
    "SOL": 6e6,
    "XRP": 4e6,
    "DOGE": 4.5e6,
    "ADA": 2e6,
    "BNB": 1.5e6,
}
MEAN_EVENT_USD = {
    "BTC": 45_000,
    "ETH": 30_000,
    "SOL": 12_000,
    "XRP": 10_000,
    "DOGE": 10_000,
    "ADA": 7_000,
    "BNB": 8_000,
}
EXCHANGE_LIQUIDATION_SHARE = {"binance": 0.38, "okx": 0.32, "bybit": 0.30}
# Each day and asset the venues' liquidation shares wander around EXCHANGE_LIQUIDATION_SHARE: log-normal noise of
# this scale, renormalized (the story day's noise is smaller so Binance and OKX still lead its shorts).
SHARE_NOISE = 0.25
SEED_DAY_SHARE_NOISE = 0.05
# On the two story days this fraction of a side's liquidations follows the cascade (where the day's trend moves
# fastest, see `_trend_shape`); the rest follows minute-by-minute price moves as on ordinary days.
CASCADE_WEIGHT = 0.8
# The venues the demo simulates: the original three. Every other registered venue reads NOT_IN_DEMO (not covered).
DEMO_EXCHANGES: tuple[str, ...] = tuple(EXCHANGE_LIQUIDATION_SHARE)
NOT_IN_DEMO = "{name} is not in the demo market (it simulates {venues} only)."
EXCHANGE_VOLUME_SHARE = {"binance": 0.45, "okx": 0.25, "bybit": 0.30}
EXCHANGE_BASIS = {"binance": 0.0, "okx": 0.0002, "bybit": -0.0001}
DAILY_VOLUME_USD = {"BTC": 12e9, "ETH": 8e9, "SOL": 2.5e9, "XRP": 1.5e9, "DOGE": 1.2e9, "ADA": 0.5e9, "BNB": 0.4e9}
OPEN_INTEREST_USD = {"BTC": 6e9, "ETH": 3.5e9, "SOL": 1.2e9, "XRP": 0.8e9, "DOGE": 0.7e9, "ADA": 0.3e9, "BNB": 0.25e9}
ACCOUNT_LONG_SHARE = {"binance": 0.64, "okx": 0.56, "bybit": 0.60}
RATIO_STEP = pd.Timedelta(minutes=5)
# AR(1) coefficient of taker buy/sell imbalance per 5-minute step: flow imbalances last about half an hour.
TAKER_PERSISTENCE = 0.85
FUNDING_HOURS = (0, 8, 16)


@dataclass(frozen=True)
class TailCoin:
    """A long-tail coin's calibration: the seed day's open (USD) and return, the squeeze day's return, daily
    volatility, seed-day and ordinary-day liquidations (USD, all venues), mean event size, volume and OI (USD)."""

    open: float
    seed_return: float
    squeeze_return: float
    vol: float
    seed_liquidations: float
    ordinary_liquidations: float
    mean_event: float
    volume: float
    open_interest: float


LONG_TAIL: dict[str, TailCoin] = {
    "SUI": TailCoin(3.45, 0.10, -0.07, 0.05, 18e6, 2.5e6, 6_000, 0.9e9, 0.60e9),
    "HYPE": TailCoin(21.5, 0.07, -0.05, 0.05, 12e6, 2.0e6, 6_000, 0.6e9, 0.50e9),
    "PEPE": TailCoin(0.0000095, 0.17, -0.075, 0.06, 30e6, 2.5e6, 5_000, 0.8e9, 0.45e9),
    "WIF": TailCoin(0.68, 0.16, -0.07, 0.06, 15e6, 1.5e6, 4_000, 0.4e9, 0.25e9),
    "ENA": TailCoin(0.33, 0.13, -0.065, 0.055, 9e6, 1.0e6, 3_500, 0.3e9, 0.20e9),
    "TRUMP": TailCoin(21.0, 0.05, -0.04, 0.05, 8e6, 1.0e6, 4_000, 0.3e9, 0.18e9),
    "TAO": TailCoin(380.0, 0.11, -0.06, 0.05, 6e6, 0.8e6, 4_000, 0.2e9, 0.15e9),
    "SHIB": TailCoin(0.0000135, 0.08, -0.05, 0.045, 8e6, 0.8e6, 3_000, 0.2e9, 0.12e9),
    "BONK": TailCoin(0.0000185, 0.15, -0.07, 0.06, 10e6, 0.9e6, 3_000, 0.25e9, 0.12e9),
    "FARTCOIN": TailCoin(1.05, 0.12, -0.07, 0.07, 6e6, 0.7e6, 3_000, 0.25e9, 0.10e9),
    "FLOKI": TailCoin(0.000075, 0.14, -0.065, 0.06, 7e6, 0.6e6, 3_000, 0.15e9, 0.08e9),
    "POPCAT": TailCoin(0.28, 0.18, -0.075, 0.07, 6e6, 0.5e6, 2_500, 0.1e9, 0.05e9),
}
LONG_TAIL_SHORT_SHARE = 0.86
LONG_TAIL_SQUEEZE_LIQUIDATIONS_USD = 60e6
# The demo's coins: the majors first (the default view), then the long tail by open interest.
UNIVERSE: tuple[str, ...] = (*ASSETS, *LONG_TAIL)
SEED_DAY_OPEN |= {a: c.open for a, c in LONG_TAIL.items()}
SEED_DAY_RETURN |= {a: c.seed_return for a, c in LONG_TAIL.items()}
SQUEEZE_DAY_RETURN |= {a: c.squeeze_return for a, c in LONG_TAIL.items()}
DAILY_VOL |= {a: c.vol for a, c in LONG_TAIL.items()}
SEED_DAY_LIQUIDATIONS_USD |= {a: c.seed_liquidations for a, c in LONG_TAIL.items()}
SEED_DAY_SHORT_SHARE |= dict.fromkeys(LONG_TAIL, LONG_TAIL_SHORT_SHARE)
MEAN_EVENT_USD |= {a: c.mean_event for a, c in LONG_TAIL.items()}
DAILY_VOLUME_USD |= {a: c.volume for a, c in LONG_TAIL.items()}
OPEN_INTEREST_USD |= {a: c.open_interest for a, c in LONG_TAIL.items()}

# Each venue's naming for the demo's perpetuals: (base name, OKX ctVal); a 1000x base quotes per 1,000 coins.
SCALED_BASES: dict[str, dict[str, str]] = {
    "binance": {"PEPE": "1000PEPE", "SHIB": "1000SHIB", "BONK": "1000BONK", "FLOKI": "1000FLOKI"},
    "bybit": {"PEPE": "1000PEPE", "SHIB": "SHIB1000", "BONK": "1000BONK", "FLOKI": "1000FLOKI"},
}
OKX_CT_VAL: dict[str, float] = {
    "BTC": 0.01, "ETH": 0.1, "SOL": 1.0, "XRP": 100.0, "DOGE": 1000.0, "ADA": 100.0, "BNB": 0.01,
    "SUI": 1.0, "HYPE": 0.1, "PEPE": 10_000_000.0, "WIF": 1.0, "ENA": 10.0, "TRUMP": 0.1, "TAO": 0.01,
    "SHIB": 1_000_000.0, "BONK": 100_000.0, "FARTCOIN": 1.0, "FLOKI": 100_000.0,
}  # fmt: skip
NOT_LISTED: frozenset[tuple[str, str]] = frozenset({("okx", "POPCAT")})


def _instrument(exchange: str, asset: str) -> Instrument:
    """The demo's perpetual for `asset` on `exchange`, in that venue's naming and units."""
    if exchange == "okx":
        return Instrument("okx", f"{asset}-USDT-SWAP", asset, "linear", "USDT", OKX_CT_VAL[asset], 1.0, "trading")
    base = SCALED_BASES[exchange].get(asset, asset)
    multiplier = 1000.0 if base != asset else 1.0
    return Instrument(exchange, f"{base}USDT", asset, "linear", "USDT", multiplier, multiplier, "trading")


INSTRUMENTS: tuple[Instrument, ...] = tuple(
    _instrument(exchange, asset)
    for exchange in DEMO_EXCHANGES
    for asset in UNIVERSE
    if (exchange, asset) not in NOT_LISTED
)


def _rng(*parts: str) -> np.random.Generator:
    """A generator seeded by a stable hash of `parts` (same input, same numbers)."""
    return np.random.default_rng(zlib.crc32(":".join(("liqscope-demo", *parts)).encode()))


def _day_returns(asset: str) -> np.ndarray:
    """Close-over-open return of each demo day, with the two story days fixed."""
    returns = _rng(asset, "days").normal(0.002, DAILY_VOL[asset], DAYS).clip(-0.06, 0.06)
    returns[(SEED_DAY - START).days] = SEED_DAY_RETURN[asset]
    returns[(SQUEEZE_DAY - START).days] = SQUEEZE_DAY_RETURN[asset]
    return returns


# The story days' moves: (centre, width) of the logistic the day's trend follows, in fractions of a day
# (2025-05-08: fastest around 14:53 UTC; 2025-05-19: around 09:36 UTC).
STORY_MOVES: dict[pd.Timestamp, tuple[float, float]] = {SEED_DAY: (0.62, 0.07), SQUEEZE_DAY: (0.40, 0.05)}


def _trend_shape(day: pd.Timestamp) -> np.ndarray:
    """How a day's move unfolds over its minutes: 0 at the open, 1 at the close."""
    t = np.arange(1, MINUTES_PER_DAY + 1) / MINUTES_PER_DAY
    if day not in STORY_MOVES:
        return t
    centre, width = STORY_MOVES[day]
    logistic = 1 / (1 + np.exp(-(t - centre) / width))
    return (logistic - logistic[0] * (1 - t)) / logistic[-1]


def _cascade(day: pd.Timestamp) -> np.ndarray | None:
    """A story day's liquidation cascade: a probability per minute, peaked where the trend moves fastest
    (the square of the trend's slope, so most of the mass sits in a few hours); None on ordinary days."""
    if day not in STORY_MOVES:
        return None
    slope = np.diff(_trend_shape(day), prepend=0.0) ** 2
    return slope / slope.sum()


@lru_cache(maxsize=len(UNIVERSE))
def exchange_shares(asset: str) -> np.ndarray:
    """Each venue's share of `asset`'s liquidations per demo day: shape (DAYS, len(DEMO_EXCHANGES)), rows sum to 1.

    Seeded log-normal noise around EXCHANGE_LIQUIDATION_SHARE, so the split varies by day and by asset.
    """
    base = np.array([EXCHANGE_LIQUIDATION_SHARE[e] for e in DEMO_EXCHANGES])
    scale = np.full((DAYS, 1), SHARE_NOISE)
    scale[(SEED_DAY - START).days] = SEED_DAY_SHARE_NOISE
    shares = base * np.exp(_rng(asset, "exchange_shares").normal(0.0, 1.0, (DAYS, base.size)) * scale)
    return shares / shares.sum(axis=1, keepdims=True)


@lru_cache(maxsize=len(UNIVERSE))
def minute_closes(asset: str) -> np.ndarray:
    """The asset's reference 1-minute close path over the whole demo period."""
    returns = _day_returns(asset)
    seed_index = (SEED_DAY - START).days
    opens = np.empty(DAYS)
    opens[seed_index] = SEED_DAY_OPEN[asset]
    for i in range(seed_index - 1, -1, -1):
        opens[i] = opens[i + 1] / (1 + returns[i])
    for i in range(seed_index + 1, DAYS):
        opens[i] = opens[i - 1] * (1 + returns[i - 1])
    rng = _rng(asset, "minutes")
    minute_vol = DAILY_VOL[asset] / np.sqrt(MINUTES_PER_DAY)
    steps = np.arange(1, MINUTES_PER_DAY + 1) / MINUTES_PER_DAY
    path = np.empty(DAYS * MINUTES_PER_DAY)
    for i in range(DAYS):
        day = START + pd.Timedelta(days=i)
        walk = np.cumsum(rng.normal(0.0, minute_vol, MINUTES_PER_DAY))
        bridge = walk - steps * walk[-1]
        log_path = np.log1p(returns[i]) * _trend_shape(day) + bridge
        path[i * MINUTES_PER_DAY : (i + 1) * MINUTES_PER_DAY] = opens[i] * np.exp(log_path)
    return path


def _minute_index() -> pd.DatetimeIndex:
    return pd.date_range(START, END, freq="1min", inclusive="left", unit="ms")


@lru_cache(maxsize=len(UNIVERSE) * len(DEMO_EXCHANGES))
def _minute_candles(asset: str, exchange: str) -> pd.DataFrame:
    """1-minute candles for one asset on one exchange over the whole period."""
    rng = _rng(asset, exchange, "candles")
    close = minute_closes(asset) * (1 + EXCHANGE_BASIS[exchange])
    open_ = np.concatenate(([close[0]], close[:-1]))
    wick = np.abs(rng.normal(0, DAILY_VOL[asset] / np.sqrt(MINUTES_PER_DAY) / 2, (2, close.size)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    move = np.abs(np.log(close / open_)) / (DAILY_VOL[asset] / np.sqrt(MINUTES_PER_DAY))
    per_minute_usd = DAILY_VOLUME_USD[asset] * EXCHANGE_VOLUME_SHARE[exchange] / MINUTES_PER_DAY
    quote_volume = per_minute_usd * (0.4 + 0.6 * move) * rng.lognormal(0, 0.35, close.size)
    return pd.DataFrame(
        {
            "ts": _minute_index(),
            "exchange": exchange,
            "asset": asset,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": quote_volume / close,
            "quote_volume": quote_volume,
        }
    )


@dataclass(frozen=True)
class DayFlow:
    """Liquidated USD of one asset on one UTC day, by position side, all exchanges."""

    long_usd: float
    short_usd: float


def _ordinary(asset: str) -> float:
    """An ordinary day's liquidations of `asset`, USD, all venues."""
    tail = LONG_TAIL.get(asset)
    return tail.ordinary_liquidations if tail else ORDINARY_DAY_LIQUIDATIONS_USD[asset]


def _squeeze_day_total(asset: str) -> float:
    """The asset's part of 2025-05-19's long squeeze: each group's total shared by ordinary-day weight."""
    if asset in LONG_TAIL:
        weights = {a: c.ordinary_liquidations for a, c in LONG_TAIL.items()}
        return LONG_TAIL_SQUEEZE_LIQUIDATIONS_USD * weights[asset] / sum(weights.values())
    return SQUEEZE_DAY_LIQUIDATIONS_USD * _ordinary(asset) / sum(ORDINARY_DAY_LIQUIDATIONS_USD.values())


def day_flow(asset: str, day_index: int) -> DayFlow:
    """The calibrated liquidation totals of `asset` on demo day `day_index`."""
    day = START + pd.Timedelta(days=day_index)
    if day == SEED_DAY:
        total = SEED_DAY_LIQUIDATIONS_USD[asset]
        short_share = SEED_DAY_SHORT_SHARE[asset]
    elif day == SQUEEZE_DAY:
        total = _squeeze_day_total(asset)
        short_share = 1 - SQUEEZE_DAY_LONG_SHARE
    else:
        day_return = _day_returns(asset)[day_index]
        noise = _rng(asset, "flow").lognormal(0, 0.4, DAYS)[day_index]
        total = _ordinary(asset) * noise * (1 + 10 * abs(day_return))
        short_share = 1 / (1 + np.exp(-day_return / 0.012))
    return DayFlow(long_usd=total * (1 - short_share), short_usd=total * short_share)


@lru_cache(maxsize=len(UNIVERSE) * len(DEMO_EXCHANGES))
def _all_liquidations(asset: str, exchange: str) -> pd.DataFrame:
    """Individual liquidation events of one asset on one exchange, whole period.

    Events cluster in the minutes where price moved against the liquidated side, and on the story days the
    squeezed side's mostly in the cascade hours; the venue takes its day's share (`exchange_shares`); sizes are
    heavy-tailed and rescaled so each day hits its calibrated total.
    """
    rng = _rng(asset, exchange, "liquidations")
    closes = minute_closes(asset) * (1 + EXCHANGE_BASIS[exchange])
    minute_returns = np.diff(np.log(closes), prepend=np.log(closes[0]))
    z = minute_returns / (DAILY_VOL[asset] / np.sqrt(MINUTES_PER_DAY))
    weights = {"long": 0.05 + np.clip(-z, 0, None) ** 2, "short": 0.05 + np.clip(z, 0, None) ** 2}
    shares = exchange_shares(asset)[:, DEMO_EXCHANGES.index(exchange)]
    minute_ms = _minute_index().asi8
    parts: list[pd.DataFrame] = []
    for day_index in range(DAYS):
        flow = day_flow(asset, day_index)
        share = shares[day_index]
        day_slice = slice(day_index * MINUTES_PER_DAY, (day_index + 1) * MINUTES_PER_DAY)
        cascade = _cascade(START + pd.Timedelta(days=day_index))
        squeezed = "short" if flow.short_usd > flow.long_usd else "long"
        for side, target in (("long", flow.long_usd * share), ("short", flow.short_usd * share)):
            count = max(1, int(target / MEAN_EVENT_USD[asset]))
            p = weights[side][day_slice] / weights[side][day_slice].sum()
            if cascade is not None and side == squeezed:  # the cascade hours, in bursts where price jumps
                bursts = cascade * weights[side][day_slice]
                p = (1 - CASCADE_WEIGHT) * p + CASCADE_WEIGHT * bursts / bursts.sum()
            minutes = rng.choice(MINUTES_PER_DAY, size=count, p=p) + day_index * MINUTES_PER_DAY
            sizes = rng.lognormal(0, 1.1, count)
            usd = sizes * (target / sizes.sum())
            price = closes[minutes] * (1 + rng.normal(0, 0.0004, count))
            ts = minute_ms[minutes] + rng.integers(0, 60_000, count)
            parts.append(
                pd.DataFrame({"ts": pd.to_datetime(ts, unit="ms", utc=True), "side": side, "price": price, "usd": usd})
            )
    events = pd.concat(parts, ignore_index=True)
    events["exchange"] = exchange
    events["asset"] = asset
    events["qty"] = events["usd"] / events["price"]
    return conform("liquidations", events)


def _ar1(rng: np.random.Generator, n: int, phi: float, sigma: float) -> np.ndarray:
    """A mean-zero AR(1) series (slow positioning drift)."""
    shocks = rng.normal(0, sigma, n)
    out = np.empty(n)
    out[0] = shocks[0] / np.sqrt(1 - phi**2)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + shocks[i]
    return out


def _five_minute_closes(asset: str, exchange: str) -> tuple[pd.DatetimeIndex, np.ndarray]:
    closes = minute_closes(asset)[4::5] * (1 + EXCHANGE_BASIS[exchange])
    index = pd.date_range(START, END, freq=RATIO_STEP, inclusive="left", unit="ms")
    return index, closes


@lru_cache(maxsize=len(UNIVERSE) * len(DEMO_EXCHANGES))
def _all_ratios(asset: str, exchange: str) -> pd.DataFrame:
    """5-minute long/short ratios of all four kinds for one asset on one exchange.

    Retail accounts lean long and fade rallies (their long share drops as price
    runs above its 3-day mean); top positions follow the trend; taker flow tracks
    the 5-minute return, with persistent (AR(1), `TAKER_PERSISTENCE` per 5 minutes) order-flow imbalance.
    """
    rng = _rng(asset, exchange, "ratios")
    index, closes = _five_minute_closes(asset, exchange)
    log_price = pd.Series(np.log(closes))
    stretch = (log_price - log_price.ewm(span=864).mean()).to_numpy()
    step_return = np.diff(np.log(closes), prepend=np.log(closes[0]))
    n = closes.size
    base = ACCOUNT_LONG_SHARE[exchange]
    long_share = {
        "accounts": base - 1.1 * stretch + _ar1(rng, n, 0.995, 0.004),
        "top_accounts": base - 0.05 - 0.6 * stretch + _ar1(rng, n, 0.995, 0.004),
        "top_positions": 0.51 + 0.8 * stretch + _ar1(rng, n, 0.99, 0.006),
        "taker": 0.5 + 8 * step_return + _ar1(rng, n, TAKER_PERSISTENCE, 0.018),
    }
    frames = []
    for kind in RATIO_KINDS:
        share = np.clip(long_share[kind], 0.2, 0.85)
        frames.append(
            pd.DataFrame(
                {"ts": index, "kind": kind, "long_share": share, "short_share": 1 - share, "ratio": share / (1 - share)}
            )
        )
    ratios = pd.concat(frames, ignore_index=True)
    ratios["exchange"] = exchange
    ratios["asset"] = asset
    return conform("ratios", ratios)


@lru_cache(maxsize=len(UNIVERSE) * len(DEMO_EXCHANGES))
def _all_open_interest(asset: str, exchange: str) -> pd.DataFrame:
    """5-minute open interest in USD: positions build slowly, liquidations flush them."""
    rng = _rng(asset, exchange, "open_interest")
    index, closes = _five_minute_closes(asset, exchange)
    base_coin = OPEN_INTEREST_USD[asset] * EXCHANGE_LIQUIDATION_SHARE[exchange] * 3 / closes[0]
    liquidations = _all_liquidations(asset, exchange)
    flushed = liquidations.groupby(liquidations["ts"].dt.floor(RATIO_STEP))["qty"].sum()
    flushed = flushed.reindex(index, fill_value=0.0).cumsum().to_numpy()
    refill = pd.Series(flushed).ewm(halflife=288).mean().to_numpy()
    coins = base_coin * np.exp(_ar1(rng, closes.size, 0.999, 0.002)) - (flushed - refill)
    frame = pd.DataFrame({"ts": index, "exchange": exchange, "asset": asset, "usd": coins.clip(min=0) * closes})
    return conform("open_interest", frame)


@lru_cache(maxsize=len(UNIVERSE) * len(DEMO_EXCHANGES))
def _all_funding(asset: str, exchange: str) -> pd.DataFrame:
    """8-hourly funding rates: positive in calm markets, higher after rallies."""
    rng = _rng(asset, exchange, "funding")
    times = pd.date_range(START, END, freq="8h", inclusive="left", unit="ms")
    closes = minute_closes(asset)
    at = ((times - START) // pd.Timedelta(minutes=1)).to_numpy()
    trailing = np.log(closes[at] / closes[np.maximum(at - 480, 0)])
    rate = (0.0001 + 0.004 * trailing + rng.normal(0, 0.00004, times.size)).clip(-0.00075, 0.0075)
    frame = pd.DataFrame({"ts": times, "exchange": exchange, "asset": asset, "rate": rate})
    return conform("funding", frame)


def _slice(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    lo, hi = frame["ts"].searchsorted([start.ceil("ms"), end.ceil("ms")])
    return frame.iloc[lo:hi]


def _resample_candles(minutes: pd.DataFrame, interval: str) -> pd.DataFrame:
    if interval == "1m" or minutes.empty:
        return minutes.reset_index(drop=True)
    bucket = minutes["ts"].dt.floor(pd.Timedelta(seconds=INTERVAL_SECONDS[interval]))
    bars = minutes.groupby(bucket, sort=True).agg(
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        volume=("volume", "sum"),
        quote_volume=("quote_volume", "sum"),
    )
    bars = bars.reset_index(names="ts")
    bars["exchange"] = minutes["exchange"].iloc[0]
    bars["asset"] = minutes["asset"].iloc[0]
    return conform("candles", bars)


def _last_per_bucket(frame: pd.DataFrame, interval: str, by: list[str]) -> pd.DataFrame:
    """Snapshot series at a coarser interval: the last value in each bucket."""
    if INTERVAL_SECONDS[interval] <= RATIO_STEP.total_seconds() or frame.empty:
        return frame.reset_index(drop=True)
    bucket = frame["ts"].dt.floor(pd.Timedelta(seconds=INTERVAL_SECONDS[interval]))
    return frame.groupby([bucket, *by], sort=False).tail(1).reset_index(drop=True)


def listed(exchange: str, asset: str) -> bool:
    """Whether the demo lists a perpetual of `asset` on `exchange`."""
    return asset in UNIVERSE and (exchange, asset) not in NOT_LISTED


class DemoSource:
    """The simulated market, answering every dataset for the demo period."""

    name = "demo"
    simulated = True
    first_day = START
    last_day = END - pd.Timedelta(days=1)

    def instruments(self, exchanges: tuple[str, ...]) -> tuple[Instrument, ...]:
        """The demo's perpetuals on `exchanges` (see `INSTRUMENTS`)."""
        return tuple(i for i in INSTRUMENTS if i.exchange in exchanges)

    def universe(self, exchanges: tuple[str, ...]) -> Universe:
        """Every coin the demo lists on `exchanges`, and how many perpetuals."""
        instruments = self.instruments(exchanges)
        return Universe(order(i.asset for i in instruments), len(instruments))

    def top_assets(self, exchanges: tuple[str, ...], n: int) -> Ranking:
        """The `n` coins with the largest open interest summed over `exchanges`."""
        simulated = [e for e in exchanges if e in DEMO_EXCHANGES]
        if not simulated:
            return Ranking((), "open interest (none of the selected venues is in the demo market)")
        names = ", ".join(EXCHANGE_NAMES[e] for e in simulated)
        return Ranking(rank({e: self.open_interest_usd(e) for e in simulated}, n), f"open interest on {names}")

    def open_interest_usd(self, exchange: str) -> dict[str, float]:
        """Each listed coin's calibrated open interest on `exchange`, USD (what the venues' tickers rank by)."""
        share = EXCHANGE_LIQUIDATION_SHARE[exchange] * 3
        return {a: OPEN_INTEREST_USD[a] * share for a in UNIVERSE if listed(exchange, a)}

    def fetch(self, dataset: Dataset, query: Query) -> pd.DataFrame:
        """The normalized frame for `dataset`; NoCoverage outside 2025-04-24..2025-05-22 and for a coin a venue
        does not list. `ALL_ASSETS` (liquidations only) is every listed coin of the exchange."""
        if query.exchange in EXCHANGES and query.exchange not in DEMO_EXCHANGES:
            venues = ", ".join(EXCHANGE_NAMES[e] for e in DEMO_EXCHANGES)
            raise NoCoverage(NOT_IN_DEMO.format(name=EXCHANGE_NAMES[query.exchange], venues=venues))
        if query.exchange not in EXCHANGES or (query.asset not in UNIVERSE and query.asset != ALL_ASSETS):
            raise SourceError(f"The demo market has no {query.asset} on {query.exchange}.")
        if query.asset != ALL_ASSETS and not listed(query.exchange, query.asset):
            raise NoCoverage(f"{query.asset} is not listed on {EXCHANGE_NAMES[query.exchange]}.")
        start, end = max(query.start, START), min(query.end, END)
        if start >= end:
            raise NoCoverage("The demo market covers 2025-04-24 to 2025-05-22 (UTC) only.")
        if query.asset == ALL_ASSETS:
            if dataset != "liquidations":
                raise SourceError(f"The whole market is read for liquidations only, not {dataset}.")
            frames = [
                _slice(_all_liquidations(asset, query.exchange), start, end)
                for asset in UNIVERSE
                if listed(query.exchange, asset)
            ]
            return conform("liquidations", pd.concat(frames, ignore_index=True))
        if dataset == "candles":
            return _resample_candles(_slice(_minute_candles(query.asset, query.exchange), start, end), query.interval)
        if dataset == "liquidations":
            return _slice(_all_liquidations(query.asset, query.exchange), start, end).reset_index(drop=True)
        if dataset == "ratios":
            return _last_per_bucket(
                _slice(_all_ratios(query.asset, query.exchange), start, end), query.interval, ["kind"]
            )
        if dataset == "open_interest":
            return _last_per_bucket(
                _slice(_all_open_interest(query.asset, query.exchange), start, end), query.interval, []
            )
        if dataset == "funding":
            return _slice(_all_funding(query.asset, query.exchange), start, end).reset_index(drop=True)
        return empty(dataset)
