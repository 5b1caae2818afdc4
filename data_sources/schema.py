"""The one normalized schema every source returns, field by field, with units.

All timestamps are timezone-aware UTC (`datetime64[ms, UTC]`); all money is USD
(USDT-margined contracts are treated 1 USDT = 1 USD). Every frame carries
`exchange` (lowercase venue id, `venues.VENUES`) and `asset` (base coin: BTC, ETH...).

candles        ts (bar open time), open, high, low, close (USD per coin),
               volume (coin), quote_volume (USD)
liquidations   ts (event time), side (the POSITION side that was force-closed:
               "long" or "short"), price (USD per coin, fill or bankruptcy price),
               qty (coin), usd (notional = price x qty)
ratios         ts (period time), kind ("accounts" all accounts, "top_accounts" top
               traders by account count, "top_positions" top traders by position
               size, "taker" taker buy vs sell volume), long_share and short_share
               (fractions 0..1 that sum to 1; for taker: buy and sell volume shares),
               ratio (long_share / short_share)
open_interest  ts, usd (open interest notional, USD)
funding        ts (funding time), rate (fraction per funding period, 0.0001 = 0.01 %)
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

from data_sources.venues import VENUES

Dataset = Literal["candles", "liquidations", "ratios", "open_interest", "funding"]
DATASETS: tuple[Dataset, ...] = ("candles", "liquidations", "ratios", "open_interest", "funding")

# The majors: the default per-asset view, the recorder's default and the demo's calibrated story. Every
# other listed coin comes from the venues' listings (`instruments`) or the demo's universe (`demo.UNIVERSE`).
ASSETS: tuple[str, ...] = ("BTC", "ETH", "SOL", "XRP", "DOGE", "ADA", "BNB")
# A query's asset meaning every asset the source holds for that exchange (the whole market; liquidations only).
ALL_ASSETS = "*"
EXCHANGES: tuple[str, ...] = tuple(venue.id for venue in VENUES)
EXCHANGE_NAMES: dict[str, str] = {venue.id: venue.name for venue in VENUES}
SIDES: tuple[str, ...] = ("long", "short")
RATIO_KINDS: tuple[str, ...] = ("accounts", "top_accounts", "top_positions", "taker")
RATIO_KIND_LABELS: dict[str, str] = {
    "accounts": "All accounts",
    "top_accounts": "Top traders (accounts)",
    "top_positions": "Top traders (positions)",
    "taker": "Taker buy/sell volume",
}

KEY_COLUMNS = ["ts", "exchange", "asset"]
COLUMNS: dict[Dataset, list[str]] = {
    "candles": [*KEY_COLUMNS, "open", "high", "low", "close", "volume", "quote_volume"],
    "liquidations": [*KEY_COLUMNS, "side", "price", "qty", "usd"],
    "ratios": [*KEY_COLUMNS, "kind", "long_share", "short_share", "ratio"],
    "open_interest": [*KEY_COLUMNS, "usd"],
    "funding": [*KEY_COLUMNS, "rate"],
}
TEXT_COLUMNS = {"exchange", "asset", "side", "kind"}
TS_DTYPE = "datetime64[ms, UTC]"
TEXT_DTYPE = pd.StringDtype(na_value=float("nan"))  # what `astype(str)` gives (pandas 3's default string dtype)


def empty(dataset: Dataset) -> pd.DataFrame:
    """An empty frame with the dataset's columns and dtypes."""
    return conform(dataset, pd.DataFrame(columns=COLUMNS[dataset]))


def conform(dataset: Dataset, frame: pd.DataFrame) -> pd.DataFrame:
    """Return `frame` with exactly the schema's columns, dtypes and time order.

    Raises ValueError naming the missing columns, so a parser that forgot a field
    fails loudly instead of drawing an empty chart.
    """
    columns = COLUMNS[dataset]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{dataset} frame lacks columns {missing}")
    out = frame.loc[:, columns].copy()
    if out["ts"].dtype != TS_DTYPE:
        out["ts"] = pd.to_datetime(out["ts"], utc=True).astype(TS_DTYPE)
    for column in columns[1:]:
        if column in TEXT_COLUMNS:
            if out[column].dtype != TEXT_DTYPE:
                out[column] = out[column].astype(str)
        elif out[column].dtype != "float64":
            out[column] = pd.to_numeric(out[column], errors="raise").astype("float64")
    if not out["ts"].is_monotonic_increasing:
        out = out.sort_values("ts", kind="stable")
    return out.reset_index(drop=True)
