"""Compare: two UTC days side by side (`?compare=2025-05-08&compare=2025-05-19`), with their differences.

Each day is read exactly as the overview reads it on its own (same assets, exchanges, top coins and bar interval
choice), so every figure here equals that day's single view. The sidebar's date range and rolling window do not
apply on this page.

First screen: the liquidation tables (totals, long share, by exchange, by coin); they need only both days'
liquidations, so they draw as soon as those arrive. Both days' candles (the price moves, at the bottom) are asked
for once those are in and waited for where their table is drawn.
"""

from datetime import timedelta

import pandas as pd
import streamlit as st

from components import compare, context, filters, panel, summary
from data_sources.schema import EXCHANGE_NAMES

KEY = "compare"
TOP_COINS = 10

view = filters.current()
choice = context.source()
default_b = choice.default_day
default_a = max(default_b - timedelta(days=1), choice.first_day or default_b - timedelta(days=1))
(link_a, link_b), notes = compare.parse_days(
    st.query_params.get_all(KEY), choice.first_day, choice.last_day, (default_a, default_b)
)
for note in notes:
    st.warning(note, icon=":material/info:")

st.title("Compare two days")
pickers = st.columns(2)
bounds = {"min_value": choice.first_day, "max_value": choice.last_day, "format": "YYYY-MM-DD"}
day_a = pickers[0].date_input("First day (UTC)", value=link_a, key="compare_a", **bounds) or link_a
day_b = pickers[1].date_input("Second day (UTC)", value=link_b, key="compare_b", **bounds) or link_b
days = [f"{day_a:%Y-%m-%d}", f"{day_b:%Y-%m-%d}"]
st.query_params[KEY] = days
context.set_page_params({KEY: days})

ranking = context.top_assets()
series_assets = context.series_assets(ranking)
windows = []
for day in (day_a, day_b):
    start = pd.Timestamp(day, tz="UTC")
    end = start + pd.Timedelta(days=1)
    windows.append((start, end, filters.bar_interval(view.interval_choice, start, end)[0]))
first_screen = tuple(
    load
    for window in windows
    for load in context.start_between(*window, ("liquidations", context.liquidation_assets()))
)
candles_loads = tuple(
    load
    for window in windows
    for load in context.start_between(*window, ("candles", series_assets), after=first_screen)
)
liq_a, liq_b = (context.wait(load, "Loading liquidations ...") for load in first_screen)

st.caption(
    f"{days[0]} vs {days[1]} (UTC days) · {view.market_label} · {summary.count(len(view.exchanges), 'exchange')} · "
    "change = second day minus first; the sidebar's date range and rolling window do not apply here"
)
panel.liquidation_coverage((liq_a.status, liq_b.status), context.stream_freshness(view.exchanges))

COLUMN_LABELS = {"a": days[0], "b": days[1], "change": "Change", "change_pct": "Change %"}


def show(title: str, table: pd.DataFrame, kind: str, item: str, name: str) -> None:
    """One comparison table (formatted as the single views format it) with its numbers as CSV."""
    with st.container(border=True):
        st.subheader(title)
        if table.empty:
            st.info("Nothing to compare for this selection.")
            return
        shown = compare.formatted(table, kind).rename(columns={"item": item, **COLUMN_LABELS})
        st.dataframe(shown, hide_index=True, key=f"compare_{name}")
        st.download_button(
            "Download CSV",
            data=lambda: table.rename(columns=COLUMN_LABELS).to_csv(index=False),
            file_name=f"liqscope-compare-{name}.csv",
            mime="text/csv",
            key=f"compare_{name}_csv",
            on_click="ignore",
            icon=":material/download:",
            type="tertiary",
        )


if not (liq_a.status.ok and liq_b.status.ok):
    st.info(panel.NO_COVERAGE)
totals = compare.totals(liq_a.frame, liq_b.frame)
show("Liquidations", totals.iloc[:3], "usd", "Figure", "totals")
show("Long share of liquidations", totals.iloc[3:], "share", "Figure", "long-share")
left, right = st.columns(2)
with left:
    exchanges = compare.by_exchange(
        liq_a.frame, liq_b.frame, view.exchanges, liq_a.status.answered, liq_b.status.answered
    )
    exchanges["item"] = exchanges["item"].map(lambda e: EXCHANGE_NAMES.get(e, e))
    show("Liquidations by exchange", exchanges, "usd", "Exchange", "by-exchange")
with right:
    show(
        f"Liquidations by coin (top {TOP_COINS} of either day)",
        compare.by_coin(liq_a.coins, liq_b.coins, TOP_COINS),
        "usd",
        "Coin",
        "by-coin",
    )
candles_a, candles_b = (context.wait(load, "Loading prices ...") for load in candles_loads)
show(
    f"Price moves (top {len(ranking.assets)} coins by {ranking.basis})",
    compare.price_moves(candles_a.frame, candles_b.frame),
    "move",
    "Coin",
    "price-moves",
)
