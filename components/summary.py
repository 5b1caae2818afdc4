"""Pure aggregations of normalized frames: KPIs, leaderboards, breakdowns, takeaways.

Every number the overview shows comes from these functions, so the demo
calibration tests and the page compute the same thing the same way.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

import pandas as pd

from components.memo import of_frames
from data_sources.schema import EXCHANGE_NAMES, EXCHANGES, RATIO_KIND_LABELS
from data_sources.units import compact_usd as usd
from data_sources.venues import BY_ID

REFERENCE_EXCHANGES = EXCHANGES


def pct(value: float, signed: bool = False) -> str:
    """A fraction as percent: 0.84 -> '84%'; signed: 0.204 -> '+20.4%'."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value * 100:+.1f}%" if signed else f"{value * 100:.0f}%"


def count(n: int, noun: str) -> str:
    """'1 asset', '7 assets'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def price(value: float) -> str:
    """A coin price with digits that suit its size: $101,679 / $2,179.24 / $0.1971 / $0.00001123 (four
    significant digits below $0.01, where a 1000x coin's price per one coin sits)."""
    if value >= 1000:
        return f"${value:,.0f}"
    if value >= 1:
        return f"${value:,.2f}"
    if value >= 0.01 or value <= 0:
        return f"${value:.4f}"
    return f"${value:.{3 - math.floor(math.log10(value))}f}"


@dataclass(frozen=True)
class LiquidationTotals:
    """USD liquidated over a window, by position side."""

    longs: float
    shorts: float

    @property
    def total(self) -> float:
        """Longs plus shorts."""
        return self.longs + self.shorts

    @property
    def short_share(self) -> float:
        """Shorts as a fraction of the total (NaN when nothing was liquidated)."""
        return self.shorts / self.total if self.total else float("nan")


@of_frames
def liquidation_totals(liquidations: pd.DataFrame) -> LiquidationTotals:
    """Total USD of long and short liquidations in the frame."""
    by_side = liquidations.groupby("side")["usd"].sum()
    return LiquidationTotals(longs=float(by_side.get("long", 0.0)), shorts=float(by_side.get("short", 0.0)))


def _side_table(liquidations: pd.DataFrame, by: str, order: list[str]) -> pd.DataFrame:
    table = liquidations.pivot_table(index=by, columns="side", values="usd", aggfunc="sum", fill_value=0.0)
    table = table.reindex(index=order, columns=["long", "short"], fill_value=0.0)
    table["total"] = table["long"] + table["short"]
    grand = table["total"].sum()
    table["share"] = table["total"] / grand if grand else 0.0
    table["short_share"] = (table["short"] / table["total"]).where(table["total"] > 0, 0.0)
    table.index.name = by
    table.columns.name = None
    return table.reset_index()


@of_frames
def by_exchange(
    liquidations: pd.DataFrame, exchanges: tuple[str, ...], covered: Collection[str] | None = None
) -> pd.DataFrame:
    """Per exchange: long, short, total USD, share of the covered exchanges, short share, `covered`.

    An exchange outside `covered` (None: every exchange is covered) has NaN figures, not zeros:
    nothing recorded its liquidations in the window, which is not the same as none happening.
    """
    table = _side_table(liquidations, "exchange", list(exchanges))
    table["covered"] = table["exchange"].isin(list(exchanges) if covered is None else list(covered))
    table.loc[~table["covered"], ["long", "short", "total", "share", "short_share"]] = float("nan")
    return table


@of_frames
def by_asset(liquidations: pd.DataFrame, assets: tuple[str, ...]) -> pd.DataFrame:
    """Per asset: long, short, total USD, share of all assets, short share; largest first."""
    return _side_table(liquidations, "asset", list(assets)).sort_values("total", ascending=False, kind="stable")


OTHERS = "Others"


@of_frames
def by_coin(liquidations: pd.DataFrame, top: int = 20) -> pd.DataFrame:
    """The `top` most liquidated coins (long, short, total USD, share of all, short share), largest first, then
    one "Others" row summing the rest (absent when nothing is left over)."""
    table = by_asset(liquidations, tuple(liquidations["asset"].unique()))
    table = table[table["total"] > 0]
    head, rest = table.head(top), table.iloc[top:]
    if rest.empty:
        return head.reset_index(drop=True)
    long, short = rest["long"].sum(), rest["short"].sum()
    others = {
        "asset": f"{OTHERS} ({len(rest)} coins)",
        "long": long,
        "short": short,
        "total": long + short,
        "share": rest["share"].sum(),
        "short_share": short / (long + short),
    }
    return pd.concat([head, pd.DataFrame([others])], ignore_index=True)


@of_frames
def over_time(liquidations: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta) -> pd.DataFrame:
    """Long and short USD per time bucket of `step`, every bucket of [start, end) present."""
    buckets = pd.date_range(start, end, freq=step, inclusive="left", unit="ms")
    bucketed = liquidations.groupby([liquidations["ts"].dt.floor(step), "side"])["usd"].sum().unstack("side")
    bucketed = bucketed.reindex(index=buckets, columns=["long", "short"]).fillna(0.0)
    bucketed.index.name = "ts"
    bucketed.columns.name = None
    return bucketed.reset_index()


@of_frames
def price_moves(candles: pd.DataFrame) -> pd.DataFrame:
    """% change per asset from the window's first open to its last close, best first.

    Each asset is measured on one exchange (Binance, else OKX, else Bybit) so
    the figure is a real traded price, not a blend.
    """
    rows = []
    for asset, frame in candles.groupby("asset", sort=False):
        exchange = next(e for e in REFERENCE_EXCHANGES if e in set(frame["exchange"]))
        bars = frame[frame["exchange"] == exchange]
        first, last = bars["open"].iloc[0], bars["close"].iloc[-1]
        rows.append(
            {
                "asset": asset,
                "exchange": exchange,
                "open": first,
                "close": last,
                "high": bars["high"].max(),
                "low": bars["low"].min(),
                "change": last / first - 1,
            }
        )
    columns = ["asset", "exchange", "open", "close", "high", "low", "change"]
    return (
        pd.DataFrame(rows, columns=columns).sort_values("change", ascending=False, kind="stable").reset_index(drop=True)
    )


def top_mover(moves: pd.DataFrame) -> pd.Series | None:
    """The asset with the largest absolute move (a -12% fall beats a +3% rise); None without moves."""
    if moves.empty:
        return None
    return moves.loc[moves["change"].abs().idxmax()]


def _move(row: pd.Series) -> str:
    return f"{pct(row.change, signed=True)} ({price(row.open)} to {price(row.close)})"


def _then(rows: pd.DataFrame) -> str:
    others = ", ".join(f"{row.asset} {pct(row.change, signed=True)}" for row in rows.itertuples())
    return f"; then {others}." if others else "."


def move_lines(moves: pd.DataFrame) -> list[str]:
    """The price headline: biggest gainer and biggest loser, the larger absolute move first.

    "ETH led with +20.4% ($1,810 to $2,179); then ADA +13.0%." for the gainers and "SOL fell
    most with -12.0% (...); then ..." for the losers: one sentence per side that moved,
    the larger absolute move first (on a day when everything fell, the largest fall).
    """
    if moves.empty:
        return []
    shown = (moves["change"] * 100).round(1)  # what `pct` prints: a move shown as +0.0% or -0.0% is flat
    gainers = moves[shown > 0].sort_values("change", ascending=False, kind="stable")
    losers = moves[shown < 0].sort_values("change", ascending=True, kind="stable")
    if gainers.empty and losers.empty:
        where = "where" if (moves["change"] == 0).all() else "within 0.05% of where"
        return [f"No asset moved: {_join(list(moves['asset']))} closed {where} they opened."]
    lines: list[tuple[float, str]] = []
    if not gainers.empty:
        best = gainers.iloc[0]
        lines.append((best.change, f"{best.asset} led with {_move(best)}{_then(gainers.iloc[1:4])}"))
    if not losers.empty:
        worst = losers.iloc[0]
        lines.append((-worst.change, f"{worst.asset} fell most with {_move(worst)}{_then(losers.iloc[1:4])}"))
    return [line for _, line in sorted(lines, key=lambda item: item[0], reverse=True)]


@of_frames
def reference_candles(candles: pd.DataFrame, asset: str) -> pd.DataFrame:
    """The candles of `asset` on its reference exchange (see `price_moves`)."""
    frame = candles[candles["asset"] == asset]
    if frame.empty:
        return frame
    exchange = next(e for e in REFERENCE_EXCHANGES if e in set(frame["exchange"]))
    return frame[frame["exchange"] == exchange]


@of_frames
def ratio_snapshot(ratios: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Per asset x exchange: the ratio at the start and at the end of the window."""
    frame = ratios[ratios["kind"] == kind]
    grouped = frame.groupby(["asset", "exchange"], sort=False)["ratio"]
    snapshot = pd.DataFrame({"first": grouped.first(), "last": grouped.last()}).reset_index()
    snapshot["change"] = snapshot["last"] - snapshot["first"]
    return snapshot


@of_frames
def largest(liquidations: pd.DataFrame, n: int = 20) -> pd.DataFrame:
    """The `n` largest single liquidations, largest first (aggregated buckets, with no price, excluded)."""
    return liquidations.dropna(subset=["price"]).nlargest(n, "usd").reset_index(drop=True)


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


@of_frames
def takeaways(
    moves: pd.DataFrame,
    liquidations: pd.DataFrame,
    ratios: pd.DataFrame,
    exchanges: tuple[str, ...],
) -> list[str]:
    """A market-report summary of the window, one sentence per finding."""
    lines = move_lines(moves)
    totals = liquidation_totals(liquidations)
    if totals.total > 0:
        side, amount = ("shorts", totals.shorts) if totals.shorts >= totals.longs else ("longs", totals.longs)
        share = amount / totals.total
        lines.append(f"{usd(amount)} of {side} were liquidated, {pct(share)} of the {usd(totals.total)} total.")
        table = by_exchange(liquidations[liquidations["side"] == side[:-1]], exchanges)
        table = table[table["total"] > 0].sort_values("total", ascending=False)
        if len(table) >= 2:
            leaders = table.head(2)
            names = [EXCHANGE_NAMES.get(e, e) for e in leaders["exchange"]]
            taken = leaders["total"].sum()
            lines.append(f"{_join(names)} took {usd(taken)} of the {side[:-1]} liquidations ({pct(taken / amount)}).")
        per_asset = by_asset(liquidations, tuple(liquidations["asset"].unique()))
        heads = [f"{row.asset} ({usd(row.total)})" for row in per_asset.head(2).itertuples() if row.total > 0]
        if heads:
            lines.append(f"Most liquidated: {_join(heads)}.")
        for biggest in largest(liquidations, 1).itertuples():
            lines.append(
                f"Largest single liquidation: {usd(biggest.usd)} {biggest.asset} {biggest.side} on "
                f"{EXCHANGE_NAMES.get(biggest.exchange, biggest.exchange)} at {biggest.ts:%Y-%m-%d %H:%M} UTC."
            )
    mover = top_mover(moves)
    if mover is not None and not ratios.empty:
        asset = mover.asset
        snap = ratio_snapshot(ratios, "accounts")
        snap = snap[snap["asset"] == asset]
        if not snap.empty:
            row = snap.iloc[0]
            label = RATIO_KIND_LABELS["accounts"].lower()
            lines.append(
                f"{asset} long/short ratio ({label}, {EXCHANGE_NAMES.get(row.exchange, row.exchange)}) "
                f"went from {row['first']:.2f} to {row['last']:.2f}."
            )
    return lines


HOURS_PER_YEAR = 365 * 24
# For a series with a single funding in the window, the venue's usual interval (`FUNDING_INTERVAL_HOURS` in its
# module, else 8 h); a longer series uses its own spacing (Binance, OKX and Bybit fund some symbols every 4 h or 1 h).
DEFAULT_FUNDING_HOURS = 8.0
POSITIONING_COLUMNS = (
    "oi_start", "oi_end", "oi_change", "oi_change_pct", "funding_rate", "funding_hours", "funding_annualised",
)  # fmt: skip


def funding_hours(times: pd.Series, exchange: str) -> float:
    """Hours between fundings: the median spacing of `times`, else the venue's usual interval."""
    spacing = times.sort_values().diff().dropna()
    if spacing.empty:
        usual = BY_ID[exchange].get("FUNDING_INTERVAL_HOURS") if exchange in BY_ID else None
        return float(usual) if isinstance(usual, (int, float)) else DEFAULT_FUNDING_HOURS
    return spacing.median().total_seconds() / 3600


def positioning(open_interest: pd.DataFrame, funding: pd.DataFrame) -> pd.DataFrame:
    """Per asset x exchange: open interest at the window's start and end (USD), its change (USD and fraction),
    the last funding rate (fraction per period), the funding interval (hours) and that rate annualised
    (rate x periods per year: x1,095 for 8-hourly funding; simple, not compounded). Missing parts are NaN."""
    rows: dict[tuple[str, str], dict[str, float]] = {}
    for (asset, exchange), series in open_interest.groupby(["asset", "exchange"], sort=False):
        first, last = series["usd"].iloc[0], series["usd"].iloc[-1]
        rows[(asset, exchange)] = {
            "oi_start": first,
            "oi_end": last,
            "oi_change": last - first,
            "oi_change_pct": last / first - 1 if first else float("nan"),
        }
    for (asset, exchange), series in funding.groupby(["asset", "exchange"], sort=False):
        hours = funding_hours(series["ts"], exchange)
        rate = series["rate"].iloc[-1]
        rows.setdefault((asset, exchange), {}).update(
            {"funding_rate": rate, "funding_hours": hours, "funding_annualised": rate * HOURS_PER_YEAR / hours}
        )
    if not rows:
        return pd.DataFrame(columns=["asset", "exchange", *POSITIONING_COLUMNS])
    table = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=list(POSITIONING_COLUMNS))
    table.index = pd.MultiIndex.from_tuples(table.index, names=["asset", "exchange"])
    return table.reset_index()


def open_interest_totals(table: pd.DataFrame) -> tuple[float, float]:
    """The summed open-interest change of `positioning` rows with both ends: (USD, fraction of the start)."""
    both = table.dropna(subset=["oi_start", "oi_end"])
    start = both["oi_start"].sum()
    return both["oi_change"].sum(), (both["oi_end"].sum() / start - 1) if start else float("nan")
