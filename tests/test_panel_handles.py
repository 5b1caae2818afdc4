"""Panels as handles (`market.start`): a page begins every load at its top and waits for each where it is drawn."""

from __future__ import annotations

from concurrent.futures import Future

import pandas as pd

from data_sources import demo, market
from data_sources.demo import DemoSource

SOURCE = DemoSource()
DAY = pd.Timestamp(demo.SEED_DAY)
WINDOW = (("okx", "bybit"), DAY, DAY + pd.Timedelta(days=1), "1h")


def test_a_load_started_after_others_begins_only_once_they_are_done() -> None:
    """Lower panels are asked for only after the first screen's data is in: nothing of theirs is loaded before."""
    first_screen: Future = Future()
    (ratios,) = market.start(SOURCE, (("ratios", ("ETH",)),), *WINDOW, after=(first_screen,))
    assert not ratios.done()
    assert not market._panels and not market._inflight_panels, "the ratios were loaded before the first screen"
    first_screen.set_result(None)
    assert ratios.result(timeout=60) is market.load(SOURCE, "ratios", ("ETH",), *WINDOW)


def test_a_memoized_view_is_a_done_handle_at_once_and_the_same_panel() -> None:
    """A warm rerun waits for nothing: every handle of a view already loaded is done when it is returned."""
    cold = [handle.result(timeout=60) for handle in market.start(SOURCE, (("candles", ("BTC",)),), *WINDOW)]
    warm = market.start(SOURCE, (("candles", ("BTC",)),), *WINDOW, after=(Future(),))
    assert all(handle.done() for handle in warm)
    assert [handle.result() for handle in warm] == cold and warm[0].result() is cold[0]


def test_a_dependent_load_begins_from_the_answer_it_depends_on() -> None:
    """`then` starts what the first panel's answer calls for (the cascades' baseline hours), or nothing."""
    (liquidations,) = market.start(SOURCE, (("liquidations", ("ETH",)),), *WINDOW)

    def baseline(panel: market.Panel) -> Future | None:
        return market.start(SOURCE, (("candles", ("ETH",)),), *WINDOW)[0] if len(panel.frame) else None

    before = market.then(liquidations, baseline)
    assert market.then(liquidations, lambda _: None).result(timeout=60) is None
    assert before.result(timeout=60) is market.load(SOURCE, "candles", ("ETH",), *WINDOW)
