"""The whole market: every listed coin in the overview's liquidations, the top N by open interest for the
per-coin series, any listed coin on the asset page and in the export, in the demo and on the loopback fakes."""

from __future__ import annotations

import base64
import io
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from components import summary
from data_sources import demo, market, registry, tickers
from data_sources.base import Query, SourceError
from data_sources.cli import main
from data_sources.http import Upstream
from data_sources.instruments import InstrumentRegistry
from data_sources.schema import ASSETS, EXCHANGES
from data_sources.store import Event, SqliteStore
from data_sources.venues import BY_ID, binance, bybit, okx
from tests import fake_exchanges
from tests.fake_exchanges import FAKED, FakeExchanges
from tests.test_app import metrics, run_app, warnings
from tests.test_live_app import captions, run_live

SEED = pd.Timestamp("2025-05-08", tz="UTC")
DEMO = demo.DemoSource()


def figure(at: AppTest, key: str) -> dict:
    """The Plotly figure a chart with `key` drew."""
    return json.loads(next(chart.proto.spec for chart in at.get("plotly_chart") if chart.proto.id.endswith(key)))


def values(trace_field: dict | list) -> list:
    """A trace's array, whether Plotly wrote it as a list or as typed base64 (`{"dtype", "bdata"}`)."""
    if isinstance(trace_field, dict):
        return np.frombuffer(base64.b64decode(trace_field["bdata"]), dtype=trace_field["dtype"]).tolist()
    return list(trace_field)


def price_move_assets(at: AppTest) -> list[str]:
    return figure(at, "overview_moves")["data"][0]["y"]


@pytest.fixture()
def live(exchanges: FakeExchanges, monkeypatch: pytest.MonkeyPatch) -> FakeExchanges:
    monkeypatch.setenv("LIQSCOPE_DATA", "live")
    monkeypatch.setenv("LIQSCOPE_DB", "/nonexistent/liqscope.db")
    return exchanges


class TestDemoOverview:
    def test_an_empty_selection_counts_every_coin_and_says_how_many_perpetuals(self) -> None:
        """The KPIs equal a direct sum over every coin the demo lists on every exchange (more than the majors)."""
        at = run_app()
        every = pd.concat(
            [
                DEMO.fetch("liquidations", Query(i.asset, i.exchange, SEED, SEED + pd.Timedelta(days=1), "5m"))
                for i in demo.INSTRUMENTS
            ]
        )
        totals = summary.liquidation_totals(every)
        majors = summary.liquidation_totals(every[every["asset"].isin(ASSETS)])
        assert totals.total > majors.total * 1.1
        values = metrics(at)
        assert values["Total liquidations"] == summary.usd(totals.total) == "$1.10B"
        assert values["Shorts liquidated"] == summary.usd(totals.shorts)
        assert values["Longs liquidated"] == summary.usd(totals.longs)
        assert at.caption[0].value.startswith("2025-05-08 (UTC) · all 56 perpetuals (19 coins) · 6 exchanges")
        assert any("count the whole market" in c.value and "56 perpetuals" in c.value for c in at.caption)
        assert f"of the {summary.usd(totals.total)} total" in at.markdown[0].value

    def test_liquidations_by_coin_ranks_every_coin_long_and_short(self) -> None:
        at = run_app()
        bars = figure(at, "overview_coins")["data"]
        assert [b["name"] for b in bars] == ["Longs liquidated", "Shorts liquidated"]
        assert len(bars[0]["y"]) == len(demo.UNIVERSE) and bars[0]["y"][:2] == ["BTC", "ETH"]
        assert "POPCAT" in bars[0]["y"]
        assert figure(at, "overview_coin_treemap")["data"][0]["type"] == "treemap"

    def test_a_selection_keeps_the_majors_calibration(self) -> None:
        at = run_app({"assets": list(ASSETS)})
        values = metrics(at)
        assert (values["Total liquidations"], values["Shorts liquidated"]) == ("$965M", "$810M")
        assert at.caption[0].value.startswith("2025-05-08 (UTC) · 7 assets · 6 exchanges")

    def test_top_5_shows_exactly_five_coins_by_open_interest(self) -> None:
        at = run_app({"top": "5"})
        assert price_move_assets(at) and sorted(price_move_assets(at)) == sorted(DEMO.top_assets(EXCHANGES, 5).assets)
        assert set(price_move_assets(at)) == {"BTC", "ETH", "SOL", "DOGE", "XRP"}
        assert len(figure(at, "overview_ratios")["data"][0]["y"]) == 5

    def test_top_5_plus_a_selected_small_cap(self) -> None:
        at = run_app({"top": "5", "assets": ["POPCAT"]})
        assert len(price_move_assets(at)) == 6 and "POPCAT" in price_move_assets(at)

    def test_the_default_is_ten_coins(self) -> None:
        assert len(price_move_assets(run_app())) == 10

    @pytest.mark.parametrize("value", ["0", "999", "ten", "2.5"])
    def test_a_bad_top_from_the_link_gets_a_note(self, value: str) -> None:
        at = run_app({"top": value})
        assert not at.exception
        assert f"Ignored invalid top {value!r} from the link; it is a whole number from 1 to 50." in warnings(at)
        assert len(price_move_assets(at)) == 10

    def test_the_selector_offers_every_listed_coin(self) -> None:
        at = run_app({"exchanges": ["okx"]})
        options = at.multiselect(key="assets").options
        assert "PEPE" in options and "POPCAT" not in options and options[:7] == list(ASSETS)
        assert len(options) == len(demo.UNIVERSE) - 1

    def test_a_share_link_of_the_whole_market_lists_no_asset(self) -> None:
        at = run_app({"top": "5"})
        link = at.code[0].value
        assert "assets=" not in link and "top=5" in link


