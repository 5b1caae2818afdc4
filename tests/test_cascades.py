"""Cascade detection (`components.cascades`) on made-up flows and on the demo market, and its marks on the overview."""

from __future__ import annotations

import json

import pandas as pd
import plotly.graph_objects as go
from streamlit.testing.v1 import AppTest

from components import cascades, charts, summary
from data_sources import market
from data_sources.intervals import to_offset
from data_sources.registry import demo_choice
from data_sources.schema import ALL_ASSETS, EXCHANGES
from tests.conftest import ROOT

DAY = pd.Timestamp("2025-05-08", tz="UTC")


def flow(per_minute: dict[pd.Timestamp, tuple[float, str]], start: pd.Timestamp, hours: int) -> pd.DataFrame:
    """One event a minute from `start` for `hours`: $100K alternating long/short, or what `per_minute` says."""
    rows = []
    for i, ts in enumerate(pd.date_range(start, periods=hours * 60, freq="1min")):
        usd, side = per_minute.get(ts, (100_000.0, "long" if i % 2 else "short"))
        rows.append({"ts": ts + pd.Timedelta(seconds=20), "side": side, "usd": usd, "price": 1.0})
    return pd.DataFrame(rows)


class TestDetect:
    def test_a_burst_over_a_steady_pace_is_one_cascade_with_its_span_size_and_sides(self) -> None:
        burst = {DAY + pd.Timedelta(hours=14, minutes=5 + m): (3e6, "short") for m in range(10)}
        frame = flow(burst, DAY + pd.Timedelta(hours=10), 6)
        found = cascades.detect(frame, DAY + pd.Timedelta(hours=13), DAY + pd.Timedelta(hours=16))
        assert len(found) == 1
        row = found.iloc[0]
        assert (row["start"], row["end"]) == (DAY + pd.Timedelta("14:05:00"), DAY + pd.Timedelta("14:15:00"))
        assert row["usd"] == 30e6 and row["short_share"] == 1.0
        assert row["baseline_usd"] == 500_000.0 and row["peak_usd"] == 15e6
        assert cascades.describe(row) == "Cascade 14:05-14:15 UTC: $30.0M, 100% shorts"
        assert cascades.describe(row, dated=True) == f"Cascade {DAY:%Y-%m-%d} 14:05-14:15 UTC: $30.0M, 100% shorts"
        assert cascades.takeaway_lines(found, dated=True)[0].startswith(f"Cascade {DAY:%Y-%m-%d} 14:05-14:15 UTC")
        assert cascades.multi_day(DAY, DAY + pd.Timedelta(days=7)) and not cascades.multi_day(
            DAY, DAY + pd.Timedelta(days=1)
        )

    def test_a_steady_pace_or_a_burst_under_the_floor_is_no_cascade(self) -> None:
        small = {DAY + pd.Timedelta(hours=14, minutes=m): (800_000.0, "long") for m in range(5)}
        frame = flow(small, DAY + pd.Timedelta(hours=10), 6)
        assert cascades.detect(frame, DAY + pd.Timedelta(hours=13), DAY + pd.Timedelta(hours=16)).empty

    def test_aggregated_buckets_without_a_price_are_not_bursts(self) -> None:
        frame = flow({}, DAY + pd.Timedelta(hours=10), 6)
        bucket = pd.DataFrame([{"ts": DAY + pd.Timedelta(hours=14), "side": "long", "usd": 80e6, "price": None}])
        both = pd.concat([frame, bucket], ignore_index=True)
        assert cascades.detect(both, DAY + pd.Timedelta(hours=13), DAY + pd.Timedelta(hours=16)).empty


def demo_liquidations(day: pd.Timestamp) -> pd.DataFrame:
    """The demo's whole-market liquidations for `day` and the baseline hours before it."""
    start = day - cascades.RULE.baseline
    source = demo_choice().source
    return market.load(source, "liquidations", (ALL_ASSETS,), EXCHANGES, start, day + pd.Timedelta(days=1), "1h").frame


def test_the_demo_squeeze_day_has_short_cascades_and_a_quiet_day_none() -> None:
    squeeze = cascades.detect(demo_liquidations(DAY), DAY, DAY + pd.Timedelta(days=1))
    assert len(squeeze) >= 1
    assert (squeeze["short_share"] > 0.75).all()
    assert squeeze["usd"].max() > 20e6
    quiet = pd.Timestamp("2025-05-12", tz="UTC")
    assert cascades.detect(demo_liquidations(quiet), quiet, quiet + pd.Timedelta(days=1)).empty


