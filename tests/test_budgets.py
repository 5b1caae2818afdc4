"""Request budgets: the table says what each venue documents, and a burst of views stays inside it."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
import requests
from streamlit.testing.v1 import AppTest

from data_sources import budgets, http, market
from data_sources.base import SourceError
from data_sources.budgets import TABLE, Budget, Budgets, lookup
from data_sources.live import LiveSource
from data_sources.venues import binance, bybit, okx
from tests.fake_exchanges import COINALYZE_KEY, FakeExchanges
from tests.fake_limits import FakeLimits, squeezed
from tests.live_helpers import settings_for

RUBIK = "/api/v5/rubik/stat/contracts/long-short-account-ratio-contract"
TOP_RUBIK = "/api/v5/rubik/stat/contracts/long-short-position-ratio-contract-top-trader"
TAKER = "/api/v5/rubik/stat/taker-volume-contract"


def spends(venue: str, path: str, **params: object) -> list[tuple[str, int, float, str, int]]:
    """(group, limit, seconds, scope, cost) of every budget a request spends from."""
    return [(b.group, b.limit, b.seconds, b.scope, cost) for b, _, cost in lookup(TABLE, venue, path, params)]


def keys(venue: str, path: str, **params: object) -> list[str]:
    return [key for _, key, _ in lookup(TABLE, venue, path, params)]


class TestTable:
    def test_okx_limits_are_per_endpoint_as_documented(self) -> None:
        """OKX counts per endpoint: candles 40/2 s, history 20/2 s, rubik 5/2 s per instrument, ..."""
        assert spends("OKX", okx.CANDLES, instId="BTC-USDT-SWAP") == [("candles", 40, 2, "IP", 1)]
        assert spends("OKX", okx.HISTORY_CANDLES) == [("history candles", 20, 2, "IP", 1)]
        assert spends("OKX", RUBIK, instId="BTC-USDT-SWAP") == [("rubik ratios", 5, 2, "instrument", 1)]
        assert spends("OKX", okx.FUNDING, instId="BTC-USDT-SWAP") == [("funding history", 10, 2, "instrument", 1)]
        assert spends("OKX", okx.OPEN_INTEREST, instId="BTC-USDT-SWAP") == [("rubik open interest", 10, 2, "IP", 1)]
        assert spends("OKX", okx.INSTRUMENTS, instType="SWAP") == [("instruments", 20, 2, "instrument type", 1)]
        assert spends("OKX", okx.LIQUIDATIONS) == [("liquidation orders", 40, 2, "IP", 1)]

    def test_rubik_buckets_are_per_instrument_and_per_endpoint(self) -> None:
        btc = keys("OKX", RUBIK, instId="BTC-USDT-SWAP")
        assert btc != keys("OKX", RUBIK, instId="ETH-USDT-SWAP")
        assert btc != keys("OKX", TOP_RUBIK, instId="BTC-USDT-SWAP")
        assert keys("OKX", okx.CANDLES, instId="BTC-USDT-SWAP") == keys("OKX", okx.CANDLES, instId="ETH-USDT-SWAP")

    @pytest.mark.parametrize(("limit", "weight"), [(99, 1), (100, 2), (499, 2), (500, 5), (1000, 5), (1001, 10)])
    def test_binance_klines_weigh_by_limit(self, limit: int, weight: int) -> None:
        assert spends("Binance", binance.KLINES, limit=limit) == [("request weight", 2400, 60, "IP", weight)]

    def test_binance_futures_data_and_funding_have_their_own_limits(self) -> None:
        """`/futures/data` is 1000 per 5 min and weight 0; `fundingRate` spends weight and its 500 per 5 min."""
        assert spends("Binance", binance.OPEN_INTEREST) == [("futures data", 1000, 300, "IP", 1)]
        assert spends("Binance", binance.RATIO_PATHS["taker"]) == [("futures data", 1000, 300, "IP", 1)]
        assert spends("Binance", binance.FUNDING) == [
            ("request weight", 2400, 60, "IP", 1),
            ("funding rate", 500, 300, "IP", 1),
        ]

    def test_bybit_keeps_a_third_of_its_ip_limit_unused(self) -> None:
        """Over 600 per 5 s Bybit bans the IP for about 10 minutes: the client never goes near it."""
        ((budget, _, _),) = lookup(TABLE, "Bybit", bybit.KLINE, {})
        assert (budget.limit, budget.seconds, budget.allowance) == (600, 5, 400)

    def test_coinalyze_counts_each_symbol_as_a_call(self) -> None:
        assert spends("Coinalyze", "/liquidation-history", symbols="A.1,B.2,C.3") == [("API", 40, 60, "key", 3)]
        assert spends("Coinalyze", "/exchanges") == [("API", 40, 60, "key", 1)]

    def test_every_path_the_adapters_call_has_a_budget(self) -> None:
        paths = {
            "Binance": [binance.KLINES, binance.FUNDING, binance.OPEN_INTEREST, *binance.RATIO_PATHS.values()],
            "OKX": [
                okx.CANDLES,
                okx.HISTORY_CANDLES,
                okx.INSTRUMENTS,
                okx.FUNDING,
                okx.LIQUIDATIONS,
                okx.OPEN_INTEREST,
            ],
            "Bybit": [bybit.KLINE, bybit.ACCOUNT_RATIO, bybit.OPEN_INTEREST, bybit.FUNDING],
            "Coinalyze": ["/exchanges", "/future-markets", "/liquidation-history", "/open-interest-history"],
        }
        paths["OKX"] += okx.RATIO_PATHS.values()
        for venue in (binance, okx, bybit):
            paths[venue.NAME].append(venue.PROBE)
        missing = [(venue, p) for venue, listed in paths.items() for p in listed if not lookup(TABLE, venue, p, {})]
        assert missing == []

    def test_every_row_cites_its_source(self) -> None:
        assert all(budget.source for budget in TABLE)


def test_requests_wait_for_budget_and_say_so() -> None:
    """Two per 0.3 s: a third request blocks until the window moves on, and `waiting()` names it meanwhile."""
    table = (Budget("OKX", "rubik ratios", (RUBIK,), 2, 0.3, "instrument", "test", per_param="instId"),)
    limited = Budgets(table, pad_seconds=0.0)
    for _ in range(2):
        limited.acquire("OKX", "http://x", RUBIK, {"instId": "BTC-USDT-SWAP"})
    limited.acquire("OKX", "http://x", RUBIK, {"instId": "ETH-USDT-SWAP"})  # another instrument: its own bucket
    seen: list[str] = []
    done = threading.Event()
    started = time.monotonic()
    thread = threading.Thread(
        target=lambda: (limited.acquire("OKX", "http://x", RUBIK, {"instId": "BTC-USDT-SWAP"}), done.set())
    )
    thread.start()
    while not done.wait(0.05):
        seen += [str(wait) for wait in limited.waiting()]
    thread.join()
    assert time.monotonic() - started >= 0.25
    assert seen and seen[0].startswith("OKX rubik ratios: 1 request waiting, longest ")
    assert seen[0].endswith("for budget (2 requests per 0.3 s per instrument)")
    assert limited.waiting() == []


# A burst of different views (assets x intervals x windows), loaded concurrently in one process.
DATASETS = ("candles", "ratios", "open_interest", "funding")
EXCHANGES = ("binance", "okx", "bybit")
VIEWS = ((("BTC", "ETH"), 2, "15m"), (("SOL",), 1, "5m"), (("XRP", "DOGE"), 2, "1h"))
SQUEEZED = squeezed(TABLE)
JITTER = 1.0  # client and fake share one process on a loaded 2-core machine: far more jitter than the internet adds


COINALYZE_SYMBOLS = ",".join(f"{a}USDT_PERP.{c}" for a in ("BTC", "ETH", "SOL", "XRP", "ADA") for c in ("A", "3"))
BURSTS = {
    "Binance futures data": (
        "Binance",
        "",
        "/futures/data/openInterestHist",
        {"symbol": "BTCUSDT", "period": "5m"},
        24,
    ),
    "Binance klines weight": (
        "Binance",
        "",
        "/fapi/v1/klines",
        {"symbol": "BTCUSDT", "interval": "1m", "limit": 1500},
        6,
    ),
    "OKX rubik per instrument": ("OKX", "", RUBIK, {"instId": "BTC-USDT-SWAP", "period": "5m"}, 6),
    "Bybit per IP": ("Bybit", "", "/v5/market/time", {}, 16),
    "Coinalyze per symbol": (
        "Coinalyze",
        "/v1",
        "/open-interest-history",
        {"symbols": COINALYZE_SYMBOLS, "interval": "daily", "from": 0, "to": 1, "convert_to_usd": "true"},
        5,
    ),
}


def test_bursts_at_every_venue_stay_inside_their_budgets(exchanges: FakeExchanges) -> None:
    """Every venue's burst at once: with budgets the enforcing fake rejects none; without, each is rejected."""
    upstreams = {
        name: http.Upstream(venue, exchanges.url + prefix, "TEST", 5, headers={"api_key": COINALYZE_KEY})
        for name, (venue, prefix, *_) in BURSTS.items()
    }
    jobs = [name for name, spec in BURSTS.items() for _ in range(spec[-1])]

    def call(name: str) -> str:
        _, _, path, params, _ = BURSTS[name]
        try:
            upstreams[name].get_json(path, params)
            return ""
        except SourceError as error:
            return f"{name}: {error}"

    budgets.use(Budgets(())).close()  # the fake builds each series on first use (a second or more under load for
    assert [call(name) for name in BURSTS] == [""] * len(BURSTS)  # Coinalyze's ten): not inside the bursts' 5 s
    rejected: dict[str, dict[str, int]] = {}
    try:
        for mode, active in (("on", Budgets(SQUEEZED, pad_seconds=JITTER)), ("off", Budgets(()))):
            budgets.use(active).close()
            exchanges.limits = FakeLimits(SQUEEZED)
            errors = [error for error in http.fan_out(call, jobs) if error]
            assert mode == "off" or not errors, errors
            paths = [path for _, path in exchanges.limits.rejected]
            rejected[mode] = {name: sum(p.endswith(BURSTS[name][2]) for p in paths) for name in BURSTS}
    finally:
        exchanges.limits = None
    assert rejected["on"] == dict.fromkeys(BURSTS, 0)
    assert all(rejected["off"].values()), rejected["off"]


