"""Two windows side by side: the same summaries as the single views (`components.summary`), with differences.

Every table has one row per item (a figure, an exchange, a coin), the first window's value in `a`, the second's
in `b`, `change` = b - a (USD, or percentage points as a fraction for shares and price moves) and `change_pct`
= change / |a| (NaN when a is 0 or missing, or for shares and moves, whose change is already relative).
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from components import summary

COLUMNS = ["item", "a", "b", "change", "change_pct"]


def parse_days(
    values: list[str], first: date | None, last: date, defaults: tuple[date, date]
) -> tuple[tuple[date, date], list[str]]:
    """The two UTC days a link's `compare` values name (YYYY-MM-DD, inside the data), with a note for each value
    dropped and for a missing day (filled from `defaults`); more than two: the first two."""
    notes: list[str] = []
    days: list[date] = []
    for value in values:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            notes.append(f"Ignored invalid compare day {value!r} from the link; days are YYYY-MM-DD.")
            continue
        if (first is not None and day < first) or day > last:
            span = f"{first:%Y-%m-%d} to {last:%Y-%m-%d}" if first is not None else f"up to {last:%Y-%m-%d}"
            notes.append(f"Ignored compare day {value} from the link: the data covers {span}.")
            continue
        days.append(day)
    if len(days) > 2:
        notes.append(f"The link gives {len(days)} compare days; comparing the first two.")
    for default in defaults:
        if len(days) >= 2:
            break
        if values:
            notes.append(f"Comparing with {default:%Y-%m-%d} for the missing day.")
        days.append(default)
    return (days[0], days[1]), notes


def _table(a: pd.Series, b: pd.Series, relative: bool) -> pd.DataFrame:
    """`a` and `b` (indexed by item) aligned, in `a`'s order then `b`'s new items, with their differences."""
    items = list(dict.fromkeys([*a.index, *b.index]))
    table = pd.DataFrame({"item": items, "a": a.reindex(items).to_numpy(), "b": b.reindex(items).to_numpy()})
    table["change"] = table["b"] - table["a"]
    table["change_pct"] = float("nan") if relative else (table["change"] / table["a"].abs()).where(table["a"].abs() > 0)
    return table[COLUMNS]


def totals(liquidations_a: pd.DataFrame, liquidations_b: pd.DataFrame) -> pd.DataFrame:
    """Total, longs and shorts liquidated (USD), then the long share (fraction) of each window."""

    def figures(frame: pd.DataFrame) -> pd.Series:
        t = summary.liquidation_totals(frame)
        return pd.Series({"Total liquidations": t.total, "Longs liquidated": t.longs, "Shorts liquidated": t.shorts})

    def long_share(frame: pd.DataFrame) -> pd.Series:
        return pd.Series({"Long share": 1 - summary.liquidation_totals(frame).short_share})

    usd = _table(figures(liquidations_a), figures(liquidations_b), relative=False)
    share = _table(long_share(liquidations_a), long_share(liquidations_b), relative=True)
    return pd.concat([usd, share], ignore_index=True)


def by_exchange(
    a: pd.DataFrame, b: pd.DataFrame, exchanges: tuple[str, ...], covered_a: tuple[str, ...], covered_b: tuple[str, ...]
) -> pd.DataFrame:
    """Total USD liquidated per exchange (NaN where nothing covers that window), as `summary.by_exchange`."""
    totals_a = summary.by_exchange(a, exchanges, covered_a).set_index("exchange")["total"]
    totals_b = summary.by_exchange(b, exchanges, covered_b).set_index("exchange")["total"]
    return _table(totals_a, totals_b, relative=False)


def by_coin(a: pd.DataFrame, b: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """Total USD liquidated per coin, for the `top` coins of either window (a coin absent from one is 0 there)."""
    table_a = summary.by_asset(a, tuple(a["asset"].unique())).set_index("asset")["total"]
    table_b = summary.by_asset(b, tuple(b["asset"].unique())).set_index("asset")["total"]
    coins = list(dict.fromkeys([*table_a.head(top).index, *table_b.head(top).index]))
    return _table(table_a.reindex(coins, fill_value=0.0), table_b.reindex(coins, fill_value=0.0), relative=False)


def price_moves(candles_a: pd.DataFrame, candles_b: pd.DataFrame) -> pd.DataFrame:
    """Each coin's move over each window (fraction, `summary.price_moves`), in the first window's order."""
    moves_a = summary.price_moves(candles_a).set_index("asset")["change"]
    moves_b = summary.price_moves(candles_b).set_index("asset")["change"]
    return _table(moves_a, moves_b, relative=True)


def _usd_change(value: float) -> str:
    return summary.usd(value) if pd.isna(value) or value < 0 else f"+{summary.usd(value)}"


def _points(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value * 100:+.1f} pp"


def formatted(table: pd.DataFrame, kind: str) -> pd.DataFrame:
    """`table` as the page shows it: `kind` "usd" ($1.10B, +$620M, +129%), "share" (16%, +4.0 pp) or "move"
    (+20.4%, -15.2 pp)."""
    value = {"usd": summary.usd, "share": summary.pct, "move": lambda v: summary.pct(v, signed=True)}[kind]
    change = _usd_change if kind == "usd" else _points
    return pd.DataFrame(
        {
            "item": table["item"],
            "a": table["a"].map(value),
            "b": table["b"].map(value),
            "change": table["change"].map(change),
            "change_pct": table["change_pct"].map(lambda v: "" if pd.isna(v) else summary.pct(v, signed=True)),
        }
    )
