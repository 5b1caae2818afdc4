"""Widgets every page repeats: a chart with alt text and CSV download, a source status line."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import urlencode, urlsplit

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from components import context, summary
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


def status_line(status: SourceStatus, details: bool = True) -> None:
    """Who answered and how old the data is; with `details`, why an exchange is missing (uncovered or failed).

    Liquidation panels pass `details=False`: their coverage is stated once per page by `liquidation_coverage`.
    Nothing is said while the store holds nothing yet: the page says that once, at the top.
    """
    if context.nothing_stored():
        return
    answered = ", ".join(EXCHANGE_NAMES.get(e, e) for e in status.answered) or "none"
    origin = DEMO_LABEL if status.simulated else ORIGINS.get(status.source, "Live exchange APIs")
    st.caption(f"{origin} · answered: {answered} · as of {_age(status.fetched_at)}")
    if details:
        _status_details(
            status.notes, dict(status.uncovered), dict(status.stale), dict(status.failed), status.fetched_at
        )


def _status_details(
    notes: Iterable[str],
    uncovered: dict[str, str],
    stale: dict[str, str],
    failed: dict[str, str],
    fetched_at: pd.Timestamp,
) -> None:
    """Coverage notes and not-covered reasons (each once) as captions; stale and failed exchanges as warnings."""
    for note in notes:
        st.caption(f":material/fact_check: {note}")
    for reason in dict.fromkeys(uncovered.values()):
        st.caption(f":material/block: Not covered: {reason}")
    for name, reason in stale.items():
        st.warning(
            f"{name}: showing data as of {_age(fetched_at)}; refresh failed: {reason}",
            icon=":material/history:",
        )
    for name, reason in failed.items():
        st.warning(f"{name}: {reason}", icon=":material/cloud_off:")


NO_COVERAGE = "No exchange's liquidations cover this window (see the liquidation coverage notes)."


def liquidation_coverage(statuses: Sequence[SourceStatus], freshness: Sequence[str]) -> None:
    """Once per page, under the KPIs: which exchanges' liquidations cover the window and what
    covers them, why the others are not covered, and when each recorded stream last spoke.

    `statuses` are the page's liquidation panels (duplicates are stated once); `freshness`
    the sentences of `data_sources.stream_health.describe` ("Bybit: live, last event 3 s ago").
    Nothing is said while the store holds nothing yet: the page says that once, at the top.
    """
    if context.nothing_stored():
        return
    answered = list(dict.fromkeys(e for status in statuses for e in status.answered))
    uncovered = {name: reason for status in statuses for name, reason in status.uncovered}
    failed = {name: reason for status in statuses for name, reason in status.failed}
    uncovered = {name: reason for name, reason in uncovered.items() if name not in failed}
    if answered and uncovered:
        names = [EXCHANGE_NAMES.get(e, e) for e in answered]
        nowhere = [name for name in uncovered if name not in names]
        partly = [name for name in uncovered if name in names]  # answered for one window, not another (compare)
        said = f":material/info: Liquidation figures cover {', '.join(names)}"
        said += f" only; {', '.join(nowhere)}: not covered for this window" if nowhere else ""
        said += f"; {', '.join(partly)}: not covered in every window compared" if partly else ""
        st.caption(f"{said}.")
    for line in freshness:
        st.caption(f":material/sensors: {line}")
    _status_details(
        dict.fromkeys(note for status in statuses for note in status.notes),
        uncovered,
        {name: reason for status in statuses for name, reason in status.stale},
        failed,
        min(status.fetched_at for status in statuses),
    )


def liquidation_metrics(columns: list, liquidations: Panel) -> summary.LiquidationTotals:
    """Total / longs / shorts metrics in the first three columns; "n/a" when nothing covers the window."""
    totals = summary.liquidation_totals(liquidations.frame)
    covered = liquidations.status.ok
    values = (totals.total, totals.longs, totals.shorts)
    labels = ("Total liquidations", "Longs liquidated", "Shorts liquidated")
    for column, label, value in zip(columns, labels, values, strict=False):
        column.metric(
            label, summary.usd(value) if covered else "n/a", help=None if covered else NO_COVERAGE, border=True
        )
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


def share_params(filters: Filters, page_params: dict[str, str | list[str]], now: pd.Timestamp) -> dict[str, list[str]]:
    """Every filter made explicit, with absolute dates (and a freeze time if the window is still open, always for a
    rolling window), so a link reopens the same numbers later; no `assets` is the whole market. Venues are named
    as the exchange pickers show them (`OKX`), so the opened link stays in the address bar."""
    params = {
        "range": [f"{filters.first_day:%Y-%m-%d}", f"{filters.last_day:%Y-%m-%d}"],
        "assets": list(filters.selected),
        "exchanges": [EXCHANGE_NAMES.get(e, e) for e in filters.exchanges],  # as the picker writes them
        "interval": [filters.interval_choice],
        "top": [str(filters.top)],
    }
    if filters.window is not None:
        params["window"] = [filters.window]
    until = share_until(filters, now)
    if until is not None:
        params["until"] = [until]
    params.update({k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in page_params.items()})
    return params


def app_root(browser_url: str | None, page_path: str, base_url_path: str = "") -> str:
    """Scheme, host and base path of the app, e.g. 'https://host/liq', never with a trailing slash.

    `browser_url` is `st.context.url`: the address the browser shows, which already ends
    in the current page's path (`page_path`, '' for the overview) and may carry a
    trailing slash. The page segment is removed so a link adds it exactly once. A
    configured `server.baseUrlPath` is authoritative; without one, whatever prefix the
    browser used (a reverse proxy's) is kept.
    """
    parts = urlsplit(browser_url or "http://localhost:8501")
    origin = f"{parts.scheme}://{parts.netloc}"
    if base_url_path.strip("/"):
        return f"{origin}/{base_url_path.strip('/')}"
    path = parts.path.rstrip("/")
    page = page_path.strip("/")
    if page and (path == f"/{page}" or path.endswith(f"/{page}")):
        path = path[: -len(page) - 1]
    return origin + path


def share_link(
    root: str, url_path: str, filters: Filters, page_params: dict[str, str | list[str]], now: pd.Timestamp
) -> str:
    """The absolute link for the current page and filters; `root` from `app_root`, `url_path` '' = overview."""
    query = urlencode(share_params(filters, page_params, now), doseq=True)
    return f"{root}/{url_path.strip('/')}?{query}"


def share_control(url_path: str, filters: Filters, page_params: dict[str, str | list[str]]) -> None:
    """A 'Share' popover with the explicit link for this view."""
    root = app_root(st.context.url, url_path, st.get_option("server.baseUrlPath") or "")
    with st.popover("Share this view", icon=":material/link:", width="stretch"):
        st.caption("Every filter explicit, with absolute dates: this link reopens the same view and numbers.")
        link = share_link(root, url_path, filters, page_params, pd.Timestamp.now(tz="UTC"))
        st.code(link, language=None, wrap_lines=True)
