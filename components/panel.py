"""Widgets every page repeats: a chart with alt text and CSV download, a source status line."""

from __future__ import annotations

from urllib.parse import urlencode

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from components import summary
from components.filters import Filters, share_until
from data_sources.market import Panel, SourceStatus
from data_sources.schema import EXCHANGE_NAMES

DEMO_LABEL = "Demo data (simulated)"
ORIGINS = {"store": "Collector store (no exchange called)"}
CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


def _age(fetched_at: pd.Timestamp) -> str:
    seconds = (pd.Timestamp.now(tz="UTC") - fetched_at).total_seconds()
    if seconds < 90:
        return "just now"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def status_line(status: SourceStatus) -> None:
    """Who answered and how old the data is; why an exchange is missing (uncovered or failed)."""
    answered = ", ".join(EXCHANGE_NAMES.get(e, e) for e in status.answered) or "none"
    origin = DEMO_LABEL if status.simulated else ORIGINS.get(status.source, "Live exchange APIs")
    st.caption(f"{origin} · answered: {answered} · as of {_age(status.fetched_at)}")
    for note in status.notes:
        st.caption(f":material/sensors: {note}")
    for _exchange, reason in status.uncovered:
        st.caption(f":material/block: Not covered: {reason}")
    for exchange, reason in status.stale:
        st.warning(
            f"{exchange}: showing data as of {_age(status.fetched_at)}; refresh failed: {reason}",
            icon=":material/history:",
        )
    for exchange, reason in status.failed:
        st.warning(f"{exchange}: {reason}", icon=":material/cloud_off:")


NO_COVERAGE = "No exchange's liquidations cover this window (see the liquidation panels)."


def liquidation_metrics(columns: list, liquidations: Panel) -> summary.LiquidationTotals:
    """Total / longs / shorts metrics in the first three columns; "n/a" when nothing covers the window.

    When some exchanges are not covered, a caption under the row names the ones that are.
    """
    totals = summary.liquidation_totals(liquidations.frame)
    covered = liquidations.status.ok
    values = (totals.total, totals.longs, totals.shorts)
    labels = ("Total liquidations", "Longs liquidated", "Shorts liquidated")
    for column, label, value in zip(columns, labels, values, strict=False):
        column.metric(
            label, summary.usd(value) if covered else "n/a", help=None if covered else NO_COVERAGE, border=True
        )
    if covered and liquidations.status.uncovered:
        names = ", ".join(EXCHANGE_NAMES.get(e, e) for e in liquidations.status.answered)
        missing = ", ".join(name for name, _ in liquidations.status.uncovered)
        st.caption(f":material/info: Liquidation figures cover {names} only; {missing}: not covered for this window.")
    return totals


def chart(fig: go.Figure, frame: pd.DataFrame, *, name: str, alt: str, key: str) -> None:
    """Draw `fig` with `alt` text, and offer the exact frame behind it as CSV."""
    st.plotly_chart(fig, key=key, alt=alt, config=CHART_CONFIG)
    st.download_button(
        "Download CSV",
        data=lambda: frame.to_csv(index=False),
        file_name=f"liqscope-{name}.csv",
        mime="text/csv",
        key=f"{key}_csv",
        on_click="ignore",
        icon=":material/download:",
        type="tertiary",
    )


def share_params(filters: Filters, page_params: dict[str, str], now: pd.Timestamp) -> dict[str, list[str]]:
    """Every filter made explicit, with absolute dates (and a freeze time if the window is still open),
    so a link reopens the same numbers later."""
    params = {
        "range": [f"{filters.first_day:%Y-%m-%d}", f"{filters.last_day:%Y-%m-%d}"],
        "assets": list(filters.assets),
        "exchanges": list(filters.exchanges),
        "interval": [filters.interval_choice],
    }
    until = share_until(filters, now)
    if until is not None:
        params["until"] = [until]
    params.update({k: [v] for k, v in page_params.items()})
    return params


def share_link(base_url: str, url_path: str, filters: Filters, page_params: dict[str, str], now: pd.Timestamp) -> str:
    """The absolute link for the current page and filters."""
    query = urlencode(share_params(filters, page_params, now), doseq=True)
    return f"{base_url.rstrip('/')}/{url_path}?{query}"


def share_control(url_path: str, filters: Filters, page_params: dict[str, str]) -> None:
    """A 'Share' popover with the explicit link for this view."""
    base = st.context.url or "http://localhost:8501"
    with st.popover("Share this view", icon=":material/link:", width="stretch"):
        st.caption("Every filter explicit, with absolute dates: this link reopens the same view and numbers.")
        link = share_link(base, url_path, filters, page_params, pd.Timestamp.now(tz="UTC"))
        st.code(link, language=None, wrap_lines=True)
