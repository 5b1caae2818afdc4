"""What the frame (`app.py`) hands to pages for this run: the source and the data read path."""

from __future__ import annotations

from concurrent.futures import Future

import pandas as pd
import streamlit as st

from components import cascades as bursts
from components.filters import current
from components.progress import awaiting
from data_sources import market, stream_health
from data_sources.base import SourceError
from data_sources.registry import SourceChoice
from data_sources.schema import ALL_ASSETS, Dataset
from data_sources.universe import Ranking

SOURCE_KEY = "liqscope_source"
NOTHING_STORED_KEY = "liqscope_nothing_stored"
PAGE_PARAMS_KEY = "liqscope_page_params"


def set_source(choice: SourceChoice) -> None:
    """Record the active source for this run (the frame calls this)."""
    st.session_state[SOURCE_KEY] = choice


def source() -> SourceChoice:
    """The active source chosen by the frame."""
    return st.session_state[SOURCE_KEY]


def check_nothing_stored() -> str | None:
    """The frame's once-per-page sentence when the source is a store that holds nothing yet (else None);
    remembered for this run so panels step aside instead of each repeating why they are empty."""
    check = getattr(source().source, "nothing_stored", None)
    sentence = check() if check else None
    st.session_state[NOTHING_STORED_KEY] = sentence is not None
    return sentence


def nothing_stored() -> bool:
    """True when this run's store holds nothing yet (the page already said so once)."""
    return st.session_state.get(NOTHING_STORED_KEY, False)


def recent_liquidations(asset: str, exchanges: tuple[str, ...], limit: int) -> pd.DataFrame | None:
    """The latest recorded liquidations from the recorder's store; None when there is no store."""
    recent = getattr(source().source, "recent", None)
    return recent(asset, exchanges, limit) if recent else None


def start_each(
    *jobs: tuple[Dataset, tuple[str, ...]],
    exchanges: tuple[str, ...] | None = None,
    after: tuple[Future, ...] = (),
) -> tuple[Future, ...]:
    """Handles of (dataset, assets) panels for the current filters (or `exchanges`), their loads begun now (or
    once every handle in `after` is done): a page starts every load at its top and waits for each (`wait`) only
    where the panel that needs it is drawn."""
    filters = current()
    return market.start(
        source().source, jobs, exchanges or filters.exchanges, filters.start, filters.end, filters.interval, after
    )


def wait(handle: Future, loading: str | None = None) -> market.Panel | None:
    """A started panel, drawn where it is called: "`loading`" while it loads, and which request budgets it
    waits for (`progress.awaiting`); nothing when it is already there."""
    return awaiting(handle, loading)


def start_baseline(liquidations: Future, assets: tuple[str, ...], exchanges: tuple[str, ...] | None = None) -> Future:
    """Handle of the liquidations of `assets` in the hours before the current window that cascades are measured
    against (`components.cascades.RULE.baseline`), on the current exchanges (or `exchanges`), begun as soon as
    the window's `liquidations` handle is in; its result is None when those hold no individual events
    (aggregated buckets never count as a burst)."""
    filters, active = current(), source().source
    window = (exchanges or filters.exchanges, filters.start - bursts.RULE.baseline, filters.start, filters.interval)

    def begin(panel: market.Panel) -> Future | None:
        if not panel.frame["price"].notna().any():
            return None
        return market.start(active, (("liquidations", assets),), *window)[0]

    return market.then(liquidations, begin)


def cascades(liquidations: pd.DataFrame, baseline: Future) -> pd.DataFrame:
    """The cascades (`components.cascades.detect`) in the current window's `liquidations`, measured against the
    hours before it (`start_baseline`; waited for here, saying so while it loads)."""
    filters = current()
    before = wait(baseline, "Loading the hours before the window, to find cascades ...")
    if before is None:
        return bursts.detect(liquidations, filters.start, filters.end)
    return bursts.detect(pd.concat([before.frame, liquidations]), filters.start, filters.end)


def start_between(
    start: pd.Timestamp,
    end: pd.Timestamp,
    interval: str,
    *jobs: tuple[Dataset, tuple[str, ...]],
    after: tuple[Future, ...] = (),
) -> tuple[Future, ...]:
    """Handles of (dataset, assets) panels over [start, end) instead of the sidebar's window (the compare page),
    for the current exchanges, begun now (or once every handle in `after` is done)."""
    return market.start(source().source, jobs, current().exchanges, start, end, interval, after)


def liquidation_assets() -> tuple[str, ...]:
    """What the liquidation views read: every asset (`ALL_ASSETS`) for the whole market, else the selection."""
    filters = current()
    return (ALL_ASSETS,) if filters.whole_market else filters.selected


def top_assets() -> Ranking:
    """The top `filters.top` coins by open interest on the selected exchanges (one ticker request per venue,
    cached), for the views that fetch one series per coin."""
    filters = current()
    return source().source.top_assets(filters.exchanges, filters.top)


def series_assets(ranking: Ranking) -> tuple[str, ...]:
    """The ranked coins followed by every selected coin not among them."""
    return tuple(dict.fromkeys((*ranking.assets, *current().selected)))


def set_page_params(params: dict[str, str | list[str]]) -> None:
    """Page-local URL parameters (e.g. asset=ETH, or compare=[day, day]) for the share link."""
    st.session_state[PAGE_PARAMS_KEY] = params


def page_params() -> dict[str, str | list[str]]:
    """The page-local parameters the current page registered this run."""
    return st.session_state.get(PAGE_PARAMS_KEY, {})


def stream_freshness(exchanges: tuple[str, ...]) -> list[str]:
    """When each exchange's recorded stream last delivered, one sentence each ("Bybit: live, last event 3 s
    ago"); [] for a source without a recorder store (the demo)."""
    target = getattr(source().source, "db", None)
    if target is None:
        return []
    try:
        return list(stream_health.describe(exchanges, db_path=str(target)).values())
    except SourceError as error:
        return [f"Recorder status unavailable: {error}"]
