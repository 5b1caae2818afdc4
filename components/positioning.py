"""Open interest change and annualised funding per asset x exchange: two KPIs and a table.

The numbers come from `summary.positioning`; this module only lays them out (compact USD, signed percent,
venue names) and states the annualising assumption once.
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from components import summary
from data_sources.schema import EXCHANGE_NAMES

ASSUMPTION = (
    "Annualised funding = the last funding rate x funding periods per year (8-hourly: x1,095; hourly: x8,760), "
    "simple, not compounded; each series' period is read from its own funding times."
)


def _signed_usd(value: float) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return ("+" if value >= 0 else "") + summary.usd(value)


def _rate(value: float, digits: int) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value * 100:+.{digits}f}%"


def display(table: pd.DataFrame) -> pd.DataFrame:
    """`summary.positioning` rows as text for the table: asset, venue name, OI at the end, its change (USD and
    %), funding per period and annualised."""
    return pd.DataFrame(
        {
            "Asset": table["asset"],
            "Exchange": [EXCHANGE_NAMES.get(e, e) for e in table["exchange"]],
            "Open interest": [summary.usd(v) for v in table["oi_end"]],
            "OI change": [_signed_usd(v) for v in table["oi_change"]],
            "OI change %": [_rate(v, 1) for v in table["oi_change_pct"]],
            "Funding (per period)": [_rate(v, 4) for v in table["funding_rate"]],
            "Every": ["n/a" if math.isnan(h) else f"{h:.0f} h" for h in table["funding_hours"]],
            "Funding (annualised)": [_rate(v, 1) for v in table["funding_annualised"]],
        }
    )


def show(table: pd.DataFrame) -> None:
    """Two KPIs (summed open-interest change; the median annualised funding) and the per-row table."""
    change, change_pct = summary.open_interest_totals(table)
    median_funding = table["funding_annualised"].median()
    left, right = st.columns(2)
    left.metric(
        "Open interest change",
        _signed_usd(change),
        summary.pct(change_pct, signed=True),
        help="Summed over the rows below: open interest at the window's end minus its start (USD).",
        border=True,
    )
    right.metric("Funding, annualised (median)", _rate(median_funding, 1), help=ASSUMPTION, border=True)
    st.dataframe(display(table), hide_index=True)
    st.caption(f":material/calculate: {ASSUMPTION}")