class TestDemoExchangePage:
    def test_the_whole_market_on_one_exchange(self) -> None:
        """OKX's page counts every coin OKX lists (its total = a direct sum) and charts them by asset."""
        at = run_app({"exchange": "okx"}, "app_pages/exchange.py")
        okx = pd.concat(
            [
                DEMO.fetch("liquidations", Query(i.asset, "okx", SEED, SEED + pd.Timedelta(days=1), "5m"))
                for i in demo.INSTRUMENTS
                if i.exchange == "okx"
            ]
        )
        assert metrics(at)["Total liquidations"] == summary.usd(okx["usd"].sum())
        assert "all 56 perpetuals" in at.caption[0].value
        assert len(figure(at, "exchange_assets")["data"][0]["x"]) == len(demo.UNIVERSE) - 1


class TestDemoAssetPage:
    def test_a_long_tail_coin_opens_with_prices_per_one_coin(self) -> None:
        at = run_app({"asset": "PEPE"}, "app_pages/asset.py")
        assert not at.exception
        assert at.title[0].value == "PEPE perpetuals"
        closes = values(figure(at, "asset_candles")["data"][0]["close"])
        assert 0.000009 < closes[0] < 0.000013
        assert metrics(at)["Last price (change)"].startswith("$0.0000")

    def test_a_coin_a_venue_does_not_list_reads_not_listed(self) -> None:
        at = run_app({"asset": "POPCAT"}, "app_pages/asset.py")
        assert not at.exception and at.title[0].value == "POPCAT perpetuals"
        assert ":material/block: Not covered: POPCAT is not listed on OKX." in [c.value for c in at.caption]
        assert not any("POPCAT" in w for w in warnings(at))


