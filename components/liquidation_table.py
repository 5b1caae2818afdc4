"""The largest-liquidations table and the live feed: one look for both.

A minimum-size filter bound to the URL (`min_usd=1000000`), venues by display name, the position side
coloured as on the charts (longs red, shorts teal), compact USD ($3.32M) and a quantity precision that
suits the coin (809.6 ETH, 32.77 BTC, 105.3M PEPE). Numbers stay numbers in the frame, so the table still
sorts by value; only their display is formatted (a pandas Styler, which `st.dataframe` renders).
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

from components import summary
from components.charts import LONG_COLOR, SHORT_COLOR, tick_usd
from data_sources.schema import EXCHANGE_NAMES

MIN_USD_PARAM = "min_usd"
MIN_USD_PRESETS: tuple[int, ...] = (0, 100_000, 250_000, 1_000_000, 5_000_000)
SIDE_COLORS = {"Long": LONG_COLOR, "Short": SHORT_COLOR}
TIME, EXCHANGE, ASSET, SIDE, PRICE, QTY, USD = "Time (UTC)", "Exchange", "Asset", "Position", "Price", "Qty", "USD"


def quantity(value: float) -> str:
    """A coin quantity with four significant digits, compact from a million: 809.6, 32.77, 0.01234, 105.3M."""
    if value is None or math.isnan(value):
        return "n/a"
    size = abs(value)
    for threshold, suffix in ((1e9, "B"), (1e6, "M")):
        if size >= threshold:
            return f"{value / threshold:,.1f}{suffix}"
    if size >= 1000 or size == 0:
        return f"{value:,.0f}"
    return f"{value:,.{max(0, 3 - math.floor(math.log10(size)))}f}"


def min_usd_label(value: int) -> str:
    """A preset's label: 'Any size', '≥ $100K', '≥ $1M'."""
    return "Any size" if value <= 0 else f"≥ {tick_usd(value)}"


def parse_min_usd(values: list[str]) -> tuple[int, list[str]]:
    """The link's `min_usd` (whole USD, the last one given; 0 when absent) and a note for a value it cannot use."""
    if not values:
        return 0, []
    raw = values[-1]
    try:
        value = int(float(raw))
    except (ValueError, OverflowError):
        value = -1
    if value < 0:
        return 0, [f"Ignored minimum size {raw!r} from the link: give whole USD, e.g. min_usd=1000000."]
    return value, []


def largest(liquidations: pd.DataFrame, min_usd: float = 0.0, n: int = 20, asset_column: bool = False) -> pd.DataFrame:
    """The `n` largest single liquidations of at least `min_usd` USD, largest first, for display (see `display`).
    Aggregated buckets (no price) are excluded."""
    return display(summary.largest(liquidations[liquidations["usd"] >= min_usd], n), asset_column)


def newest(liquidations: pd.DataFrame, asset_column: bool = False) -> pd.DataFrame:
    """Recorded liquidations newest first, for display (the live feed)."""
    return display(liquidations.sort_values("ts", ascending=False, kind="stable"), asset_column)


def display(rows: pd.DataFrame, asset_column: bool = False) -> pd.DataFrame:
    """Liquidation rows (schema columns) as the table shows them: time (UTC, naive), venue name, (asset,)
    Long/Short, price (USD per coin), quantity (coins), USD; numbers kept numeric."""
    shown = pd.DataFrame(
        {
            TIME: rows["ts"].dt.tz_convert(None),
            EXCHANGE: [EXCHANGE_NAMES.get(e, e) for e in rows["exchange"]],
            ASSET: rows["asset"],
            SIDE: rows["side"].str.capitalize(),
            PRICE: rows["price"],
            QTY: rows["qty"],
            USD: rows["usd"],
        }
    ).reset_index(drop=True)
    return shown if asset_column else shown.drop(columns=ASSET)


def styled(shown: pd.DataFrame) -> Styler:
    """`display`'s frame with formatted display values and the side coloured (longs red, shorts teal)."""
    formats = {TIME: "{:%Y-%m-%d %H:%M:%S}", PRICE: summary.price, QTY: quantity, USD: summary.usd}
    return shown.style.format(formats).map(lambda side: f"color: {SIDE_COLORS.get(side, 'inherit')}", subset=[SIDE])


def _write_min_usd(key: str) -> None:
    value = st.session_state[key] or 0
    if value:
        st.query_params[MIN_USD_PARAM] = str(value)
    elif MIN_USD_PARAM in st.query_params:
        del st.query_params[MIN_USD_PARAM]


def min_usd_filter(key: str) -> int:
    """The minimum-size presets as a segmented control, read from and written to the URL's `min_usd`; a link's
    value that is no preset is offered as well. Returns whole USD (0: any size)."""
    linked, notes = parse_min_usd(st.query_params.get_all(MIN_USD_PARAM))
    for note in notes:
        st.caption(f":material/info: {note}")
    if notes and not linked:
        del st.query_params[MIN_USD_PARAM]  # the ignored value leaves the link (the note says why)
    options = tuple(sorted({*MIN_USD_PRESETS, linked}))
    if key not in st.session_state or st.session_state[key] not in (*options, None):
        st.session_state[key] = linked
    choice = st.segmented_control(
        "Minimum size",
        options,
        format_func=min_usd_label,
        key=key,
        on_change=_write_min_usd,
        args=(key,),
        help="Only liquidations of at least this many USD; the choice is kept in the link (min_usd).",
    )
    return int(choice or 0)


def show(shown: pd.DataFrame, qty_label: str, height: int | None = None) -> None:
    """Draw `display`'s frame; `qty_label` names the quantity column's unit ('Qty (ETH)')."""
    st.dataframe(
        styled(shown),
        hide_index=True,
        height=height or "auto",
        column_config={QTY: qty_label, TIME: st.column_config.Column(TIME, width="medium")},
    )
