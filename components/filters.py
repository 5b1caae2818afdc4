"""The shared filters: drawn once by `app.py` in the sidebar, bound to the URL.

Each widget has `key=` + `bind="query-params"`, so the address bar always holds
the view (`?range=2025-05-07&range=2025-05-09&assets=ETH&exchanges=okx`). The
frame resolves the raw widget values into a `Filters` (sorted range, empty
selection = all, unknown link values dropped with a note) and stores it in
`st.session_state`, where pages read it; pages never create these widgets.
A rolling window (`?window=4h`, optionally ending at a shared link's `until`) takes
the place of the UTC days while it is selected; picking days ends it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from data_sources.intervals import INTERVALS, auto_interval, fit_interval, points
from data_sources.registry import SourceChoice
from data_sources.schema import ASSETS, EXCHANGE_NAMES, EXCHANGES
from data_sources.universe import DEFAULT_TOP, MAX_TOP, Universe, order

STATE_KEY = "liqscope_filters"
RANGE_KEY, ASSETS_KEY, EXCHANGES_KEY, INTERVAL_KEY = "range", "assets", "exchanges", "interval"
UNTIL_KEY, TOP_KEY, WINDOW_KEY = "until", "top", "window"
UNTIL_FORMAT = "%Y-%m-%dT%H:%MZ"
AUTO = "auto"
PRESETS: dict[str, int] = {"7 d": 7, "30 d": 30}
WINDOWS: dict[str, int] = {"1h": 1, "4h": 4, "12h": 12, "24h": 24}  # rolling windows: URL value -> hours
TOP_CHOICES = tuple(str(n) for n in range(1, MAX_TOP + 1))  # strings, as the URL carries them
MAJORS_ONLY = Universe(ASSETS, len(ASSETS) * len(EXCHANGES))


@dataclass(frozen=True)
class Filters:
    """The resolved view: whole UTC days [first_day, last_day], assets, exchanges, bar interval.

    `selected` is the user's asset choice (empty: the whole market); `assets` is that choice, or the majors the
    venues list when it is empty (the per-asset default); `universe` every coin the selected venues list;
    `top` how many coins by open interest the per-coin series views fetch.
    """

    first_day: date
    last_day: date
    assets: tuple[str, ...]
    exchanges: tuple[str, ...]
    interval: str
    interval_choice: str
    notes: tuple[str, ...] = ()
    until: pd.Timestamp | None = None
    selected: tuple[str, ...] = ()
    universe: Universe = MAJORS_ONLY
    top: int = DEFAULT_TOP
    window: str | None = None
    window_end: pd.Timestamp | None = None

    @property
    def whole_market(self) -> bool:
        """No asset selected: the liquidation views count every asset."""
        return not self.selected

    @property
    def market_label(self) -> str:
        """'all 56 perpetuals (19 coins)' for the whole market, else '2 assets'."""
        if self.whole_market:
            coins = len(self.universe.assets)
            if not self.universe.perpetuals:
                return "no listed perpetual on the selected venues"
            return f"all {self.universe.perpetuals:,} perpetuals ({coins:,} coins)"
        return f"{len(self.selected)} asset{'s' if len(self.selected) != 1 else ''}"

    @property
    def start(self) -> pd.Timestamp:
        """Window start, inclusive: 00:00 UTC of the first day, or `window` hours before a rolling window's end."""
        if self.window is not None and self.window_end is not None:
            return self.window_end - pd.Timedelta(hours=WINDOWS[self.window])
        return pd.Timestamp(self.first_day, tz="UTC")

    @property
    def end(self) -> pd.Timestamp:
        """Window end, exclusive: a rolling window's end, else 00:00 UTC after the last day or the `until` a shared
        link froze."""
        if self.window is not None and self.window_end is not None:
            return self.window_end
        day_end = pd.Timestamp(self.last_day, tz="UTC") + pd.Timedelta(days=1)
        return min(day_end, self.until) if self.until is not None else day_end

    @property
    def label(self) -> str:
        """'2025-05-08' or '2025-05-07 to 2025-05-09' (UTC), with the freeze time when there is one; a rolling
        window: 'last 4 h: 2025-05-08 14:00 to 18:00 (UTC)'."""
        if self.window is not None:
            start, end = self.start, self.end
            to = f"{end:%H:%M}" if start.date() == end.date() else f"{end:%Y-%m-%d %H:%M}"
            return f"last {WINDOWS[self.window]} h: {start:%Y-%m-%d %H:%M} to {to} (UTC)"
        days = f"{self.first_day:%Y-%m-%d}"
        if self.first_day != self.last_day:
            days += f" to {self.last_day:%Y-%m-%d}"
        frozen = f", data until {self.until:%Y-%m-%d %H:%M}" if self.until is not None else ""
        return f"{days} (UTC{frozen})"