def burst(url: str) -> dict[tuple[str, str, str, str], int]:
    """Load every view at once; rows per (view, dataset, exchange, asset), after checking nothing failed."""
    source = LiveSource(settings_for(url))
    end = pd.Timestamp.now(tz="UTC").floor("D")

    def view(spec: tuple[tuple[str, ...], int, str]) -> tuple:
        assets, days, interval = spec
        jobs = tuple((dataset, assets) for dataset in DATASETS)
        handles = market.start(source, jobs, EXCHANGES, end - pd.Timedelta(days=days), end, interval)
        return tuple(handle.result() for handle in handles)

    with ThreadPoolExecutor(len(VIEWS)) as pool:
        results = list(pool.map(view, VIEWS))
    rows: dict[tuple[str, str, str, str], int] = {}
    failed = []
    for spec, panels in zip(VIEWS, results, strict=True):
        for dataset, panel in zip(DATASETS, panels, strict=True):
            failed += list(panel.status.failed)
            counts = panel.frame.groupby(["exchange", "asset"]).size()
            for (exchange, asset), count in counts.items():
                rows[(spec[2], dataset, exchange, asset)] = count
    rows["failed"] = len(failed)  # type: ignore[index]
    return rows


def test_a_burst_of_views_stays_inside_every_budget(exchanges: FakeExchanges) -> None:
    """With budgets, the enforcing fake rejects nothing and every panel is complete; without, it rejects."""
    calm = burst(exchanges.url)  # the fake without limits: what complete looks like
    assert calm["failed"] == 0  # type: ignore[index]
    expected = {(i, d, e, a) for assets, _, i in VIEWS for d in DATASETS for e in EXCHANGES for a in assets}
    assert set(calm) - {"failed"} == expected

    market.clear_cache()
    budgets.use(Budgets(SQUEEZED, pad_seconds=JITTER)).close()
    exchanges.limits = FakeLimits(SQUEEZED)
    try:
        started = time.monotonic()
        kept = burst(exchanges.url)
        elapsed = time.monotonic() - started
        assert exchanges.limits.rejected == []
        assert kept == calm
        assert elapsed > 1.0  # it did wait: the burst is larger than one window of several budgets

        market.clear_cache()
        budgets.use(Budgets(())).close()  # budgets off
        exchanges.limits = FakeLimits(SQUEEZED)
        burst(exchanges.url)
        assert exchanges.limits.rejected_by("OKX") > 0  # its candle pages fan out at once: always over
    finally:
        exchanges.limits = None


