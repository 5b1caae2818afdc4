"""Pure Plotly figure builders: frames in, figures out; nothing here fetches.

Colour conventions (as on CoinGlass): long liquidations red, short liquidations
green; each exchange keeps one colour on every chart, and each asset one of 20 distinct colours.
Readability: venues by display name, USD compact ($3.32M) in hovers and on round axis ticks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from components.memo import of_frames
from components.summary import usd
from data_sources.schema import ASSETS, EXCHANGE_NAMES, RATIO_KIND_LABELS, RATIO_KINDS

LONG_COLOR = "#ef5350"
SHORT_COLOR = "#26a69a"
PRICE_COLOR = "#e0e0e0"
# One distinct hue per venue, clear of the long/short red and teal (a test checks every registered venue has one).
EXCHANGE_COLORS = {
    "binance": "#f0b90b",
    "okx": "#60a5fa",
    "bybit": "#c084fc",
    "gate": "#fb923c",
    "bitget": "#f472b6",
    "hyperliquid": "#a3e635",
}
# 20 distinct colours for assets on dark ground, none the long/short red or teal (tests check): the majors take the
# first seven slots in `ASSETS` order, any other coin the next free slot in the order a chart meets it.
ASSET_PALETTE: tuple[str, ...] = (
    "#f7931a", "#8c9eff", "#facc15", "#3b82f6", "#f472b6", "#a3e635", "#c084fc", "#e5e7eb", "#22d3ee", "#be185d",
    "#65a30d", "#fda4af", "#7c3aed", "#b45309", "#0ea5e9", "#fde68a", "#94a3b8", "#84cc16", "#d8b4fe", "#ca8a04",
)  # fmt: skip
SIDE_STYLE = (("long", "Longs liquidated", LONG_COLOR), ("short", "Shorts liquidated", SHORT_COLOR))
USD_HOVER = "%{customdata}<extra>%{fullData.name}</extra>"
NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)


def _layout(fig: go.Figure, height: int, **extra: object) -> go.Figure:
    layout = {
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        "hovermode": "x unified",
    }
    fig.update_layout(**(layout | extra))
    return fig


def _exchange_name(exchange: str) -> str:
    return EXCHANGE_NAMES.get(exchange, exchange)


def asset_colors(assets: Iterable[str]) -> dict[str, str]:
    """A colour per asset: the majors' fixed slots, then the free slots in order (cycling past 20 coins)."""
    colors = {a: ASSET_PALETTE[i] for i, a in enumerate(ASSETS)}
    free = [c for c in ASSET_PALETTE if c not in colors.values()]
    others = [a for a in dict.fromkeys(assets) if a not in colors]
    return colors | {a: free[i % len(free)] for i, a in enumerate(others)}


def tick_usd(value: float) -> str:
    """An axis tick label: compact USD without trailing zeros ($0, $250K, $2.5M, $1B)."""
    label = usd(value)
    return re.sub(r"\.(?=[KMB]$)", "", re.sub(r"(\.\d*?)0+(?=[KMB]$)", r"\1", label))


def usd_ticks(low: float, high: float, target: int = 5) -> tuple[list[float], list[str]]:
    """Round tick values covering [low, high] (about `target` of them, steps of 1, 2, 2.5 or 5 x 10^k) and their
    compact labels."""
    low, high = min(low, high), max(low, high)
    span = high - low if high > low else abs(high) or 1.0
    raw = span / target
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in NICE_STEPS if m * magnitude >= raw)
    values = np.arange(math.floor(low / step), math.ceil(high / step) + 1) * step
    return values.tolist(), [tick_usd(v) for v in values]


def _usd_axis(
    fig: go.Figure, values: Sequence[float] | pd.Series, axis: str = "y", target: int = 5, **where: object
) -> None:
    """About `target` round compact-USD ticks on `axis` ("x" or "y") for data spanning `values` (bars start at 0)."""
    finite = [float(v) for v in values if v is not None and np.isfinite(v)]
    low, high = min([0.0, *finite]), max([0.0, *finite])
    tickvals, ticktext = usd_ticks(low, high, target)
    update = fig.update_xaxes if axis == "x" else fig.update_yaxes
    update(tickmode="array", tickvals=tickvals, ticktext=ticktext, **where)


