"""Paging that does not depend on which end of an over-full range an endpoint returns.

Every paged dataset is fetched over a window holding more rows than one page, once
with the fake filling an over-full range from its start and once from its end
(Binance's `/futures/data/*` fill from the end). Both answers must be the same
frame, with every period the fake market holds and no row twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
import pytest

from data_sources.base import Query, ms
from data_sources.http import BadPayload
from data_sources.schema import ASSETS
from data_sources.venues import binance, bybit, okx
from data_sources.venues.binance import BinanceAdapter
from data_sources.venues.bybit import BybitAdapter
from data_sources.venues.okx import OkxAdapter
from tests.fake_exchanges import FakeExchanges

DAY = pd.Timedelta(days=1)
ADAPTERS = {"binance": BinanceAdapter, "okx": OkxAdapter, "bybit": BybitAdapter}
KEYS = {"liquidations": ["ts", "side"], "ratios": ["ts", "kind"]}  # what identifies a row


@dataclass(frozen=True)
class Case:
    """One paged dataset over [today - start_days, today - end_days) at `interval`."""

    exchange: str
    dataset: str
    interval: str
    start_days: float
    end_days: float
    limit: int  # rows in one page of the endpoint
    page: tuple[str, int] | None = None  # (module constant, rows): a smaller page so the window overflows it


CASES = {
    "binance-candles": Case("binance", "candles", "1m", 3, 0, binance.KLINE_LIMIT),
    "binance-ratios": Case("binance", "ratios", "5m", 27, 0, binance.DATA_LIMIT),
    "binance-open-interest": Case("binance", "open_interest", "5m", 27, 0, binance.DATA_LIMIT),
    "binance-funding": Case("binance", "funding", "1h", 27, 0, 10, ("FUNDING_LIMIT", 10)),
    "okx-candles": Case("okx", "candles", "5m", 4, 0, okx.CANDLE_LIMIT),
    "okx-history-candles": Case("okx", "candles", "5m", 20, 18, okx.CANDLE_LIMIT),
    "okx-ratios": Case("okx", "ratios", "5m", 4, 0, okx.RUBIK_LIMIT),
    "okx-open-interest": Case("okx", "open_interest", "5m", 4, 0, okx.RUBIK_LIMIT),
    "okx-funding": Case("okx", "funding", "1h", 4, 0, 10, ("FUNDING_LIMIT", 10)),  # 1 h windows: 10 h a page
    "bybit-candles": Case("bybit", "candles", "1m", 3, 1, bybit.KLINE_LIMIT),
    "bybit-ratios": Case("bybit", "ratios", "5m", 27, 0, bybit.RATIO_LIMIT),
    "bybit-open-interest": Case("bybit", "open_interest", "5m", 27, 0, bybit.OI_LIMIT),
    "bybit-funding": Case("bybit", "funding", "1h", 27, 0, 10, ("FUNDING_LIMIT", 10)),
}
MODULES = {"binance": binance, "okx": okx, "bybit": bybit}


@pytest.fixture()
def fake(exchanges: FakeExchanges) -> Iterator[FakeExchanges]:
    """The fake, put back to filling from the start afterwards."""
    yield exchanges
    exchanges.fill = "start"


def both_fills(fake: FakeExchanges, exchange: str, dataset: str, query: Query) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The adapter's frame with the fake filling over-full ranges from the start, then from the end."""
    frames = []
    for fill in ("start", "end"):
        fake.fill = fill
        frames.append(ADAPTERS[exchange](fake.url).fetch(dataset, query))
    return frames[0], frames[1]


def assert_complete(frame: pd.DataFrame, truth: pd.DataFrame, dataset: str) -> None:
    """Every row of the fake market's own frame is present, once, and nothing else."""
    keys = KEYS.get(dataset, ["ts"])
    assert len(truth) > 0
    got = frame[keys].astype(str).sort_values(keys).reset_index(drop=True)
    want = truth[keys].astype(str).sort_values(keys).reset_index(drop=True)
    missing = set(map(tuple, want.to_numpy())) - set(map(tuple, got.to_numpy()))
    assert not missing, f"{len(missing)} of {len(want)} rows missing, e.g. {sorted(missing)[:3]}"
    pd.testing.assert_frame_equal(got, want)  # and none twice


