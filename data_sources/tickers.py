"""Every perpetual's open interest on a venue in ONE request, to rank the top N coins of a view.

Bybit    `GET /v5/market/tickers?category=linear` -> `result.list[]`: `symbol`, `openInterestValue` (USD).
OKX      `GET /api/v5/public/open-interest?instType=SWAP` -> `data[]`: `instId`, `oiUsd` (USD).
Binance  has no all-symbol open-interest endpoint (`/fapi/v1/openInterest` takes one symbol), so
         `GET /fapi/v1/ticker/24hr` (weight 40) -> `[]`: `symbol`, `quoteVolume` (USDT traded over 24 h)
         is its documented proxy. Volume and open interest are never added together: Binance's volume
         ranks only when no venue with open interest is selected.

Symbols become coins through the venue's instrument listing (`instruments.Listing.by_symbol`), so
`1000PEPEUSDT`, `SHIB1000USDT` and `PEPE-USDT-SWAP` all count for PEPE; a symbol the listing does not
hold as a trading perpetual (a dated future, a delisted coin) is skipped. The parsers are pure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from data_sources import bybit, okx
from data_sources.http import BadPayload
from data_sources.instruments import Instrument

BYBIT_TICKERS = "/v5/market/tickers"
OKX_OPEN_INTEREST = "/api/v5/public/open-interest"
BINANCE_TICKERS = "/fapi/v1/ticker/24hr"
PATHS = {"binance": BINANCE_TICKERS, "okx": OKX_OPEN_INTEREST, "bybit": BYBIT_TICKERS}
PARAMS: dict[str, dict[str, str]] = {"binance": {}, "okx": {"instType": "SWAP"}, "bybit": {"category": "linear"}}
MEASURES = {"binance": "24 h volume", "okx": "open interest", "bybit": "open interest"}


def _per_coin(rows: Iterable[Any], listing: Mapping[str, Instrument], symbol_key: str, usd_key: str) -> dict[str, float]:
    """USD per coin, summed over the coin's trading perpetuals; unusable rows are skipped."""
    out: dict[str, float] = {}
    for row in rows:
        if not isinstance(row, dict):
            continue
        instrument = listing.get(row.get(symbol_key))
        try:
            usd = float(row.get(usd_key))
        except (TypeError, ValueError):
            continue
        if instrument is None or not instrument.trading or not math.isfinite(usd) or usd < 0:
            continue
        out[instrument.asset] = out.get(instrument.asset, 0.0) + usd
    return out


def parse_bybit(raw: Any, listing: Mapping[str, Instrument]) -> dict[str, float]:
    """Bybit linear tickers -> open interest per coin, USD (`openInterestValue`)."""
    return _per_coin(bybit.result(raw, "tickers")["list"], listing, "symbol", "openInterestValue")


def parse_okx(raw: Any, listing: Mapping[str, Instrument]) -> dict[str, float]:
    """OKX swap open interest -> open interest per coin, USD (`oiUsd`)."""
    return _per_coin(okx.data(raw, "open interest"), listing, "instId", "oiUsd")


def parse_binance(raw: Any, listing: Mapping[str, Instrument]) -> dict[str, float]:
    """Binance 24 h tickers -> USDT volume per coin (`quoteVolume`): a proxy for open interest."""
    if not isinstance(raw, list):
        raise BadPayload("Binance sent an unexpected answer for ticker/24hr (expected a list).")
    return _per_coin(raw, listing, "symbol", "quoteVolume")


PARSERS = {"binance": parse_binance, "okx": parse_okx, "bybit": parse_bybit}