def test_the_overview_lists_and_shades_the_squeeze_day_cascades() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["range"] = "2025-05-08"
    at.run()
    assert not at.exception, at.exception
    lines = at.markdown[0].value.splitlines()
    assert "- Cascade 13:47-13:55 UTC: $32.2M, 96% shorts (peak 5x the usual 5-minute pace)." in lines
    timeline = next(json.loads(c.proto.spec)["layout"] for c in at.get("plotly_chart") if "cascade" in c.proto.spec)
    shaded = [(s["x0"], s["x1"]) for s in timeline["shapes"] if s["type"] == "rect"]
    assert ("2025-05-08T11:41:00+00:00", "2025-05-08T11:58:00+00:00") in shaded
    assert "cascade $19.6M" in [a["text"] for a in timeline["annotations"]]


def test_the_exchange_page_shades_and_lists_its_own_cascades() -> None:
    """OKX alone bursts twice in the squeeze hours (its own baseline, its own events)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["range"] = "2025-05-08"
    at.query_params["exchange"] = "okx"
    at.switch_page("app_pages/exchange.py").run()
    assert not at.exception, at.exception
    listed = next(m.value for m in at.markdown if "Cascade" in m.value).splitlines()
    assert [line.split(" (peak")[0] for line in listed] == [
        "- Cascade 13:46-14:08 UTC: $24.9M, 97% shorts",
        "- Cascade 14:21-14:29 UTC: $14.6M, 90% shorts",
    ]
    assert cascades.legend() in [c.value for c in at.caption]


def test_marking_leaves_the_memoized_timeline_alone() -> None:
    """`charts.liquidation_timeline` is memoized per frame: shading must not add to the shared figure."""
    frame = demo_liquidations(DAY)
    buckets = summary.over_time(frame, DAY, DAY + pd.Timedelta(days=1), to_offset("1h"))
    found = cascades.detect(frame, DAY, DAY + pd.Timedelta(days=1))
    shared = charts.liquidation_timeline(buckets)
    first = cascades.mark(charts.liquidation_timeline(buckets), found)
    second = cascades.mark(charts.liquidation_timeline(buckets), found)
    assert charts.liquidation_timeline(buckets) is shared and not shared.layout.shapes
    assert len(first.layout.shapes) == len(second.layout.shapes) == len(found) > 0


def test_the_takeaways_list_each_cascade_once_on_every_rerun() -> None:
    """`summary.takeaways` is memoized: adding the cascade lines to its list in place repeated them per rerun."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["range"] = "2025-05-08"
    counts = []
    for _ in range(3):
        at.run()
        counts.append(sum(line.startswith("- Cascade") for line in at.markdown[0].value.splitlines()))
    assert counts[0] >= 1 and counts == [counts[0]] * 3


def test_only_the_three_largest_cascades_carry_a_label() -> None:
    """Six cascades within three hours: labels on all of them overlapped into unreadable text."""
    found = cascades.detect(demo_liquidations(DAY), DAY, DAY + pd.Timedelta(days=1))
    figure = cascades.mark(go.Figure(), found)
    labels = [a.text for a in figure.layout.annotations if a.text]
    assert len(found) > 3 and len(figure.layout.shapes) == len(found)
    assert sorted(labels) == sorted(f"cascade {summary.usd(v)}" for v in found.nlargest(3, "usd")["usd"])


def test_the_labelled_cascades_step_down_in_time_order() -> None:
    """The three labels of 2025-05-08 (demo) sat at one height and printed over each other (review): each is
    LABEL_STEP_PX lower than the one before it in time."""
    found = cascades.detect(demo_liquidations(DAY), DAY, DAY + pd.Timedelta(days=1))
    figure = cascades.mark(go.Figure(), found)
    labelled = sorted((a for a in figure.layout.annotations if a.text), key=lambda a: pd.Timestamp(a.x))
    assert [a.yshift or 0 for a in labelled] == [-cascades.LABEL_STEP_PX * i for i in range(len(labelled))]
    assert len(labelled) == 3