def _price_formats(prices: pd.Series) -> tuple[str, str]:
    """(tick, hover) d3 formats for a price axis: whole dollars above $1,000, cents above $1, and three
    (ticks) or four (hover) significant digits below $1, so PEPE's $0.0000095 reads in full."""
    top = float(prices.abs().max()) if len(prices) else 0.0
    if top >= 1000:
        return ",.0f", ",.0f"
    if top >= 1:
        return ",.2~f", ",.2f"
    return ".3~g", ".4~g"


def _usd_text(values: Iterable[float]) -> list[str]:
    return [usd(v) for v in values]


def _side_bars(categories: pd.Series | list[str], table: pd.DataFrame, horizontal: bool = False) -> list[go.Bar]:
    """One bar trace per liquidated side (`table["long"]`, `table["short"]` USD) over `categories`, compact USD
    on hover; horizontal bars name the category in the hover."""
    bars = []
    for side, label, color in SIDE_STYLE:
        axes = (
            {"y": categories, "x": table[side], "orientation": "h"}
            if horizontal
            else {"x": categories, "y": table[side]}
        )
        hover = "%{y}: %{customdata}<extra>" + label + "</extra>" if horizontal else USD_HOVER
        bars.append(
            go.Bar(**axes, name=label, marker_color=color, customdata=_usd_text(table[side]), hovertemplate=hover)
        )
    return bars


@of_frames
def leaderboard(moves: pd.DataFrame) -> go.Figure:
    """Horizontal bars of % change per asset, best on top, green up / red down."""
    ordered = moves.iloc[::-1]
    colors = [SHORT_COLOR if change >= 0 else LONG_COLOR for change in ordered["change"]]
    fig = go.Figure(
        go.Bar(
            x=ordered["change"] * 100,
            y=ordered["asset"],
            orientation="h",
            marker_color=colors,
            text=[f"{c * 100:+.1f}%" for c in ordered["change"]],
            textposition="outside",
            textfont={"color": PRICE_COLOR, "size": 12},
            cliponaxis=False,
            hovertemplate="%{y}: %{x:+.2f}%<extra></extra>",
            name="Price change",
        )
    )
    low, high = min(0.0, ordered["change"].min() * 100), max(0.0, ordered["change"].max() * 100)
    pad = (high - low or 1.0) * 0.18  # room for the labels outside the bars
    fig.update_xaxes(
        title_text="Change over window (%)", ticksuffix="%", range=[low - (pad if low < 0 else 0), high + pad]
    )
    return _layout(fig, 320, hovermode="closest", showlegend=False)


@of_frames
def exchange_breakdown(table: pd.DataFrame) -> go.Figure:
    """Stacked long/short liquidation bars per exchange, labelled with each one's share.

    `table` is `summary.by_exchange`: an exchange with `covered` False gets no bar and the
    label "not covered"; when one is missing, the others' shares read "of covered".
    """
    names = [_exchange_name(e) for e in table["exchange"]]
    fig = go.Figure()
    fig.add_traces(_side_bars(names, table, horizontal=True))
    of = "of all" if table["covered"].all() else "of covered"
    fig.add_scatter(
        y=names,
        x=table["total"].fillna(0.0),
        mode="text",
        text=[
            f"  {share * 100:.0f}% {of}" if covered else "  not covered"
            for share, covered in zip(table["share"], table["covered"], strict=True)
        ],
        textposition="middle right",
        showlegend=False,
        hoverinfo="skip",
    )
    top = table["total"].max()
    fig.update_xaxes(title_text="USD liquidated", range=[0, (top if top > 0 else 1) * 1.6])
    _usd_axis(fig, table["total"], "x", target=3)  # a narrow column: three ticks stay level
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, 320, barmode="stack", hovermode="closest")