def parse_until(values: list[str]) -> tuple[pd.Timestamp | None, list[str]]:
    """The `until` of a shared link (YYYY-MM-DDTHH:MMZ), or None with a note when it is malformed."""
    if not values:
        return None, []
    try:
        return pd.Timestamp(pd.to_datetime(values[-1], format=UNTIL_FORMAT, utc=True)), []
    except (ValueError, TypeError):
        return None, [f"Ignored invalid until {values[-1]!r} from the link; it is YYYY-MM-DDTHH:MMZ."]


def freezing_until(
    until: pd.Timestamp | None, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[pd.Timestamp | None, list[str]]:
    """A link's `until` for the days [start, end): kept when it falls inside them (it freezes the view there),
    else None with a note (after the last day it freezes nothing; before the first it would leave no window)."""
    if until is None or start < until < end:
        return until, []
    where = "after the range ends" if until >= end else "before the range starts"
    days = f"{start:%Y-%m-%d} to {end:%Y-%m-%d %H:%M} UTC"
    return None, [f"Ignored until {until:%Y-%m-%d %H:%M} UTC from the link: it is {where} ({days})."]


def share_until(filters: Filters, now: pd.Timestamp) -> str | None:
    """The freeze a share link needs: a rolling window's end (always pinned), the link's own, or now when the
    window's last day is still open."""
    if filters.window is not None:
        return f"{filters.end:{UNTIL_FORMAT}}"
    if filters.until is not None:
        return f"{filters.until:{UNTIL_FORMAT}}"
    day_end = pd.Timestamp(filters.last_day, tz="UTC") + pd.Timedelta(days=1)
    return f"{now.floor('min'):{UNTIL_FORMAT}}" if day_end > now else None


def parse_window(values: list[str]) -> tuple[str | None, list[str]]:
    """The rolling window a link names (`window=4h`, any letter case), or None with a note when it names none."""
    if not values:
        return None, []
    by_fold = {w.casefold(): w for w in WINDOWS}
    if values[-1].casefold() in by_fold:
        return by_fold[values[-1].casefold()], []
    options = ", ".join(WINDOWS)
    return None, [f"Ignored invalid window {values[-1]!r} from the link; it is one of {options}. Showing UTC days."]


def window_end(
    hours: int, until: pd.Timestamp | None, data_start: pd.Timestamp | None, data_end: pd.Timestamp, now: pd.Timestamp
) -> tuple[pd.Timestamp, list[str], str | None]:
    """Where a rolling window of `hours` ends (exclusive, on a whole UTC minute), the notes for a link's `until`
    it could not honour, and a caption when the data stops before now (the demo: its last minute).

    `data_start`/`data_end` bound the source's data ([first day 00:00, the day after the last day 00:00) UTC);
    `until` is the shared link's pinned end; without it the window ends at the latest minute with data.
    """
    latest = min(now.floor("min"), data_end)
    clamp = None if latest == now.floor("min") else f"The data ends {latest:%Y-%m-%d %H:%M} UTC; the window ends there."
    if until is None:
        return latest, [], clamp
    if until > latest:
        note = f"The link's window ends {until:%Y-%m-%d %H:%M} UTC, after the data; it ends at {latest:%Y-%m-%d %H:%M}."
        return latest, [note], None
    if data_start is not None and until - pd.Timedelta(hours=hours) < data_start:
        start = data_start + pd.Timedelta(hours=hours)
        note = (
            f"The link's window ends {until:%Y-%m-%d %H:%M} UTC, before {hours} h of data; it ends at "
            f"{start:%Y-%m-%d %H:%M}."
        )
        return start, [note], None
    return until, [], None


def bar_interval(choice: str, start: pd.Timestamp, end: pd.Timestamp) -> tuple[str, list[str]]:
    """The bar interval for [start, end): `auto`'s pick, or the chosen one coarsened (with a note) when it would
    draw too many points."""
    if choice == AUTO:
        return auto_interval(start, end), []
    interval = fit_interval(choice, start, end)
    if interval == choice:
        return interval, []
    return interval, [f"{choice} bars would draw {points(choice, start, end):,} points; using {interval}."]


def parse_top(values: list[str]) -> list[str]:
    """Notes for `top` link values that are not a whole number from 1 to MAX_TOP (the widget drops them)."""
    return [
        f"Ignored invalid top {value!r} from the link; it is a whole number from 1 to {MAX_TOP}."
        for value in values
        if value not in TOP_CHOICES
    ]


def asset_options(choice: SourceChoice, exchanges: tuple[str, ...]) -> tuple[Universe, tuple[str, ...]]:
    """The selected venues' universe, and the selector's options: its coins plus any coin still selected that
    another venue lists (so narrowing the venues never drops a choice silently)."""
    universe = choice.source.universe(exchanges)
    kept = [a for a in st.session_state.get(ASSETS_KEY) or () if a not in universe.assets]
    if kept:
        everywhere = choice.source.universe(EXCHANGES).assets
        return universe, order((*universe.assets, *(a for a in kept if a in everywhere)))
    return universe, universe.assets


def _release_until() -> None:
    del st.query_params[UNTIL_KEY]


def normalize_range(value: Any, default: date, first: date | None, last: date) -> tuple[date, date, list[str]]:
    """Sort a reversed range, widen a one-date range to that day, clamp to the data."""
    notes: list[str] = []
    days = [d for d in (value if isinstance(value, (list, tuple)) else [value]) if isinstance(d, date)]
    if not days:
        days = [default]
    lo, hi = min(days), max(days)
    if first is not None and lo < first:
        notes.append(f"Data starts on {first:%Y-%m-%d}; the range was clipped.")
        lo = first
    if hi > last:
        notes.append(f"Data ends on {last:%Y-%m-%d}; the range was clipped.")
        hi = last
    if lo > hi:
        lo = hi = default
    return lo, hi, notes


def resolve_selection(selected: Iterable[str], options: Sequence[str]) -> tuple[str, ...]:
    """The selection in the options' order; empty means all options."""
    chosen = set(selected)
    return tuple(o for o in options if o in chosen) or tuple(options)


def unknown_link_values(key: str, options: Sequence[str]) -> list[str]:
    """Values the URL gave for `key` that are not valid options, in any letter case (a tampered or stale link)."""
    return link_values(key, options)[1]


def link_values(key: str, options: Sequence[str]) -> tuple[list[str], list[str]]:
    """The URL's `key` values as the options they name in any letter case (`eth` -> `ETH`, `OKX` -> `okx`),
    and the values that name no option."""
    by_fold = {option.casefold(): option for option in options}
    values = st.query_params.get_all(key)
    return [by_fold[v.casefold()] for v in values if v.casefold() in by_fold], [
        v for v in values if v.casefold() not in by_fold
    ]


def adopt_link_case(key: str, options: Sequence[str], many: bool, shown: Callable[[str], str] = str) -> None:
    """Give the `key` widget the options a link named in another letter case (the widget itself only
    knows its exact labels, `shown(option)`, and would drop them); a link already in that form is left to
    the widget. A widget showing venue names (`OKX`) thus still opens on a link's ids (`okx`)."""
    named = link_values(key, options)[0]
    folds = {v.casefold() for v in named}
    if named and [shown(v) for v in named] != [v for v in st.query_params.get_all(key) if v.casefold() in folds]:
        st.session_state[key] = named if many else named[-1]


def exchange_name(exchange: str) -> str:
    """A venue's display name for pickers (`okx` -> `OKX`); the URL then holds the name, any letter case reads."""
    return EXCHANGE_NAMES.get(exchange, exchange)


def preset_range(days: int, first: date | None, last: date) -> tuple[date, date]:
    """The last `days` UTC days ending `last`, starting no earlier than the data's `first` day (the date widget
    drops a range that starts before its minimum: a 30-day preset on 29 days of data showed the default day)."""
    start = last - timedelta(days=days - 1)
    return (max(start, first) if first is not None else start, last)


def _apply_preset(days: int, first: date | None, last: date) -> None:
    st.session_state[RANGE_KEY] = preset_range(days, first, last)
    _leave_window()


def _leave_window() -> None:
    """Picking UTC days ends a rolling window (and any end a link pinned for it)."""
    if st.session_state.get(WINDOW_KEY) is not None:
        st.session_state[WINDOW_KEY] = None
        if UNTIL_KEY in st.query_params:
            del st.query_params[UNTIL_KEY]


def _range_from_link() -> list[str]:
    raw = st.query_params.get_all(RANGE_KEY)
    bad = []
    for value in raw:
        try:
            date.fromisoformat(value)
        except ValueError:
            bad.append(value)
    return bad


def _days(first: date, last: date) -> str:
    return f"{first:%Y-%m-%d}" if first == last else f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"


def fit_link_range(
    values: Sequence[str], first: date | None, last: date, default: date
) -> tuple[tuple[date, date] | None, list[str]]:
    """The range to show for a link's `range` values the date widget cannot take as they are, with a note
    naming it when the link asked for something else than what is shown.

    (None, []) when the link holds a first and last day (or one day) inside the data, in order, or
    no date at all: the date widget takes them as they are. A range that overlaps the data is cut
    to the overlap; one wholly before or after it shows the default day; more than two dates span
    their earliest to latest; invalid values are dropped (the caller notes those), reversed dates
    sorted. (The date widget itself drops such link values silently, so this runs before it.)
    """
    days = []
    for value in values:
        try:
            days.append(date.fromisoformat(value))
        except ValueError:
            continue
    if not days:
        return None, []
    lo, hi = min(days), max(days)
    if (first is None or lo >= first) and hi <= last:
        if len(days) > 2:
            note = f"The link gives {len(days)} dates for the range (a first and a last day); showing {_days(lo, hi)}."
            return (lo, hi), [note]
        return (None, []) if len(days) == len(values) and days == sorted(days) else ((lo, hi), [])
    span = f"data covers {_days(first, last)}" if first is not None else f"the latest data is from {last:%Y-%m-%d}"
    shown_lo, shown_hi = max(lo, first) if first is not None else lo, min(hi, last)
    if shown_lo > shown_hi:
        shown_lo = shown_hi = default
        where = "before" if first is not None and hi < first else "after"
        note = (
            f"The link asks for {_days(lo, hi)}, {where} the data ({span}); showing {_days(default, default)} instead."
        )
    else:
        note = f"The link asks for {_days(lo, hi)}, beyond the data ({span}); showing {_days(shown_lo, shown_hi)}."
    return (shown_lo, shown_hi), [note]


def sidebar(choice: SourceChoice) -> Filters:
    """Draw the shared filters in the sidebar and return the resolved view."""
    notes: list[str] = []
    raw_venues = st.session_state.get(EXCHANGES_KEY) or link_values(EXCHANGES_KEY, EXCHANGES)[0]
    universe, options = asset_options(choice, resolve_selection(raw_venues, EXCHANGES))
    notes += universe.notes
    for key, valid, what in ((ASSETS_KEY, options, "asset"), (EXCHANGES_KEY, EXCHANGES, "exchange")):
        notes += [f"Ignored unknown {what} {v!r} from the link." for v in unknown_link_values(key, valid)]
        adopt_link_case(key, valid, many=True, shown=exchange_name if key == EXCHANGES_KEY else str)
    notes += parse_top(st.query_params.get_all(TOP_KEY))
    notes += [f"Ignored invalid date {v!r} from the link; dates are YYYY-MM-DD." for v in _range_from_link()]
    fitted, fit_notes = fit_link_range(
        st.query_params.get_all(RANGE_KEY), choice.first_day, choice.last_day, choice.default_day
    )
    if fitted is not None:
        st.session_state[RANGE_KEY] = fitted
    notes += fit_notes
    until, until_notes = parse_until(st.query_params.get_all(UNTIL_KEY))
    notes += until_notes
    interval_link = unknown_link_values(INTERVAL_KEY, (AUTO, *INTERVALS))
    notes += [f"Ignored unknown interval {v!r} from the link." for v in interval_link]
    notes += parse_window(st.query_params.get_all(WINDOW_KEY))[1]
    adopt_link_case(WINDOW_KEY, tuple(WINDOWS), many=False)

    with st.sidebar:
        st.markdown("### Filters")
        window = st.segmented_control(
            "Rolling window",
            tuple(WINDOWS),
            key=WINDOW_KEY,
            bind="query-params",
            help="The last 1, 4, 12 or 24 hours up to the latest minute with data; a shared link pins its end.",
            width="stretch",
        )
        end, clamp = None, None
        if window is not None:
            data_start = pd.Timestamp(choice.first_day, tz="UTC") if choice.first_day is not None else None
            data_end = pd.Timestamp(choice.last_day, tz="UTC") + pd.Timedelta(days=1)
            end, window_notes, clamp = window_end(
                WINDOWS[window], until, data_start, data_end, pd.Timestamp.now(tz="UTC")
            )
            notes += window_notes
            covered = (end - pd.Timedelta(hours=WINDOWS[window])).date(), (end - pd.Timedelta(minutes=1)).date()
            st.session_state[RANGE_KEY] = covered
        raw_range = st.date_input(
            "Date range (UTC days, inclusive)",
            value=(choice.default_day, choice.default_day),
            min_value=choice.first_day,
            max_value=choice.last_day,
            key=RANGE_KEY,
            bind="query-params",
            format="YYYY-MM-DD",
            on_change=_leave_window,
        )
        columns = st.columns(len(PRESETS))
        for column, (label, days) in zip(columns, PRESETS.items(), strict=False):
            column.button(
                label,
                key=f"preset_{days}",
                on_click=_apply_preset,
                args=(days, choice.first_day, choice.last_day),
                help=f"The last {days} UTC day(s) of data, ending {choice.last_day:%Y-%m-%d}",
                width="stretch",
            )
        if clamp:
            st.caption(f":material/schedule: {clamp}")
        raw_assets = st.multiselect(
            "Assets",
            options,
            default=[],
            key=ASSETS_KEY,
            bind="query-params",
            placeholder=f"Whole market ({len(universe.assets):,} coins)",
            help="Every coin the selected exchanges list; type to search. Empty: the whole market.",
        )
        raw_exchanges = st.multiselect(
            "Exchanges",
            EXCHANGES,
            default=[],
            format_func=exchange_name,
            key=EXCHANGES_KEY,
            bind="query-params",
            placeholder="All exchanges",
        )
        top = st.selectbox(
            "Top coins by open interest",
            TOP_CHOICES,
            index=DEFAULT_TOP - 1,
            key=TOP_KEY,
            bind="query-params",
            help="How many coins, ranked by open interest on the selected exchanges, the price moves and ratio "
            "snapshot show (plus every selected asset).",
        )
        interval_choice = st.selectbox(
            "Bar interval",
            (AUTO, *INTERVALS),
            key=INTERVAL_KEY,
            bind="query-params",
            help="auto picks the finest interval that draws the window in at most 500 bars.",
        )

    first_day, last_day, range_notes = normalize_range(raw_range, choice.default_day, choice.first_day, choice.last_day)
    if end is None:
        notes += range_notes
        start, end = pd.Timestamp(first_day, tz="UTC"), pd.Timestamp(last_day, tz="UTC") + pd.Timedelta(days=1)
        until, ignored = freezing_until(until, start, end)
        notes += ignored
    else:
        start = end - pd.Timedelta(hours=WINDOWS[window])
    interval, interval_notes = bar_interval(interval_choice, start, end)
    notes += interval_notes
    exchanges = resolve_selection(raw_exchanges, EXCHANGES)
    selected = order(a for a in raw_assets if a in options)
    filters = Filters(
        first_day=first_day,
        last_day=last_day,
        assets=selected or tuple(a for a in ASSETS if a in universe.assets) or ASSETS,
        exchanges=exchanges,
        interval=interval,
        interval_choice=interval_choice,
        notes=tuple(notes),
        until=until,
        selected=selected,
        universe=universe,
        top=int(top),
        window=window,
        window_end=end if window is not None else None,
    )
    if until is None and UNTIL_KEY in st.query_params:
        del st.query_params[UNTIL_KEY]  # a malformed or ignored `until` leaves the link (its note said why)
    if until is not None:
        with st.sidebar:
            st.caption(f":material/lock_clock: Frozen by a shared link: data until {until:%Y-%m-%d %H:%M} UTC.")
            st.button("Show the latest data", on_click=_release_until, icon=":material/lock_open:", width="stretch")
    st.session_state[STATE_KEY] = filters
    return filters


def current() -> Filters:
    """The filters `app.py` resolved for this run (pages call this)."""
    return st.session_state[STATE_KEY]
