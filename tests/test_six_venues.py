"""Six venues everywhere three were (issue 11): live pages, the demo, the export CLI, the recorder's streams."""

from __future__ import annotations

import json
import threading
import time

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from data_sources import settings
from data_sources.base import NoCoverage, Query
from data_sources.cli import main
from data_sources.demo import DemoSource
from data_sources.http import Upstream
from data_sources.instruments import InstrumentRegistry
from data_sources.recorder import protocols
from data_sources.schema import EXCHANGE_NAMES, EXCHANGES
from data_sources.tickers import TickerBoard
from data_sources.venues.bitget import BitgetStream
from data_sources.venues.gate import GateStream
from tests.conftest import ROOT
from tests.fake_exchanges import FAKED, FakeExchanges
from tests.fakes.bitget import FakeBitget
from tests.fakes.gate import FakeGate
from tests.fakes.hyperliquid import FakeHyperliquid


def texts(at: AppTest) -> list[str]:
    """Every caption, info, warning and error the page wrote."""
    return [e.value for kind in ("caption", "info", "warning", "error") for e in getattr(at, kind)]


def test_a_live_page_with_unreachable_new_venues_names_them_and_renders_the_rest(
    exchanges: FakeExchanges, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gate, Bitget and Hyperliquid point at a port nothing listens on (conftest): each is named with the reason,
    while Binance, OKX and Bybit still draw their panels."""
    monkeypatch.setenv("LIQSCOPE_DATA", "live")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["range"] = [exchanges.market.seed_day.strftime("%Y-%m-%d")]
    at.query_params["interval"] = "1h"
    at.run()
    assert not at.exception, at.exception
    written = " ".join(texts(at))
    assert "answered: Binance, OKX, Bybit" in written
    for name in ("Gate", "Bitget", "Hyperliquid"):
        assert f"Could not reach {name}" in written, name
        assert f"LIQSCOPE_{name.upper()}_URL" in written, name
    assert at.get("plotly_chart"), "the venues that answered still draw their charts"


def test_six_venues_on_one_live_page(exchanges: FakeExchanges, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every venue served by its loopback fake: Gate's REST liquidation buckets cover it, Bitget (stream only)
    and Hyperliquid (no public feed) read "not covered" with their reasons, and all six draw their candles."""
    with FakeGate() as gate, FakeBitget() as bitget, FakeHyperliquid() as hyperliquid:
        monkeypatch.setenv("LIQSCOPE_DATA", "live")
        for name, fake in (("GATE", gate), ("BITGET", bitget), ("HYPERLIQUID", hyperliquid)):
            monkeypatch.setenv(f"LIQSCOPE_{name}_URL", fake.url)
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
        at.query_params["range"] = [pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d")]
        at.query_params["interval"] = "1h"
        at.run()
        assert not at.exception, at.exception
        written = " ".join(texts(at))
        assert "answered: Binance, OKX, Bybit, Gate, Bitget, Hyperliquid" in written
        assert "Hyperliquid publishes no market-wide liquidation feed" in written
        shares = dict(zip(*[figure(at, "overview_exchanges")["data"][2][k] for k in ("y", "text")], strict=True))
        assert "of covered" in shares["Gate"]
        assert shares["Hyperliquid"].strip() == "not covered"
        assert shares["Bitget"].strip() == "not covered"
        assert gate.rest.calls("/api/v4/futures/usdt/contract_stats"), "Gate's liquidation history is read"
        assert hyperliquid.calls("candleSnapshot"), "Hyperliquid candles are read over POST /info"


def figure(at: AppTest, key: str) -> dict:
    """The Plotly figure a chart with `key` drew."""
    return json.loads(next(chart.proto.spec for chart in at.get("plotly_chart") if chart.proto.id.endswith(key)))


def test_the_demo_says_the_new_venues_are_not_in_it_never_zero() -> None:
    demo = DemoSource()
    day = pd.Timestamp("2025-05-08", tz="UTC")
    for exchange, name in (("gate", "Gate"), ("bitget", "Bitget"), ("hyperliquid", "Hyperliquid")):
        for dataset in ("liquidations", "candles"):
            with pytest.raises(NoCoverage, match=f"{name} is not in the demo market"):
                demo.fetch(dataset, Query("BTC", exchange, day, day + pd.Timedelta(days=1), "1h"))
    assert not demo.fetch("candles", Query("BTC", "binance", day, day + pd.Timedelta(hours=2), "1h")).empty


def test_demo_page_reads_not_in_the_demo_market_for_the_new_venues() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["range"] = ["2025-05-08"]
    at.run()
    assert not at.exception, at.exception
    written = " ".join(texts(at))
    assert "not in the demo market" in written


def test_hyperliquid_liquidation_export_exits_non_zero_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeHyperliquid() as fake:
        monkeypatch.setenv("LIQSCOPE_DATA", "live")
        monkeypatch.setenv("LIQSCOPE_HYPERLIQUID_URL", fake.url)
        today = pd.Timestamp.now(tz="UTC").normalize()
        start, end = (today - pd.Timedelta(days=1)).strftime("%Y-%m-%d"), today.strftime("%Y-%m-%d")
        code = main(
            ["export", "liquidations", "--exchange", "hyperliquid", "--asset", "BTC", "--start", start, "--end", end]
        )
    captured = capsys.readouterr()
    assert code != 0
    assert captured.out == ""
    assert "Hyperliquid publishes no market-wide liquidation feed" in captured.err


def test_the_recorder_streams_gate_and_bitget_but_not_hyperliquid(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeGate() as gate, FakeBitget() as bitget, FakeHyperliquid() as hyperliquid:
        monkeypatch.setenv("LIQSCOPE_GATE_URL", gate.url)
        monkeypatch.setenv("LIQSCOPE_BITGET_URL", bitget.url)
        monkeypatch.setenv("LIQSCOPE_HYPERLIQUID_URL", hyperliquid.url)
        config = settings.load()
        registry = InstrumentRegistry(config.base_urls, config.timeout)
        built = protocols(["gate", "bitget", "hyperliquid"], None, config, registry)
    assert [type(p) for p in built] == [GateStream, BitgetStream]
    assert all(p.instruments for p in built)
    assert built[1].lower_bound


def test_top_coins_rank_by_open_interest_summed_over_six_venues_one_request_each() -> None:
    """Every venue's `TICKERS` answers once; Binance's volume proxy is left out while others publish OI."""
    with FakeExchanges() as three, FakeGate() as gate, FakeBitget() as bitget, FakeHyperliquid() as hyperliquid:
        urls = {**dict.fromkeys(FAKED, three.url), "gate": gate.url, "bitget": bitget.url}
        urls["hyperliquid"] = hyperliquid.url
        listings = InstrumentRegistry(urls, 5.0)
        upstreams = {e: Upstream(EXCHANGE_NAMES[e], url, "LIQSCOPE_TEST_URL", 5.0) for e, url in urls.items()}
        board = TickerBoard(upstreams, listings.listing)
        ranking = board.top(EXCHANGES, 3)
        board.top(EXCHANGES, 5)
        assert ranking.basis.startswith("open interest on OKX, Bybit, Gate, Bitget, Hyperliquid")
        assert "Binance publishes no all-symbol open interest" in ranking.basis
        assert ranking.assets[0] == "BTC" and not ranking.notes
        assert len(gate.rest.calls("/api/v4/futures/usdt/tickers")) == 1
        assert len([p for p, _ in bitget.requests if p.endswith("/tickers")]) == 1
        assert len(hyperliquid.calls("metaAndAssetCtxs")) == 1
        assert not three.calls("/fapi/v1/ticker/24hr")


def test_a_demo_export_of_a_venue_outside_the_demo_says_so_with_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not "BTC is not listed on Hyperliquid" (exit 2): the demo does not hold the venue at all."""
    monkeypatch.setenv("LIQSCOPE_DATA", "demo")
    window = ["--start", "2025-05-08", "--end", "2025-05-09"]
    assert main(["export", "liquidations", "--exchange", "hyperliquid", "--asset", "BTC", *window]) == 1
    error = capsys.readouterr().err
    assert "Hyperliquid is not in the demo market" in error and "not listed" not in error


def test_the_demo_overview_of_only_venues_outside_it_reads_plainly() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params.update({"range": ["2025-05-08"], "exchanges": ["Gate"]})
    at.run()
    assert not at.exception, at.exception
    written = " ".join(texts(at)) + " ".join(m.value for m in at.markdown)
    assert "all 0 perpetuals" not in written and "on ." not in written
    assert "not in the demo market" in written


def test_the_ranking_asks_every_venue_at_once() -> None:
    """OKX's and Bybit's snapshots are both requested while the first is still unanswered (a venue that is slow or
    down costs the page one wait, not one per venue in turn): the fake holds both until both have arrived."""
    with FakeExchanges() as three:
        urls = dict.fromkeys(FAKED, three.url)
        listings = InstrumentRegistry(urls, 5.0)
        upstreams = {e: Upstream(EXCHANGE_NAMES[e], url, "LIQSCOPE_TEST_URL", 5.0) for e, url in urls.items()}
        board = TickerBoard(upstreams, listings.listing)
        paths = ("/api/v5/public/open-interest", "/v5/market/tickers")
        released = three.hold(*paths)
        ranked: list = []
        ranking = threading.Thread(target=lambda: ranked.append(board.top(("okx", "bybit"), 3)))
        ranking.start()
        deadline = time.monotonic() + 3  # well inside the upstream's 5 s timeout and the fake's longest hold
        while time.monotonic() < deadline and not all(three.calls(path) for path in paths):
            time.sleep(0.05)
        arrived = [path for path in paths if three.calls(path)]
        released.set()
        ranking.join(timeout=30)
    assert arrived == list(paths)
    assert ranked[0].basis.startswith("open interest on OKX, Bybit") and not ranked[0].notes
