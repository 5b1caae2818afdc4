"""Pure Plotly figure builders: frames in, figures out; nothing here fetches.

Colour conventions (as on CoinGlass): long liquidations red, short liquidations
green; each exchange keeps one colour on every chart.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from components.memo import of_frames
from data_sources.schema import EXCHANGE_NAMES, RATIO_KIND_LABELS, RATIO_KINDS

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
ASSET_COLORS = {
    "BTC": "#f7931a",
    "ETH": "#8c9eff",
    "SOL": "#14f195",
    "XRP": "#9ca3af",
    "DOGE": "#c2a633",
    "ADA": "#3b82f6",
    "BNB": "#f3ba2f",
}
SIDE_STYLE = (("long", "Longs liquidated", LONG_COLOR), ("short", "Shorts liquidated", SHORT_COLOR))
USD_HOVER = "$%{y:,.0f}"


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
            textposition="auto",
            hovertemplate="%{y}: %{x:+.2f}%<extra></extra>",
            name="Price change",
        )
    )
    fig.update_xaxes(title_text="Change over window (%)", ticksuffix="%")
    return _layout(fig, 320, hovermode="closest", showlegend=False)


@of_frames
def exchange_breakdown(table: pd.DataFrame) -> go.Figure:
    """Stacked long/short liquidation bars per exchange, labelled with each one's share.

    `table` is `summary.by_exchange`: an exchange with `covered` False gets no bar and the
    label "not covered"; when one is missing, the others' shares read "of covered".
    """
    names = [_exchange_name(e) for e in table["exchange"]]
    fig = go.Figure()
    for side, label, color in SIDE_STYLE:
        fig.add_bar(
            y=names,
            x=table[side],
            orientation="h",
            name=label,
            marker_color=color,
            hovertemplate="%{y}: $%{x:,.0f}<extra>" + label + "</extra>",
        )
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
    fig.update_xaxes(title_text="USD liquidated", tickprefix="$", range=[0, (top if top > 0 else 1) * 1.6])
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, 320, barmode="stack", hovermode="closest")


@of_frames
def asset_breakdown(table: pd.DataFrame) -> go.Figure:
    """Stacked long/short liquidation bars per asset (vertical)."""
    fig = go.Figure()
    for side, label, color in SIDE_STYLE:
        fig.add_bar(x=table["asset"], y=table[side], name=label, marker_color=color, hovertemplate=USD_HOVER)
    fig.update_yaxes(title_text="USD liquidated", tickprefix="$")
    return _layout(fig, 340, barmode="stack", hovermode="x")


@of_frames
def coin_ranking(table: pd.DataFrame) -> go.Figure:
    """`summary.by_coin` as horizontal stacked long/short bars, largest at the top, "Others" last."""
    fig = go.Figure()
    for side, label, color in SIDE_STYLE:
        fig.add_bar(
            y=table["asset"],
            x=table[side],
            orientation="h",
            name=label,
            marker_color=color,
            hovertemplate="%{y}: $%{x:,.0f}<extra>" + label + "</extra>",
        )
    fig.update_xaxes(title_text="USD liquidated", tickprefix="$")
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
            customdata=table["short_share"] * 100,
            marker={
                "colors": table["short_share"],
                "colorscale": [[0, LONG_COLOR], [1, SHORT_COLOR]],
                "cmin": 0,
                "cmax": 1,
                "colorbar": {"title": {"text": "Short share"}, "tickformat": ".0%"},
            },
            texttemplate="%{label}<br>$%{value:,.3s}",
            hovertemplate="%{label}: $%{value:,.0f}, shorts %{customdata:.0f}%<extra></extra>",
        )
    )
    return _layout(fig, 380, hovermode="closest")


@of_frames
def liquidation_timeline(buckets: pd.DataFrame, price: pd.DataFrame | None = None, price_label: str = "") -> go.Figure:
    """Long (red) and short (green) liquidations per bucket, stacked, with an optional price line."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for side, label, color in SIDE_STYLE:
        fig.add_bar(x=buckets["ts"], y=buckets[side], name=label, marker_color=color, hovertemplate=USD_HOVER)
    if price is not None and not price.empty:
        fig.add_scatter(
            x=price["ts"],
            y=price["close"],
            mode="lines",
            name=price_label,
            line={"color": PRICE_COLOR, "width": 1.5},
            secondary_y=True,
            hovertemplate="%{y:,.4~f}",
        )
        fig.update_yaxes(title_text=price_label, secondary_y=True, showgrid=False)
    fig.update_yaxes(title_text="USD liquidated", tickprefix="$", secondary_y=False)
    return _layout(fig, 380, barmode="stack", bargap=0.05)


@of_frames
def ratio_heatmap(snapshot: pd.DataFrame, assets: list[str], exchanges: list[str]) -> go.Figure:
    """Asset x exchange grid of the latest long/short ratio (>1: more longs), with its change."""
    last = snapshot.pivot(index="asset", columns="exchange", values="last").reindex(index=assets, columns=exchanges)
    change = snapshot.pivot(index="asset", columns="exchange", values="change").reindex(index=assets, columns=exchanges)
    text = [
        ["" if pd.isna(v) else f"{v:.2f} ({d:+.2f})" for v, d in zip(row_v, row_d, strict=False)]
        for row_v, row_d in zip(last.to_numpy(), change.to_numpy(), strict=False)
    ]
    fig = go.Figure(
        go.Heatmap(
            z=last.to_numpy(),
            x=[_exchange_name(e) for e in exchanges],
            y=assets,
            text=text,
            texttemplate="%{text}",
            colorscale=[[0, LONG_COLOR], [0.5, "#374151"], [1, SHORT_COLOR]],
            zmid=1.0,
            colorbar={"title": "L/S"},
            hovertemplate="%{y} on %{x}: %{z:.2f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
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
        go.Bar(x=candles["ts"], y=candles["quote_volume"], name="Volume (USD)", marker_color="#6b7280"),
        row=2,
        col=1,
    )
    if covered:
        for side, label, color in SIDE_STYLE:
            fig.add_trace(go.Bar(x=buckets["ts"], y=buckets[side], name=label, marker_color=color), row=3, col=1)
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
    fig.update_yaxes(title_text="Price", row=1, col=1)
    fig.update_yaxes(title_text="Volume", tickprefix="$", row=2, col=1)
    fig.update_yaxes(title_text="Liquidated", tickprefix="$", row=3, col=1)
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
    colors = EXCHANGE_COLORS if color_by == "exchange" else ASSET_COLORS
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
                hovertemplate="$%{y:,.0f}",
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
                hovertemplate="%{y:.4f}%",
            ),
            row=2,
            col=1,
        )
    fig.update_yaxes(tickprefix="$", row=1, col=1)
    fig.update_yaxes(ticksuffix="%", row=2, col=1)
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
    fig.update_yaxes(title_text=f"Share of {denominator}", ticksuffix="%", range=[0, 105])
    return _layout(fig, 340, hovermode="closest", showlegend=False)