@of_frames
def asset_breakdown(table: pd.DataFrame) -> go.Figure:
    """Stacked long/short liquidation bars per asset (vertical)."""
    fig = go.Figure()
    fig.add_traces(_side_bars(table["asset"], table))
    fig.update_yaxes(title_text="USD liquidated")
    _usd_axis(fig, table["total"])
    return _layout(fig, 340, barmode="stack", hovermode="x")


@of_frames
def coin_ranking(table: pd.DataFrame) -> go.Figure:
    """`summary.by_coin` as horizontal stacked long/short bars, largest at the top, "Others" last."""
    fig = go.Figure()
    fig.add_traces(_side_bars(table["asset"], table, horizontal=True))
    fig.update_xaxes(title_text="USD liquidated")
    _usd_axis(fig, table["total"], "x")
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, 80 + 22 * max(len(table), 1), barmode="stack", hovermode="closest")


@of_frames
def coin_treemap(table: pd.DataFrame) -> go.Figure:
    """`summary.by_coin` as a treemap: area = USD liquidated, colour = short share (green: shorts, red: longs)."""
    fig = go.Figure(
        go.Treemap(
            labels=table["asset"],
            parents=[""] * len(table),
            values=table["total"],
            customdata=np.column_stack([_usd_text(table["total"]), table["short_share"] * 100]),
            marker={
                "colors": table["short_share"],
                "colorscale": [[0, LONG_COLOR], [1, SHORT_COLOR]],
                "cmin": 0,
                "cmax": 1,
                "colorbar": {"title": {"text": "Short share"}, "tickformat": ".0%"},
            },
            texttemplate="%{label}<br>%{customdata[0]}",
            hovertemplate="%{label}: %{customdata[0]}, shorts %{customdata[1]:.0f}%<extra></extra>",
        )
    )
    return _layout(fig, 380, hovermode="closest")