class TestExport:
    def test_liquidations_without_asset_export_every_coin_of_the_exchange(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code = main(["export", "liquidations", "--exchange", "okx", "--start", "2025-05-08", "--end", "2025-05-09"])
        assert code == 0
        frame = pd.read_csv(io.StringIO(capsys.readouterr().out))
        listed = {i.asset for i in demo.INSTRUMENTS if i.exchange == "okx"}
        assert set(frame["asset"]) == listed and "PEPE" in listed and "POPCAT" not in listed
        direct = sum(
            DEMO.fetch("liquidations", Query(a, "okx", SEED, SEED + pd.Timedelta(days=1), "5m"))["usd"].sum()
            for a in listed
        )
        assert frame["usd"].sum() == pytest.approx(direct, rel=1e-6)

    def test_bars_without_asset_are_per_coin(self, capsys: pytest.CaptureFixture[str]) -> None:
        args = ["export", "liquidations", "--exchange", "bybit", "--start", "2025-05-08", "--end", "2025-05-09"]
        assert main([*args, "--interval", "1h"]) == 0
        frame = pd.read_csv(io.StringIO(capsys.readouterr().out))
        assert len(frame) == 24 * len(demo.UNIVERSE) and frame.groupby("asset").size().eq(24).all()

    def test_asset_takes_any_listed_coin_and_names_an_unlisted_one(self, capsys: pytest.CaptureFixture[str]) -> None:
        window = ["--start", "2025-05-08", "--end", "2025-05-09"]
        assert main(["export", "candles", "--asset", "pepe", "--exchange", "bybit", *window]) == 0
        assert pd.read_csv(io.StringIO(capsys.readouterr().out))["close"].between(9e-6, 1.3e-5).all()
        assert main(["export", "candles", "--asset", "POPCAT", "--exchange", "okx", *window]) == 2
        assert "error: POPCAT is not listed on OKX" in capsys.readouterr().err
        assert main(["export", "candles", "--exchange", "okx", *window]) == 2
        assert "--asset is required for candles" in capsys.readouterr().err


class TestTickerParsers:
    """Each venue's all-symbol ticker payload (the fake's exact format) -> USD per coin via the listing."""

    @pytest.fixture()
    def listings(self, exchanges: FakeExchanges) -> InstrumentRegistry:
        return InstrumentRegistry(dict.fromkeys(FAKED, exchanges.url))

    def _raw(self, exchanges: FakeExchanges, exchange: str) -> object:
        return BY_ID[exchange].module.TICKERS.request(Upstream(exchange, exchanges.url, "LIQSCOPE_TEST_URL", 5.0))

    def test_bybit_open_interest_value_per_coin(self, exchanges: FakeExchanges, listings: InstrumentRegistry) -> None:
        per_coin = bybit.parse_tickers(self._raw(exchanges, "bybit"), listings.listing("bybit").by_symbol)
        expected = DEMO.open_interest_usd("bybit")
        assert per_coin["PEPE"] == pytest.approx(expected["PEPE"], rel=1e-9)  # from 1000PEPEUSDT
        assert per_coin["SHIB"] == pytest.approx(expected["SHIB"], rel=1e-9)  # from SHIB1000USDT
        assert per_coin["1INCH"] == fake_exchanges.UNSERVED_USD and "BTC-26JUN26" not in per_coin
        assert per_coin["BTC"] == pytest.approx(expected["BTC"] + fake_exchanges.UNSERVED_USD)  # + BTCPERP (USDC)

    def test_okx_oi_usd_per_coin_skips_a_suspended_swap(
        self, exchanges: FakeExchanges, listings: InstrumentRegistry
    ) -> None:
        per_coin = okx.parse_tickers(self._raw(exchanges, "okx"), listings.listing("okx").by_symbol)
        assert per_coin["PEPE"] == pytest.approx(DEMO.open_interest_usd("okx")["PEPE"], rel=1e-9)
        assert "LUNA" not in per_coin

    def test_binance_quote_volume_is_the_proxy(self, exchanges: FakeExchanges, listings: InstrumentRegistry) -> None:
        per_coin = binance.parse_tickers(self._raw(exchanges, "binance"), listings.listing("binance").by_symbol)
        assert per_coin["PEPE"] == pytest.approx(demo.DAILY_VOLUME_USD["PEPE"] * 0.45, rel=1e-9)
        assert "XAU" not in per_coin and "TOMO" not in per_coin

    def test_unusable_rows_are_skipped_and_a_wrong_shape_is_an_error(self, listings: InstrumentRegistry) -> None:
        raw = {"code": "0", "data": [{"instId": "BTC-USDT-SWAP", "oiUsd": ""}, "x", {"instId": "BTC-USDT-SWAP"}]}
        assert okx.parse_tickers(raw, {}) == {}
        with pytest.raises(SourceError, match="ticker/24hr"):
            binance.parse_tickers({"code": -1}, {})

    def test_one_request_per_venue_then_cached(self, exchanges: FakeExchanges, listings: InstrumentRegistry) -> None:
        upstreams = {e: Upstream(e, exchanges.url, "LIQSCOPE_TEST_URL", 5.0) for e in FAKED}
        board = tickers.TickerBoard(upstreams, listings.listing)
        ranking = board.top(FAKED, 3)
        board.top(FAKED, 8)
        assert ranking.assets == ("BTC", "ETH", "SOL")
        assert "open interest on OKX, Bybit" in ranking.basis and "Binance publishes no" in ranking.basis
        assert len(exchanges.calls("/v5/market/tickers")) == len(exchanges.calls("/api/v5/public/open-interest")) == 1
        assert not exchanges.calls("/fapi/v1/ticker/24hr")
        assert board.top(("binance",), 2).basis.startswith("24 h volume on Binance, a proxy")

    def test_concurrent_misses_share_one_request_per_venue(
        self, exchanges: FakeExchanges, listings: InstrumentRegistry
    ) -> None:
        upstreams = {e: Upstream(e, exchanges.url, "LIQSCOPE_TEST_URL", 5.0) for e in FAKED}
        board = tickers.TickerBoard(upstreams, listings.listing)
        exchanges.delay = 0.2
        try:
            with ThreadPoolExecutor(8) as pool:
                rankings = list(pool.map(lambda _: board.top(FAKED, 5), range(8)))
        finally:
            exchanges.delay = 0.0
        assert len(set(rankings)) == 1
        assert len(exchanges.calls("/v5/market/tickers")) == len(exchanges.calls("/api/v5/public/open-interest")) == 1

    def test_no_answer_falls_back_to_the_majors_with_the_reason(
        self, exchanges: FakeExchanges, listings: InstrumentRegistry
    ) -> None:
        upstreams = {e: Upstream(e, exchanges.url, "LIQSCOPE_TEST_URL", 5.0) for e in FAKED}
        exchanges.fail("/v5/market/tickers", status=503, times=10)
        ranking = tickers.TickerBoard(upstreams, listings.listing).top(("bybit",), 4)
        assert ranking.assets == ASSETS[:4] and "Bybit's tickers did not answer" in ranking.notes[0]


class TestLive:
    def test_the_asset_page_reads_pepe_per_one_coin_on_every_venue(self, live: FakeExchanges) -> None:
        """Binance sends 1000PEPEUSDT candles per 1,000 PEPE; the page shows the demo's price per ONE PEPE."""
        at = run_live(live, "app_pages/asset.py", interval="1h", asset="PEPE")
        assert not at.exception and at.title[0].value == "PEPE perpetuals"
        closes = values(figure(at, "asset_candles")["data"][0]["close"])
        day = live.market.seed_day
        served = live.market.frame("candles", "PEPE", "binance", int(day.value // 10**6), 2**62, "1h")
        assert closes[0] == pytest.approx(served["close"].iloc[0], rel=1e-8)
        assert closes[0] < 0.0001
        asked = {c[1].get("symbol") or c[1].get("instId") for c in live.calls()}
        assert {"1000PEPEUSDT", "PEPE-USDT-SWAP"} <= asked and "PEPEUSDT" not in asked
        assert "Live exchange APIs · answered: Binance, OKX, Bybit" in " ".join(captions(at))

    def test_a_coin_one_venue_does_not_list_is_not_covered_there(self, live: FakeExchanges) -> None:
        """SATS is listed on Binance (1000SATSUSDT) and Bybit (10000SATSUSDT) only: OKX reads "not listed" (and is
        never asked), not an error."""
        at = run_live(live, "app_pages/asset.py", interval="1h", asset="SATS")
        assert not at.exception
        notes = captions(at)
        assert ":material/block: Not covered: SATS is not listed on OKX." in notes
        assert not any("SATS" in str(params) for path, params in live.calls("/api/v5/"))

    def test_a_listing_that_fails_falls_back_to_the_plain_symbols_and_is_asked_once(self, live: FakeExchanges) -> None:
        """Binance's exchangeInfo refused (451): its majors are read as BTCUSDT..., the page says why, and the
        failing listing is asked once for the whole page, not once per read."""
        live.fail("/fapi/v1/exchangeInfo", status=451, body='{"code": 0, "msg": "restricted"}', times=100)
        at = run_live(live, interval="1h")
        assert not at.exception
        assert any(w.startswith("Binance's instrument list is unavailable") for w in warnings(at))
        assert any(c.startswith("Live exchange APIs · answered: Binance, OKX, Bybit") for c in captions(at))
        assert len(live.calls("/fapi/v1/exchangeInfo")) == 1
        assert {c[1]["symbol"] for c in live.calls("/fapi/v1/klines")} >= {"BTCUSDT", "ETHUSDT"}

    def test_top_5_live_ranks_by_the_venues_open_interest(self, live: FakeExchanges) -> None:
        at = run_live(live, interval="1h", top="5")
        assert sorted(price_move_assets(at)) == ["BTC", "DOGE", "ETH", "SOL", "XRP"]
        assert len(live.calls("/v5/market/tickers")) == 1 and len(live.calls("/api/v5/public/open-interest")) == 1

    def test_default_view_requests_do_not_grow_with_the_listed_perpetuals(
        self, live: FakeExchanges, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(fake_exchanges, "BYBIT_LISTING_PAGE", 1000)  # Bybit's real page size
        counts = []
        for extra in (0, 400):
            live.extra_listed = extra
            live.reset()
            registry.clear()
            market.clear_cache()
            at = run_live(live, interval="1h")
            assert f"all {41 + 3 * extra:,} perpetuals" in at.caption[0].value
            counts.append(len(live.calls()))
        live.extra_listed = 0
        assert counts[0] == counts[1] < 400

    def test_whole_market_total_equals_a_direct_sql_sum_over_every_asset(
        self, live: FakeExchanges, monkeypatch: pytest.MonkeyPatch, tmp_path
    ) -> None:
        db = tmp_path / "liqscope.db"
        day = live.market.seed_day
        start_ms = int(day.value // 10**6)
        store = SqliteStore(db)
        coins = [f"COIN{i}" for i in range(30)] + ["PEPE", "BTC"]
        store.insert(
            [
                Event(exchange, f"{coin}USDT", coin, start_ms + 60_000 * (i + 1), side, 1.5 + i, 10.0 + j)
                for j, exchange in enumerate(EXCHANGES)
                for i, coin in enumerate(coins)
                for side in ("long", "short")
            ]
        )
        for exchange in EXCHANGES:
            store.open_interval(exchange, start_ms)
            store.extend_interval(exchange, start_ms, start_ms + 86_400_000)
        store.close()
        monkeypatch.setenv("LIQSCOPE_DB", str(db))
        at = run_live(live, interval="1h")
        import sqlite3

        with sqlite3.connect(db) as connection:
            total, shorts = connection.execute(
                "SELECT SUM(usd), SUM(CASE WHEN side = 'short' THEN usd END) FROM liquidations"
            ).fetchone()
        values = metrics(at)
        assert values["Total liquidations"] == summary.usd(total)
        assert values["Shorts liquidated"] == summary.usd(shorts)
        assert len(figure(at, "overview_coins")["data"][0]["y"]) == 21  # 20 coins + Others
        assert figure(at, "overview_coins")["data"][0]["y"][-1] == "Others (12 coins)"
        assert any("(every asset)" in c for c in captions(at))
