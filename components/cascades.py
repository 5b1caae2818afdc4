"""Liquidation cascades: bursts far above the market's recent pace, as a pure function of liquidation events.

A minute is a burst minute when the USD liquidated in the `window` ending with it is at least `factor` times
the median of that same rolling sum over the previous `baseline` (the burst's own minutes excluded) and at
least `floor`. Burst minutes at most two `window`s apart are one cascade. Only individual events (rows with a
price) count: an aggregated bucket (Coinalyze, a rollup) would put hours of liquidations in one minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import pandas as pd
import plotly.graph_objects as go

from components.summary import pct, usd

MINUTE = pd.Timedelta(minutes=1)
BURST_WINDOW, BASELINE = pd.Timedelta(minutes=5), pd.Timedelta(hours=3)
COLUMNS = ["start", "end", "usd", "long_usd", "short_usd", "short_share", "peak_usd", "baseline_usd"]


@dataclass(frozen=True)
class Rule:
    """What counts as a cascade: `window` rolling sum >= `factor` x its median over the previous `baseline`,
    and >= `floor` USD."""

    window: pd.Timedelta = BURST_WINDOW
    baseline: pd.Timedelta = BASELINE
    factor: float = 4.0
    floor: float = 5e6


RULE = Rule()


def detect(liquidations: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, rule: Rule = RULE) -> pd.DataFrame:
    """The cascades in [start, end), in time order: `start`/`end` (UTC, end exclusive, whole minutes), `usd`,
    `long_usd`, `short_usd` liquidated in that span, `short_share`, `peak_usd` (the largest `window` sum) and
    `baseline_usd` (the `window` sum's median before the cascade).

    `liquidations` is the normalized frame (ts, side, usd, price, ...); pass `rule.baseline` of history before
    `start` too, or the first hours of the window are measured against themselves (half a baseline is needed
    before a minute is judged).
    """
    events = liquidations.dropna(subset=["price"])
    events = events[(events["ts"] >= start - rule.baseline) & (events["ts"] < end)]
    if events.empty:
        return pd.DataFrame(columns=COLUMNS)
    minutes = pd.date_range((start - rule.baseline).floor("min"), end, freq=MINUTE, inclusive="left")
    per_minute = events.groupby(events["ts"].dt.floor("min"))["usd"].sum().reindex(minutes, fill_value=0.0)
    steps, history = int(rule.window / MINUTE), int(rule.baseline / MINUTE)
    rolling = per_minute.rolling(steps, min_periods=1).sum()
    baseline = rolling.shift(steps).rolling(history, min_periods=history // 2).median()
    burst = (rolling >= rule.factor * baseline) & (rolling >= rule.floor) & (rolling.index >= start)
    hits = rolling.index[burst.to_numpy()]
    rows = []
    for group in _groups(hits, 2 * rule.window):
        span_start, span_end = _span(per_minute, group, baseline[group[0]] / steps, rule.window)
        span_start, span_end = max(span_start, start), min(span_end, end)
        inside = events[(events["ts"] >= span_start) & (events["ts"] < span_end)]
        long_usd = float(inside.loc[inside["side"] == "long", "usd"].sum())
        short_usd = float(inside.loc[inside["side"] == "short", "usd"].sum())
        total = long_usd + short_usd
        rows.append(
            {
                "start": span_start,
                "end": span_end,
                "usd": total,
                "long_usd": long_usd,
                "short_usd": short_usd,
                "short_share": short_usd / total if total else float("nan"),
                "peak_usd": float(rolling[group].max()),
                "baseline_usd": float(baseline[group[0]]),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def _span(
    per_minute: pd.Series, group: pd.DatetimeIndex, usual: float, window: pd.Timedelta
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[first, last + 1 min) of the minutes that carried the burst: each hit's rolling sum reaches a `window` back,
    so the span is cut to start and end on minutes above `usual` USD (the baseline's per-minute pace)."""
    candidates = per_minute[group[0] - window + MINUTE : group[-1]]
    busy = candidates.index[(candidates > usual).to_numpy()]
    if busy.empty:
        return group[0] - window + MINUTE, group[-1] + MINUTE
    return busy[0], busy[-1] + MINUTE


def _groups(hits: pd.DatetimeIndex, gap: pd.Timedelta) -> list[pd.DatetimeIndex]:
    """Burst minutes split where two are more than `gap` apart (closer spans touch or overlap)."""
    if hits.empty:
        return []
    breaks = [i for i in range(1, len(hits)) if hits[i] - hits[i - 1] > gap]
    bounds = [0, *breaks, len(hits)]
    return [hits[a:b] for a, b in pairwise(bounds)]


def describe(cascade: pd.Series, dated: bool = False) -> str:
    """'Cascade 14:05-14:25 UTC: $310M, 82% shorts' (the larger side named; the end's date when it spans
    midnight); 'Cascade 2025-05-08 14:05-14:25 UTC: ...' when `dated` (a window of more than one day)."""
    start, end = cascade["start"], cascade["end"]
    to = f"{end:%H:%M}" if start.date() == end.date() or end == end.floor("D") else f"{end:%Y-%m-%d %H:%M}"
    share = cascade["short_share"]
    side = f"{pct(share)} shorts" if share >= 0.5 else f"{pct(1 - share)} longs"
    begins = f"{start:%Y-%m-%d %H:%M}" if dated else f"{start:%H:%M}"
    return f"Cascade {begins}-{to} UTC: {usd(cascade['usd'])}, {side}"


def multi_day(start: pd.Timestamp, end: pd.Timestamp) -> bool:
    """True for a window longer than one day: its cascade lines carry their date."""
    return end - start > pd.Timedelta(days=1)


def takeaway_lines(cascades: pd.DataFrame, most: int = 3, rule: Rule = RULE, dated: bool = False) -> list[str]:
    """The `most` largest cascades as takeaway sentences, in time order, plus how many more there were; each
    with its date when `dated` (a window of more than one day)."""
    if cascades.empty:
        return []
    largest = cascades.nlargest(most, "usd").sort_values("start")
    pace = f"{rule.window / MINUTE:.0f}-minute"
    lines = [
        f"{describe(row, dated)} (peak {row['peak_usd'] / row['baseline_usd']:.0f}x the usual {pace} pace)."
        if row["baseline_usd"] > 0
        else f"{describe(row, dated)}."
        for _, row in largest.iterrows()
    ]
    if len(cascades) > most:
        lines.append(f"{len(cascades) - most} smaller cascade{'s' if len(cascades) - most > 1 else ''} not listed.")
    return lines


def legend(rule: Rule = RULE) -> str:
    """The caption under a chart with cascades shaded: what the shading means."""
    return (
        f":material/bolt: Shaded: cascades, {rule.window / MINUTE:.0f}-minute liquidations at least "
        f"{rule.factor:.0f}x their median over the previous {rule.baseline / pd.Timedelta(hours=1):.0f} h "
        f"and above {usd(rule.floor)}."
    )


LABEL_STEP_PX = 14  # each labelled cascade's label sits this much lower than the one before it


def mark(fig: go.Figure, cascades: pd.DataFrame, labelled: int = 3) -> go.Figure:
    """A copy of `fig` with each cascade shaded; the `labelled` largest carry their size as a label (more would
    overlap), every one its span, size and sides on hover. `fig` itself is left alone (charts' figures are
    memoized and shared between reruns, `components.memo`)."""
    fig = go.Figure(fig)
    largest = cascades.nlargest(labelled, "usd").sort_values("start") if len(cascades) else cascades
    rows = {index: rank for rank, index in enumerate(largest.index)}  # labels stepped down in time order
    for index, row in cascades.iterrows():
        label = {"annotation_text": ""}
        if index in rows:  # neighbouring bursts would print their labels over each other at one height
            label = {"annotation_text": f"cascade {usd(row['usd'])}", "annotation_yshift": -LABEL_STEP_PX * rows[index]}
        fig.add_vrect(
            x0=row["start"],
            x1=row["end"],
            fillcolor="#f59e0b",
            opacity=0.18,
            line_width=0,
            layer="below",
            annotation_position="top left",
            annotation_font_size=10,
            annotation_hovertext=describe(row),
            **label,
        )
    return fig