@of_frames
def liquidation_timeline(buckets: pd.DataFrame, price: pd.DataFrame | None = None, price_label: str = "") -> go.Figure:
    """Long (red) and short (green) liquidations per bucket, stacked, with an optional price line."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_traces(_side_bars(buckets["ts"], buckets))
    if price is not None and not price.empty:
        tick, hover = _price_formats(price["close"])
        fig.add_scatter(
            x=price["ts"],
            y=price["close"],
            mode="lines",
            name=price_label,
            line={"color": PRICE_COLOR, "width": 1.5},
            secondary_y=True,
            hovertemplate="$%{y:" + hover + "}",
        )
        fig.update_yaxes(
            title_text=price_label, secondary_y=True, showgrid=False, tickprefix="$", tickformat=tick, tickmode="auto"
        )
    fig.update_yaxes(title_text="USD liquidated", secondary_y=False)
    _usd_axis(fig, buckets["long"] + buckets["short"], secondary_y=False)
    return _layout(fig, 380, barmode="stack", bargap=0.05)


RATIO_MID_COLOR = "#374151"


def ratio_color_range(values: Iterable[float]) -> tuple[float, float, list[list[float | str]]]:
    """(zmin, zmax, colorscale) for long/short ratios: the data's own range (never below 0, always holding 1),
    with the neutral colour exactly at 1 (red below: more shorts; teal above: more longs)."""
    finite = [float(v) for v in values if v is not None and np.isfinite(v)]
    zmin, zmax = max(0.0, min([1.0, *finite])), max([1.0, *finite])
    if zmax == zmin:
        zmin, zmax = max(0.0, zmin - 0.05), zmax + 0.05
    mid = (1.0 - zmin) / (zmax - zmin)
    scale: list[list[float | str]] = [[0.0, LONG_COLOR], [mid, RATIO_MID_COLOR], [1.0, SHORT_COLOR]]
    if mid <= 0.0:
        scale = [[0.0, RATIO_MID_COLOR], [1.0, SHORT_COLOR]]
    elif mid >= 1.0:
        scale = [[0.0, LONG_COLOR], [1.0, RATIO_MID_COLOR]]
    return zmin, zmax, scale


@of_frames
def ratio_heatmap(snapshot: pd.DataFrame, assets: list[str], exchanges: list[str]) -> go.Figure:
    """Asset x exchange grid of the latest long/short ratio (>1: more longs), with its change.

    The colour scale spans the data (clamped at 0) and is centred on 1; cell text is white on every colour.
    """
    last = snapshot.pivot(index="asset", columns="exchange", values="last").reindex(index=assets, columns=exchanges)
    change = snapshot.pivot(index="asset", columns="exchange", values="change").reindex(index=assets, columns=exchanges)
    text = [
        ["" if pd.isna(v) else f"{v:.2f} ({d:+.2f})" for v, d in zip(row_v, row_d, strict=False)]
        for row_v, row_d in zip(last.to_numpy(), change.to_numpy(), strict=False)
    ]
    zmin, zmax, colorscale = ratio_color_range(last.to_numpy().ravel())
    fig = go.Figure(
        go.Heatmap(
            z=last.to_numpy(),
            x=[_exchange_name(e) for e in exchanges],
            y=assets,
            text=text,
            texttemplate="%{text}",
            textfont={"color": "#f9fafb", "size": 13},
            colorscale=colorscale,
            zmin=zmin,
            zmax=zmax,
            colorbar={"title": "L/S", "tickformat": ".2~f"},
            hovertemplate="%{y} on %{x}: %{z:.2f}<extra></extra>",
            xgap=2,
            ygap=2,
        )
    )
    fig.update_yaxes(autorange="reversed", showgrid=False)
    fig.update_xaxes(showgrid=False)
    return _layout(fig, 60 + 44 * max(len(assets), 1), hovermode="closest")


@of_frames
def candles_with_liquidations(
    candles: pd.DataFrame, buckets: pd.DataFrame, title: str, covered: bool = True
) -> go.Figure:
    """Candlesticks, volume, and liquidation bars on one shared time axis.

    With `covered` False (no exchange's liquidations cover the window) the bottom row says
    so instead of drawing $0 bars.
    """
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, row_heights=[0.58, 0.14, 0.28], vertical_spacing=0.03)
    fig.add_trace(
        go.Candlestick(
            x=candles["ts"],
            open=candles["open"],
            high=candles["high"],
            low=candles["low"],
            close=candles["close"],
            name=title,
            increasing_line_color=SHORT_COLOR,
            decreasing_line_color=LONG_COLOR,
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=candles["ts"],
            y=candles["quote_volume"],
            name="Volume (USD)",
            marker_color="#6b7280",
            customdata=_usd_text(candles["quote_volume"]),
            hovertemplate=USD_HOVER,
        ),
        row=2,
        col=1,
    )
    if covered:
        for bar in _side_bars(buckets["ts"], buckets):
            fig.add_trace(bar, row=3, col=1)
    else:
        fig.add_annotation(
            text="Liquidations: not covered for this window",
            xref="x3 domain",
            yref="y3 domain",
            x=0.5,
            y=0.5,
            showarrow=False,
        )
        fig.update_yaxes(showticklabels=False, showgrid=False, row=3, col=1)
    fig.update_layout(xaxis_rangeslider_visible=False)
    tick, hover = _price_formats(candles["high"])
    fig.update_yaxes(title_text="Price", tickprefix="$", tickformat=tick, hoverformat=hover, row=1, col=1)
    fig.update_yaxes(title_text="Volume", row=2, col=1)
    _usd_axis(fig, candles["quote_volume"], row=2, col=1)
    fig.update_yaxes(title_text="Liquidated", row=3, col=1)
    if covered:
        _usd_axis(fig, buckets["long"] + buckets["short"], row=3, col=1)
    return _layout(fig, 640, barmode="stack", bargap=0.05)


@of_frames
def ratios_over_time(
    ratios: pd.DataFrame, kinds: tuple[str, ...] = RATIO_KINDS, color_by: str = "exchange"
) -> go.Figure:
    """One row per ratio kind; one line per exchange (or per asset); 1.0 marked."""
    kinds = tuple(k for k in kinds if k in set(ratios["kind"])) or kinds
    fig = make_subplots(
        rows=len(kinds),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        subplot_titles=[RATIO_KIND_LABELS[k] for k in kinds],
    )
    colors = EXCHANGE_COLORS if color_by == "exchange" else asset_colors(ratios["asset"])
    for row, kind in enumerate(kinds, start=1):
        frame = ratios[ratios["kind"] == kind]
        for key, series in frame.groupby(color_by, sort=False):
            fig.add_trace(
                go.Scatter(
                    x=series["ts"],
                    y=series["ratio"],
                    mode="lines",
                    name=_exchange_name(key) if color_by == "exchange" else key,
                    legendgroup=key,
                    showlegend=row == 1,
                    line={"color": colors.get(key), "width": 1.4},
                    hovertemplate="%{y:.2f}",
                ),
                row=row,
                col=1,
            )
        fig.add_hline(y=1.0, line_dash="dot", line_color="#6b7280", row=row, col=1)
    return _layout(fig, 190 * len(kinds) + 40)


@of_frames
def open_interest_and_funding(open_interest: pd.DataFrame, funding: pd.DataFrame) -> go.Figure:
    """Open interest (USD) per exchange above funding rates (% per period) per exchange."""
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.6, 0.4],
        vertical_spacing=0.08,
        subplot_titles=["Open interest (USD)", "Funding rate (% per funding period)"],
    )
    for exchange, series in open_interest.groupby("exchange", sort=False):
        fig.add_trace(
            go.Scatter(
                x=series["ts"],
                y=series["usd"],
                mode="lines",
                name=_exchange_name(exchange),
                legendgroup=exchange,
                line={"color": EXCHANGE_COLORS.get(exchange), "width": 1.5},
                customdata=_usd_text(series["usd"]),
                hovertemplate=USD_HOVER,
            ),
            row=1,
            col=1,
        )
    for exchange, series in funding.groupby("exchange", sort=False):
        fig.add_trace(
            go.Scatter(
                x=series["ts"],
                y=series["rate"] * 100,
                mode="lines+markers",
                name=_exchange_name(exchange),
                legendgroup=exchange,
                showlegend=False,
                line={"color": EXCHANGE_COLORS.get(exchange), "width": 1, "shape": "hv"},
                hovertemplate="%{y:.4~f}%<extra>%{fullData.name}</extra>",
            ),
            row=2,
            col=1,
        )
    if not open_interest.empty:
        low, high = open_interest["usd"].min(), open_interest["usd"].max()
        tickvals, ticktext = usd_ticks(low, high)
        fig.update_yaxes(tickmode="array", tickvals=tickvals, ticktext=ticktext, row=1, col=1)
    fig.update_yaxes(ticksuffix="%", tickformat=".3~f", row=2, col=1)
    return _layout(fig, 520)


@of_frames
def exchange_share(table: pd.DataFrame, exchange: str, denominator: str = "all exchanges") -> go.Figure:
    """Per asset: the exchange's share of that asset's liquidations across `denominator`.

    A NaN share (no liquidations of that asset anywhere covered) is labelled "none", not 0%.
    """
    fig = go.Figure(
        go.Bar(
            x=table["asset"],
            y=table["share"].fillna(0.0) * 100,
            marker_color=EXCHANGE_COLORS.get(exchange, "#9ca3af"),
            text=["none" if pd.isna(s) else f"{s * 100:.0f}%" for s in table["share"]],
            textposition="outside",
            hovertemplate="%{x}: %{text}<extra></extra>",
            name=_exchange_name(exchange),
        )
    )
    # The axis names the denominator's kind only; which venues it holds is long (the page says it once).
    fig.update_yaxes(title_text=f"Share of {denominator.split(' (')[0]}", ticksuffix="%", range=[0, 105])
    return _layout(fig, 340, hovermode="closest", showlegend=False)
