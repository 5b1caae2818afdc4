"""Summaries and figures of the same read-only frames are computed once per frame (warm reruns reuse them)."""

from __future__ import annotations

import gc

import pandas as pd

from components import charts, summary
from components.memo import of_frames

LIQUIDATIONS = pd.DataFrame(
    {
        "ts": pd.to_datetime([1_700_000_000_000, 1_700_000_060_000], unit="ms", utc=True),
        "exchange": ["okx", "bybit"],
        "asset": ["ETH", "BTC"],
        "side": ["long", "short"],
        "price": [2000.0, 90_000.0],
        "qty": [1.0, 0.5],
        "usd": [2000.0, 45_000.0],
    }
)


class TestOfFrames:
    def test_the_same_frame_and_arguments_give_the_same_result_object(self) -> None:
        """A rerun on the panel's frame reuses the table and the figure instead of building them again."""
        table = summary.by_exchange(LIQUIDATIONS, ("okx", "bybit"))
        assert summary.by_exchange(LIQUIDATIONS, ("okx", "bybit")) is table
        assert charts.exchange_breakdown(table) is charts.exchange_breakdown(table)

    def test_another_frame_or_argument_is_computed_anew(self) -> None:
        """Equal content in another frame object, or other arguments, never returns a stale answer."""
        table = summary.by_exchange(LIQUIDATIONS, ("okx", "bybit"))
        other = LIQUIDATIONS.copy()
        other.loc[0, "usd"] = 1.0
        changed = summary.by_exchange(other, ("okx", "bybit"))
        assert changed is not table
        assert changed.loc[changed["exchange"] == "okx", "long"].item() == 1.0
        assert summary.by_exchange(LIQUIDATIONS, ("okx",))["exchange"].tolist() == ["okx"]

    def test_an_entry_goes_with_its_frame(self) -> None:
        """When a frame is collected its entries are dropped, so a new frame at the same address is not
        mistaken for it."""
        calls: list[int] = []

        @of_frames
        def rows(frame: pd.DataFrame) -> int:
            calls.append(1)
            return len(frame)

        frame = LIQUIDATIONS.copy()
        assert rows(frame) == rows(frame) == 2
        assert len(calls) == 1
        del frame
        gc.collect()
        for n in (1, 2) * 10:  # short-lived frames, whose addresses Python reuses
            assert rows(LIQUIDATIONS.head(n)) == n

    def test_unhashable_arguments_are_computed_every_time(self) -> None:
        """A dict argument cannot key the memo: the function still answers."""
        calls: list[int] = []

        @of_frames
        def size(frame: pd.DataFrame, options: dict) -> int:
            calls.append(1)
            return len(frame) + len(options)

        assert size(LIQUIDATIONS, {"a": 1}) == size(LIQUIDATIONS, {"a": 1}) == 3
        assert len(calls) == 2