def waiting_page() -> None:
    """A page whose load waits: the third of three requests needs a new 0.6 s window."""
    from concurrent.futures import ThreadPoolExecutor

    import streamlit as st

    from components.progress import awaiting
    from data_sources import budgets

    def load() -> str:
        for _ in range(3):
            budgets.acquire(
                "OKX", "http://page", "/api/v5/rubik/stat/taker-volume-contract", {"instId": "BTC-USDT-SWAP"}
            )
        return "loaded"

    with ThreadPoolExecutor(1) as pool:
        st.write(awaiting(pool.submit(load)))


def test_a_page_that_waits_for_budget_says_which() -> None:
    budgets.use(Budgets((Budget("OKX", "rubik ratios", (RUBIK, TAKER), 2, 0.6, "instrument", "test"),), 0.0)).close()
    at = AppTest.from_function(waiting_page).run(timeout=30)
    assert not at.exception and at.markdown[-1].value == "loaded"
    (caption,) = at.caption
    assert "waiting for request budget: OKX rubik ratios." in caption.value


def test_a_page_that_does_not_wait_draws_nothing_extra() -> None:
    budgets.use(Budgets(())).close()
    at = AppTest.from_function(waiting_page).run(timeout=30)
    assert not at.exception and not at.caption and not at.info


def test_the_enforcing_fake_reports_binance_weight_and_rejects_like_each_venue(exchanges: FakeExchanges) -> None:
    # Binance weight 48 and Bybit 12 per window; a 30 s window (not SQUEEZED's 0.75 s), so a loaded machine's
    # slow sequential requests cannot age out of it before the fifth one.
    exchanges.limits = FakeLimits(squeezed(TABLE, seconds=30))
    try:
        klines = {"symbol": "BTCUSDT", "interval": "1m", "limit": 1500}
        used = [requests.get(f"{exchanges.url}/fapi/v1/klines", params=klines, timeout=5) for _ in range(5)]
        assert [r.headers.get("X-MBX-USED-WEIGHT-1M") for r in used[:4]] == ["10", "20", "30", "40"]
        assert used[4].status_code == 429 and used[4].json()["code"] == -1003
        bybit = [requests.get(f"{exchanges.url}/v5/market/time", timeout=5) for _ in range(13)]
        assert bybit[-1].status_code == 403 and bybit[-1].headers["Content-Type"] == "text/html"
    finally:
        exchanges.limits = None
