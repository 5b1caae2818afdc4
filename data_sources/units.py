"""One unit convention for every asset: price in USD per ONE coin, qty in coins, usd the notional.

Venues quote some contracts per 1,000 coins (`1000PEPEUSDT`, `SHIB1000USDT`: price per 1,000,
size in thousands), size swaps in contracts (OKX `PEPE-USDT-SWAP`: `ctVal` coins each), and size
inverse swaps in USD contracts (OKX `BTC-USD-SWAP`: 100 USD each, never coins). A stream decoder
passes the venue's raw price and size with the instrument row from `instruments`:

    linear   qty = size x contract_size,  price = raw price / multiplier,  usd = qty x price
    inverse  usd = size x contract_size,  price = raw price / multiplier,  qty = usd / price

USDT and USDC are taken as 1 USD (as everywhere in `schema`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from data_sources.base import Instrument


@dataclass(frozen=True)
class UsdUnits:
    """One fill in the convention: price (USD per coin), qty (coins), usd (notional, USD)."""

    price: float
    qty: float
    usd: float


def _number(value: float | str, what: str, instrument: Instrument) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{instrument.exchange} {instrument.symbol}: {what} {value!r} is not a number") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{instrument.exchange} {instrument.symbol}: {what} {value!r} is not a finite number >= 0")
    return number


def to_usd_units(instrument: Instrument, price: float | str, size: float | str) -> UsdUnits:
    """The venue's raw (price, size) for `instrument` as (USD per coin, coins, USD); raises ValueError on
    a negative or non-numeric value, and on a zero price for an inverse swap (its coins are usd / price)."""
    per_coin = _number(price, "price", instrument) / instrument.multiplier
    amount = _number(size, "size", instrument) * instrument.contract_size
    if instrument.margin == "linear":
        return UsdUnits(per_coin, amount, amount * per_coin)
    if per_coin == 0:
        raise ValueError(f"{instrument.exchange} {instrument.symbol}: an inverse swap needs a price above 0")
    return UsdUnits(per_coin, amount / per_coin, amount)


def per_coin(candles: pd.DataFrame, multiplier: float) -> pd.DataFrame:
    """Candles quoted per `multiplier` coins (`1000PEPEUSDT`) as USD per ONE coin and volume in coins; the quote
    volume (USD) is unchanged."""
    if multiplier == 1:
        return candles
    out = candles.copy()
    for column in ("open", "high", "low", "close"):
        out[column] = pd.to_numeric(out[column]) / multiplier
    out["volume"] = pd.to_numeric(out["volume"]) * multiplier
    return out


def compact_usd(value: float) -> str:
    """Compact dollar amount for people: $965M, $1.24B, $48.2K, $310 ("n/a" for None or NaN)."""
    if value is None or math.isnan(value):
        return "n/a"
    sign = "-" if value < 0 else ""
    value = abs(value)
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        scaled = value / threshold
        digits = 0 if scaled >= 99.95 else 1 if scaled >= 9.995 else 2  # three significant digits after rounding
        if round(scaled, digits) >= 1:  # by the rounded value: 999,950 is $1.00M, not $1000K
            return f"{sign}${scaled:.{digits}f}{suffix}"
    return f"{sign}${value:,.0f}"
