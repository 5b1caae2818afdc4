"""Coinalyze backfill against a loopback fake: symbols, seconds, rate limits, precedence, secrecy."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from data_sources import http, market
from data_sources.base import Query
from data_sources.coinalyze import CoinalyzeClient, interval_for
from data_sources.live import LiveSource
from data_sources.schema import ASSETS
from tests.conftest import ROOT
from tests.fake_exchanges import COINALYZE_KEY, FAKED, FakeExchanges
from tests.live_helpers import settings_for

DAY = pd.Timedelta(days=1)
EXCHANGES = FAKED  # the venues the fake serves (and Coinalyze aggregates)


def client(fake: FakeExchanges, key: str = COINALYZE_KEY) -> CoinalyzeClient:
    return CoinalyzeClient(f"{fake.url}/v1", key, timeout=5)


def test_symbols_are_resolved_at_runtime_and_times_are_seconds(exchanges: FakeExchanges) -> None:
    start = exchanges.market.seed_day
    frame, interval = client(exchanges).liquidations(Query("ETH", "bybit", start, start + DAY, "1h"))
    (call,) = exchanges.calls("/v1/liquidation-history")
    assert call[1]["symbols"] == "ETHUSDT_PERP.4"
    assert call[1]["convert_to_usd"] == "true" and call[1]["interval"] == interval == "1hour"
    assert int(call[1]["from"]) == int(start.timestamp()) and len(call[1]["from"]) == 10
    truth = exchanges.market.frame(
        "liquidations", "ETH", "bybit", start.value // 10**6, (start + DAY).value // 10**6, "1m"
    )
    assert frame.groupby("side")["usd"].sum().to_dict() == pytest.approx(truth.groupby("side")["usd"].sum().to_dict())
    assert frame["price"].isna().all()


def test_retention_picks_the_finest_interval_that_reaches_back() -> None:
    now = pd.Timestamp("2026-11-24 12:00", tz="UTC")
    assert interval_for(now - pd.Timedelta(hours=20), now)[0] == "1min"
    assert interval_for(now - pd.Timedelta(days=14), now)[0] == "15min"
    assert interval_for(now - pd.Timedelta(days=400), now)[0] == "12hour"
    assert interval_for(now - pd.Timedelta(days=1000), now)[0] == "daily"
    assert interval_for(now - pd.Timedelta(hours=20), now, at_least=3600)[0] == "1hour"


def test_429_with_retry_after_is_retried(exchanges: FakeExchanges) -> None:
    exchanges.fail("/v1/liquidation-history", status=429, body="{}", headers={"Retry-After": "1"})
    start = exchanges.market.seed_day
    frame, _ = client(exchanges).liquidations(Query("BTC", "binance", start, start + DAY, "1h"))
    assert not frame.empty and len(exchanges.calls("/v1/liquidation-history")) == 2


def test_bad_key_is_a_clear_error_and_is_not_sent_again(exchanges: FakeExchanges) -> None:
    """A refused key costs one request: the next queries fail at once with the same reason (before, every query
    asked `/exchanges` again, 77 times over four page views, and waited for Coinalyze's 40-a-minute budget)."""
    start = exchanges.market.seed_day
    wrong = client(exchanges, key="wrong")
    with pytest.raises(http.KeyRefused, match="Coinalyze rejected the request \\(HTTP 401\\)"):
        wrong.liquidations(Query("BTC", "binance", start, start + DAY, "1h"))
    for asset in ("ETH", "SOL", "XRP"):
        with pytest.raises(http.KeyRefused, match=r"HTTP 401.*not sent again for 300 s"):
            wrong.liquidations(Query(asset, "okx", start, start + DAY, "1h"))
    assert len(exchanges.calls("/v1/")) == 1


def run_live(fake: FakeExchanges, monkeypatch: pytest.MonkeyPatch, day: pd.Timestamp, key: str | None) -> AppTest:
    monkeypatch.setenv("LIQSCOPE_DATA", "live")
    monkeypatch.setenv("LIQSCOPE_COINALYZE_URL", f"{fake.url}/v1")
    if key:
        monkeypatch.setenv("LIQSCOPE_COINALYZE_KEY", key)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update({"range": [f"{day:%Y-%m-%d}"], "interval": "1h"})
    return at.run()


def test_with_a_key_the_seed_day_is_rebuilt_from_coinalyze(exchanges: FakeExchanges, monkeypatch) -> None:
    """Two weeks back no exchange keeps liquidations; Coinalyze gives the whole $965M day."""
    at = run_live(exchanges, monkeypatch, exchanges.market.seed_day, COINALYZE_KEY)
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Total liquidations"] == "$965M" and metrics["Short share"] == "84%"
    assert any("Coinalyze buckets where neither covers" in c.value for c in at.caption)
    text = repr(at._tree) + " ".join(
        str(e.value) for kind in ("markdown", "caption", "warning", "info", "code") for e in at.get(kind)
    )
    assert COINALYZE_KEY not in text


def test_without_a_key_the_page_says_how_to_get_history(exchanges: FakeExchanges, monkeypatch) -> None:
    at = run_live(exchanges, monkeypatch, exchanges.market.seed_day, None)
    assert {m.label: m.value for m in at.metric}["Total liquidations"] == "n/a"
    assert any("set LIQSCOPE_COINALYZE_KEY" in c.value for c in at.caption)


def test_okx_minutes_covered_by_rest_are_not_counted_again_from_coinalyze(
    exchanges: FakeExchanges, monkeypatch
) -> None:
    end = pd.Timestamp.now(tz="UTC").floor("h")  # the last 23 h: OKX REST covers them at any hour ("today" holds
    start = end - pd.Timedelta(hours=23)  # only minutes just after midnight)
    monkeypatch.setenv("LIQSCOPE_COINALYZE_KEY", COINALYZE_KEY)
    monkeypatch.setenv("LIQSCOPE_COINALYZE_URL", f"{exchanges.url}/v1")
    from data_sources import settings
    from data_sources.live import LiveSource

    with_key = LiveSource(settings.load()).fetch("liquidations", Query("ETH", "okx", start, end, "1h"))
    assert exchanges.calls("/v1/liquidation-history"), "Coinalyze was asked"
    assert exchanges.calls("/api/v5/public/liquidation-orders"), "OKX REST was asked"
    assert not with_key.empty and with_key["price"].notna().all(), "no Coinalyze bucket inside REST-covered minutes"


@pytest.mark.parametrize(("dataset", "column"), [("ratios", "ratio"), ("open_interest", "usd")])
def test_coinalyze_fills_in_where_binance_history_ends(
    exchanges: FakeExchanges, monkeypatch: pytest.MonkeyPatch, dataset: str, column: str
) -> None:
    """Binance keeps ratios and OI for 30 days; with a key, older windows come from Coinalyze."""
    from data_sources import settings
    from data_sources.base import NoCoverage
    from data_sources.live import LiveSource

    monkeypatch.setenv("LIQSCOPE_COINALYZE_URL", f"{exchanges.url}/v1")
    start = exchanges.market.seed_day - pd.Timedelta(days=10)
    query = Query("ETH", "binance", start, start + DAY, "1h")
    later = lambda: pd.Timestamp.now(tz="UTC").timestamp() + 20 * 86400  # noqa: E731 (Binance's 30 days end sooner)
    without = LiveSource(settings.load())
    without.adapters["binance"].clock = later
    with pytest.raises(NoCoverage, match="30 days only"):
        without.fetch(dataset, query)
    monkeypatch.setenv("LIQSCOPE_COINALYZE_KEY", COINALYZE_KEY)
    source = LiveSource(settings.load())
    source.adapters["binance"].clock = later
    frame = source.fetch(dataset, query)
    truth = exchanges.market.frame(dataset, "ETH", "binance", start.value // 10**6, (start + DAY).value // 10**6, "1h")
    if dataset == "ratios":
        truth = truth[truth["kind"] == "accounts"]
    assert len(frame) == len(truth) > 0
    assert frame[column].to_numpy() == pytest.approx(truth[column].to_numpy(), rel=1e-6)


def test_a_page_asks_for_its_symbols_in_batches_of_at_most_20(exchanges: FakeExchanges) -> None:
    """7 assets x 3 exchanges: 21 symbols, each asked once, in a few requests of at most 20 (Coinalyze counts each
    symbol as a call, 20 per request). Requests gather for a moment, so a loaded machine may split 21 as 1 + 20
    or 3 + 18, never one request per symbol."""
    settings = replace(settings_for(exchanges.url), coinalyze_url=f"{exchanges.url}/v1", coinalyze_key=COINALYZE_KEY)
    start = exchanges.market.seed_day
    panel = market.load(LiveSource(settings), "liquidations", ASSETS, EXCHANGES, start, start + DAY, "1h")
    sizes = [len(params["symbols"].split(",")) for _, params in exchanges.calls("/v1/liquidation-history")]
    asked = [s for _, params in exchanges.calls("/v1/liquidation-history") for s in params["symbols"].split(",")]
    assert max(sizes) <= 20 and len(asked) == len(set(asked)) == 21
    assert len(sizes) <= 4, sizes
    totals = panel.frame.groupby(["exchange", "asset"])["usd"].sum()
    for exchange in EXCHANGES:
        for asset in ASSETS:
            truth = exchanges.market.frame(
                "liquidations", asset, exchange, start.value // 10**6, (start + DAY).value // 10**6, "1m"
            )
            assert totals[(exchange, asset)] == pytest.approx(truth["usd"].sum())