@pytest.mark.parametrize("name", list(CASES))
def test_both_fill_orders_give_the_whole_window(
    fake: FakeExchanges, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """A window larger than one page comes back whole, the same whichever end the venue fills a page from."""
    case = CASES[name]
    if case.page:
        monkeypatch.setattr(MODULES[case.exchange], *case.page)
    today = pd.Timestamp.now(tz="UTC").floor("D")
    start, end = today - case.start_days * DAY, today - case.end_days * DAY
    query = Query("ETH", case.exchange, start, end, case.interval)
    from_start, from_end = both_fills(fake, case.exchange, case.dataset, query)
    truth = fake.market.frame(case.dataset, "ETH", case.exchange, ms(start), ms(end), case.interval)
    if case.dataset == "ratios" and case.exchange == "bybit":
        truth = truth[truth["kind"] == "accounts"]
    assert truth["ts"].nunique() > case.limit, "the window must overflow one page"
    pd.testing.assert_frame_equal(from_start, from_end)
    assert_complete(from_start, truth, case.dataset)


def test_okx_liquidations_cursor_walk_survives_both_fill_orders(
    fake: FakeExchanges, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The undocumented liquidation endpoint pages by cursor: more than a page of orders comes back whole either way.

    The fake's last day is today, so how many orders the last 20 hours hold depends on the hour: the busiest coin
    is read, with pages a third of its orders (at most the venue's 100), so the walk always takes several pages."""
    now = pd.Timestamp.now(tz="UTC").floor("min")
    start, end = now - pd.Timedelta(hours=20), now - pd.Timedelta(hours=1)
    asset, truth = max(
        ((a, fake.market.frame("liquidations", a, "okx", ms(start), ms(end), "1m")) for a in ASSETS),
        key=lambda pair: len(pair[1]),
    )
    limit = min(okx.LIQUIDATION_LIMIT, max(1, len(truth) // 3))
    monkeypatch.setattr(okx, "LIQUIDATION_LIMIT", limit)
    assert len(truth) > limit
    query = Query(asset, "okx", start, end, "5m")
    frames = []
    for fill in ("start", "end"):
        fake.reset()
        fake.fill = fill
        frames.append(OkxAdapter(fake.url).fetch("liquidations", query))
        pages = -(-len(truth) // limit)
        assert len(fake.calls(okx.LIQUIDATIONS)) <= pages + 2, "one probe per walk, not one per page"
    pd.testing.assert_frame_equal(frames[0], frames[1])
    assert_complete(frames[0], truth, "liquidations")


class TestFullPages:
    """A window meant to fit one page that comes back full is never kept as it is."""

    def test_a_full_page_is_split_and_asked_again(self, fake: FakeExchanges, monkeypatch: pytest.MonkeyPatch) -> None:
        """A venue funding more often than the adapter assumes fills pages: those windows are halved until they fit."""
        monkeypatch.setattr(bybit, "FUNDING_STEP_MS", DAY.value // 10**6)
        monkeypatch.setattr(bybit, "FUNDING_LIMIT", 5)
        today = pd.Timestamp.now(tz="UTC").floor("D")
        query = Query("BTC", "bybit", today - 24 * DAY, today, "1h")
        from_start, from_end = both_fills(fake, "bybit", "funding", query)
        pd.testing.assert_frame_equal(from_start, from_end)
        assert_complete(
            from_start, fake.market.frame("funding", "BTC", "bybit", ms(query.start), ms(today), "1h"), "funding"
        )
        spans = {int(p["endTime"]) + 1 - int(p["startTime"]) for _, p in fake.calls("/v5/market/funding/history")}
        assert spans == {4 * DAY.value // 10**6, 2 * DAY.value // 10**6, DAY.value // 10**6}

    def test_a_full_page_for_one_period_is_refused(self, fake: FakeExchanges, monkeypatch: pytest.MonkeyPatch) -> None:
        """When even one period fills a page, rows may be missing and nothing smaller can be asked: a clear error."""
        monkeypatch.setattr(binance, "FUNDING_STEP_MS", DAY.value // 10**6)
        monkeypatch.setattr(binance, "FUNDING_LIMIT", 3)
        today = pd.Timestamp.now(tz="UTC").floor("D")
        with pytest.raises(BadPayload, match=r"Binance sent a full page of 3 rows .* rows may be missing"):
            BinanceAdapter(fake.url).fetch("funding", Query("BTC", "binance", today - 4 * DAY, today, "1h"))

    def test_a_cursor_sent_twice_is_refused(self, fake: FakeExchanges) -> None:
        """Bybit's documented cursor chain must end; a cursor that repeats would loop or drop pages."""
        today = pd.Timestamp.now(tz="UTC").floor("D")
        row = {"symbol": "BTCUSDT", "buyRatio": "0.6", "sellRatio": "0.4", "timestamp": str(ms(today - DAY))}
        body = {"retCode": 0, "retMsg": "OK", "result": {"list": [row], "nextPageCursor": "lastid%3D7"}, "time": 0}
        fake.fail("/v5/market/account-ratio", status=200, body=json.dumps(body), times=2)
        with pytest.raises(BadPayload, match="same page cursor twice"):
            BybitAdapter(fake.url).fetch("ratios", Query("BTC", "bybit", today - 3 * DAY, today, "5m"))
