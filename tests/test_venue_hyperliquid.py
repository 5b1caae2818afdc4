"""Hyperliquid: parsers on recorded-shape payloads, and the adapter against a loopback fake `POST /info`.

Units: prices in USD per ONE coin (kPEPE is per 1,000 PEPE), open interest in USD (coins x markPx).
Paging: windows that fit one answer, whichever end of an over-full range the venue keeps. Coverage:
no open-interest history and no liquidation feed, each said in a sentence. POST goes through the real
`Upstream`, retried like a GET.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from data_sources import cli, http
from data_sources.base import NoCoverage, Query, SourceError, ms
from data_sources.venues import hyperliquid as hl
from data_sources.venues.hyperliquid import HyperliquidAdapter
from tests.fakes.hyperliquid import DESERIALIZE, OPEN_INTEREST_COINS, FakeHyperliquid

PAYLOADS = Path(__file__).parent / "payloads" / "hyperliquid"
DAY = pd.Timedelta(days=1)
BTC = hl.Instrument("hyperliquid", "BTC", "BTC", "linear", "USDC", 1.0, 1.0, "trading")
KPEPE = hl.Instrument("hyperliquid", "kPEPE", "PEPE", "linear", "USDC", 1000.0, 1000.0, "trading")


def payload(name: str) -> object:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def server() -> Iterator[FakeHyperliquid]:
    with FakeHyperliquid() as fake:
        yield fake


@pytest.fixture()
def fake(server: FakeHyperliquid) -> FakeHyperliquid:
    """The fake with requests, faults, fill order and page sizes reset."""
    server.reset()
    return server


def now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


class TestListing:
    def test_meta_rows_become_instruments_with_k_prefix_and_delisted_status(self) -> None:
        """`kPEPE` is PEPE x 1000, `KAITO` (capital K) a plain ticker, delisted coins closed, bad rows skipped."""
        meta = payload("meta")
        meta["universe"] += [
            {"name": "kPEPE", "szDecimals": 0, "maxLeverage": 10},
            {"name": "KAITO", "szDecimals": 0, "maxLeverage": 5},
            {"name": "BAD", "szDecimals": "x", "maxLeverage": 3},
        ]
        rows = {i.symbol: i for i in hl.parse_listing(meta)}
        assert set(rows) == {"BTC", "ETH", "HPOS", "LOOM", "kPEPE", "KAITO"}
        assert rows["kPEPE"] == KPEPE
        assert (rows["KAITO"].asset, rows["KAITO"].multiplier) == ("KAITO", 1.0)
        assert rows["LOOM"].status == "closed" and not rows["LOOM"].trading
        assert rows["BTC"] == BTC

    def test_a_listing_without_universe_is_refused(self) -> None:
        """An answer that is not `meta` is a clear BadPayload, not a KeyError."""
        with pytest.raises(http.BadPayload, match="no universe list"):
            hl.parse_listing([])

    def test_symbol_prefers_a_trading_coin_and_names_unknown_assets(self) -> None:
        """PEPE maps to the listed kPEPE; an unlisted asset is an UnknownSymbol sentence."""
        delisted = hl.Instrument("hyperliquid", "PEPE", "PEPE", "linear", "USDC", 1.0, 1.0, "closed")
        assert hl.symbol("PEPE", [delisted, KPEPE]) is KPEPE
        with pytest.raises(http.UnknownSymbol, match="does not list a FOO perpetual"):
            hl.symbol("FOO", [BTC])


def test_request_weight_follows_the_documented_table() -> None:
    """20 per info request, 2 for light ones, plus 1 per 60 candles or 20 funding rows the window can hold."""
    hour = 3_600_000
    assert hl.weight("/info", {"type": "meta"}) == 20
    assert hl.weight("/info", {"type": "allMids"}) == 2
    day_of_1m = {"coin": "BTC", "interval": "1m", "startTime": 0, "endTime": 24 * hour - 1}
    assert hl.weight("/info", {"type": "candleSnapshot", "req": day_of_1m}) == 20 + 1440 // 60
    week_of_1m = dict(day_of_1m, endTime=7 * 24 * hour - 1)
    assert hl.weight("/info", {"type": "candleSnapshot", "req": week_of_1m}) == 20 + 5000 // 60
    funding = {"type": "fundingHistory", "coin": "BTC", "startTime": 0, "endTime": 499 * hour - 1}
    assert hl.weight("/info", funding) == 20 + 499 // 20


class TestParsers:
    def test_candle_payload(self) -> None:
        """Strings become numbers, `t` the bar open, `v` coins; quote volume = coins x the bar's mean price."""
        frame = hl.parse_candles(payload("candleSnapshot"), BTC)
        row = frame.iloc[0]
        assert row["ts"] == pd.Timestamp(1681923600000, unit="ms", tz="UTC")
        assert (row["open"], row["high"], row["low"], row["close"]) == (29295.0, 29309.0, 29250.0, 29258.0)
        assert row["volume"] == 0.98639
        assert row["quote_volume"] == pytest.approx(0.98639 * (29295 + 29309 + 29250 + 29258) / 4)
        assert (row["exchange"], row["asset"]) == ("hyperliquid", "BTC")

    def test_kpepe_candle_is_per_one_pepe(self) -> None:
        """A kPEPE price is per 1,000 PEPE and its size in thousands: price / 1000, volume x 1000."""
        raw = [
            dict(payload("candleSnapshot")[0], s="kPEPE", o="0.012345", h="0.0125", l="0.0122", c="0.01239", v="2500")
        ]
        row = hl.parse_candles(raw, KPEPE).iloc[0]
        assert row["asset"] == "PEPE"
        assert row["open"] == pytest.approx(0.000012345)
        assert row["close"] == pytest.approx(0.00001239)
        assert row["volume"] == pytest.approx(2_500_000)
        assert row["quote_volume"] == pytest.approx(2500 * (0.012345 + 0.0125 + 0.0122 + 0.01239) / 4)

    def test_funding_payload_keeps_the_exact_millisecond(self) -> None:
        """`time` falls a few ms after the hour and is kept as sent; the rate is per hour."""
        row = hl.parse_funding(payload("fundingHistory"), "ETH").iloc[0]
        assert row["ts"] == pd.Timestamp(1704290400031, unit="ms", tz="UTC")
        assert row["rate"] == 0.0000125

    def test_open_interest_is_coins_times_mark_price(self) -> None:
        """`openInterest` is in coins: USD = 10,764.48 SOL x 108.04, not 10,764.48."""
        at = pd.Timestamp("2026-01-01 12:00", tz="UTC")
        frame = hl.parse_open_interest(payload("metaAndAssetCtxs"), at)
        assert frame[["asset", "usd"]].to_dict("records") == [{"asset": "SOL", "usd": pytest.approx(10764.48 * 108.04)}]
        assert frame["ts"].tolist() == [at]

    def test_contexts_are_positional_to_the_universe(self) -> None:
        """Contexts that do not match the universe one for one cannot be attributed: refused."""
        meta, contexts = payload("metaAndAssetCtxs")
        with pytest.raises(http.BadPayload, match="1 asset contexts for 2 coins"):
            hl.parse_open_interest([{"universe": meta["universe"] * 2}, contexts], now())

    @pytest.mark.parametrize(
        "parse", [lambda raw: hl.parse_candles(raw, BTC), lambda raw: hl.parse_funding(raw, "BTC")]
    )
    def test_unexpected_shapes_are_bad_payloads(self, parse: object) -> None:
        """An error object or a row without its fields is a BadPayload sentence."""
        with pytest.raises(http.BadPayload, match="Hyperliquid sent"):
            parse({"error": "x"})  # type: ignore[operator]
        with pytest.raises(http.BadPayload, match="Hyperliquid sent"):
            parse([{"T": 1}])  # type: ignore[operator]


class TestCandles:
    def test_candles_are_the_venue_series_in_one_request(self, fake: FakeHyperliquid) -> None:
        """Two days of 1h BTC candles: one candleSnapshot with integer inclusive times, every bar present."""
        end = now().floor("h")
        query = Query("BTC", "hyperliquid", end - 2 * DAY, end, "1h")
        frame = HyperliquidAdapter(fake.url).fetch("candles", query)
        truth = fake.market.frame("candles", "BTC", "binance", ms(query.start), ms(end), "1h")
        assert frame["ts"].tolist() == truth["ts"].tolist()
        assert frame["close"].to_numpy() == pytest.approx(truth["close"].to_numpy())
        [request] = fake.calls("candleSnapshot")
        assert request["req"] == {"coin": "BTC", "interval": "1h", "startTime": ms(query.start), "endTime": ms(end) - 1}

    def test_pepe_candles_come_from_kpepe_per_one_pepe(self, fake: FakeHyperliquid) -> None:
        """PEPE is asked as kPEPE; prices come back per ONE PEPE (the served price / 1000), volume in PEPE."""
        end = now().floor("h")
        query = Query("PEPE", "hyperliquid", end - DAY, end, "1h")
        frame = HyperliquidAdapter(fake.url).fetch("candles", query)
        truth = fake.pepe_candles("1h", query.start, end)
        assert len(frame) == 24
        assert frame["close"].to_numpy() == pytest.approx(truth["close"].to_numpy())
        assert frame["volume"].to_numpy() == pytest.approx(truth["volume"].to_numpy())
        served = fake.candles("kPEPE", "1h", ms(query.start), ms(end) - 1)
        assert frame["close"].to_numpy() == pytest.approx([float(r["c"]) / 1000 for r in served])
        assert {r["req"]["coin"] for r in fake.calls("candleSnapshot")} == {"kPEPE"}

    def test_only_the_latest_5000_candles_exist(self, fake: FakeHyperliquid) -> None:
        """A 1m window older than the 5,000 most recent candles is NoCoverage; one reaching into them is clipped."""
        adapter = HyperliquidAdapter(fake.url)
        end = now().floor("min")
        with pytest.raises(NoCoverage, match=r"only the most recent 5,000 1m candles"):
            adapter.fetch("candles", Query("BTC", "hyperliquid", end - 6 * DAY, end - 4 * DAY, "1m"))
        assert not fake.calls("candleSnapshot")
        frame = adapter.fetch("candles", Query("BTC", "hyperliquid", end - 5 * DAY, end, "1m"))
        assert 4990 <= len(frame) <= 5000
        assert frame["ts"].diff().dropna().eq(pd.Timedelta(minutes=1)).all()

    @pytest.mark.parametrize("fill", ["start", "end"])
    def test_windows_fit_one_answer_whichever_end_the_venue_keeps(
        self, fake: FakeHyperliquid, monkeypatch: pytest.MonkeyPatch, fill: str
    ) -> None:
        """With 100-candle answers, ten days of 1h candles come back whole, each window asked once."""
        monkeypatch.setattr(hl, "CANDLE_LIMIT", 100)
        fake.candle_limit, fake.fill = 100, fill
        end = now().floor("h")
        query = Query("ETH", "hyperliquid", end - 10 * DAY, end, "1h")
        frame = HyperliquidAdapter(fake.url).fetch("candles", query)
        truth = fake.market.frame("candles", "ETH", "binance", ms(query.start), ms(end), "1h")
        assert frame["ts"].tolist() == truth["ts"].tolist()
        assert len(fake.calls("candleSnapshot")) == 3  # 240 bars in windows of 99


class TestFunding:
    @pytest.mark.parametrize("fill", ["start", "end"])
    def test_30_days_come_whole_in_answers_of_at_most_500(self, fake: FakeHyperliquid, fill: str) -> None:
        """720 hourly rows take two windows of 499 hours; the frame is the same whichever end a page keeps."""
        fake.fill = fill
        end = now().floor("h")
        query = Query("ETH", "hyperliquid", end - 30 * DAY, end, "1h")
        frame = HyperliquidAdapter(fake.url).fetch("funding", query)
        truth = fake.funding_truth("ETH", query.start, end)
        assert len(truth) == 720
        assert frame["ts"].tolist() == [pd.Timestamp(r["time"], unit="ms", tz="UTC") for r in truth]
        assert frame["rate"].to_numpy() == pytest.approx([float(r["fundingRate"]) for r in truth])
        requests = fake.calls("fundingHistory")
        assert len(requests) == 2
        for body in requests:
            assert isinstance(body["startTime"], int) and isinstance(body["endTime"], int)
            assert body["endTime"] - body["startTime"] < hl.FUNDING_LIMIT * 3_600_000

    def test_a_full_answer_is_split_not_kept(self, fake: FakeHyperliquid, monkeypatch: pytest.MonkeyPatch) -> None:
        """If the venue funded more often than hourly, a window's answer would be full: it is asked again in halves."""
        monkeypatch.setattr(hl, "FUNDING_STEP_MS", 2 * 3_600_000)  # the adapter assumes 2-hourly funding
        monkeypatch.setattr(hl, "FUNDING_LIMIT", 50)
        fake.funding_limit, fake.fill = 50, "end"
        end = now().floor("h")
        query = Query("BTC", "hyperliquid", end - 4 * DAY, end, "1h")
        frame = HyperliquidAdapter(fake.url).fetch("funding", query)
        assert len(frame) == 96 and frame["ts"].is_unique


class TestOpenInterest:
    def test_snapshot_is_usd_coins_times_mark_for_every_listed_coin(self, fake: FakeHyperliquid) -> None:
        """One row per trading coin (LOOM is delisted), USD = openInterest coins x markPx; kPEPE is PEPE."""
        frame = HyperliquidAdapter(fake.url).snapshot_open_interest()
        assert sorted(frame["asset"]) == ["BTC", "DOGE", "ETH", "PEPE", "SOL"]
        usd = dict(zip(frame["asset"], frame["usd"], strict=True))
        for coin, asset in (("BTC", "BTC"), ("ETH", "ETH"), ("kPEPE", "PEPE")):
            assert usd[asset] == pytest.approx(OPEN_INTEREST_COINS[coin] * fake.mark_price(coin))
            assert usd[asset] != pytest.approx(OPEN_INTEREST_COINS[coin])
        assert (frame["ts"] - now()).abs().max() < pd.Timedelta(seconds=30)

    def test_a_past_window_is_not_covered(self, fake: FakeHyperliquid) -> None:
        """Only the current value exists: a past window says so and who builds history."""
        end = now() - DAY
        with pytest.raises(NoCoverage, match=r"publishes only the current open interest.*collector"):
            HyperliquidAdapter(fake.url).fetch("open_interest", Query("BTC", "hyperliquid", end - DAY, end, "1h"))
        assert not fake.calls()

    def test_an_unlisted_asset_is_named(self, fake: FakeHyperliquid) -> None:
        start = now().floor("D")
        with pytest.raises(http.UnknownSymbol, match="does not list a XRP perpetual"):
            HyperliquidAdapter(fake.url).fetch("open_interest", Query("XRP", "hyperliquid", start, start + DAY, "1h"))

    def test_the_collectors_window_ending_just_now_is_current(self, fake: FakeHyperliquid) -> None:
        """A collector asks [last stored, its now): by the time the adapter reads its clock, that end has
        passed by milliseconds; the row is still the current value, stamped inside the window."""
        end = now().floor("ms")
        query = Query("BTC", "hyperliquid", end - pd.Timedelta(minutes=10), end, "5m")
        adapter = HyperliquidAdapter(fake.url, clock=lambda: (end + pd.Timedelta(seconds=2)).timestamp())
        frame = adapter.fetch("open_interest", query)
        assert frame["ts"].tolist() == [end - pd.Timedelta(milliseconds=1)]
        assert frame["usd"].iloc[0] == pytest.approx(OPEN_INTEREST_COINS["BTC"] * fake.mark_price("BTC"))

    def test_a_window_holding_now_has_the_current_value(self, fake: FakeHyperliquid) -> None:
        """A window through now answers with the one current row of that asset."""
        start = now().floor("D")
        frame = HyperliquidAdapter(fake.url).fetch(
            "open_interest", Query("ETH", "hyperliquid", start, start + DAY, "1h")
        )
        assert frame["asset"].tolist() == ["ETH"]
        assert frame["usd"].iloc[0] == pytest.approx(OPEN_INTEREST_COINS["ETH"] * fake.mark_price("ETH"))


class TestNotPublished:
    def test_liquidations_are_not_covered_with_the_reason(self, fake: FakeHyperliquid) -> None:
        """No market-wide feed: NoCoverage names why and how to plug a source in; nothing is asked."""
        query = Query("BTC", "hyperliquid", now() - DAY, now(), "1h")
        with pytest.raises(NoCoverage) as caught:
            HyperliquidAdapter(fake.url).fetch("liquidations", query)
        assert "publishes no market-wide liquidation feed" in str(caught.value)
        assert "LIQSCOPE_HYPERLIQUID_LIQUIDATIONS" in str(caught.value)
        assert not fake.calls()

    def test_the_export_gets_the_reason_and_no_rows(self, fake: FakeHyperliquid) -> None:
        """What the CLI's export sees: an empty frame and the reason, which `cli.main` turns into exit 1."""
        day = now().floor("D") - DAY
        frame, problems = cli.export(
            HyperliquidAdapter(fake.url), "liquidations", "BTC", "hyperliquid", day, day + DAY, None
        )
        assert frame.empty
        assert problems == [hl.NO_LIQUIDATIONS]

    def test_ratios_are_not_covered(self, fake: FakeHyperliquid) -> None:
        with pytest.raises(NoCoverage, match="no long/short ratios"):
            HyperliquidAdapter(fake.url).fetch("ratios", Query("BTC", "hyperliquid", now() - DAY, now(), "1h"))

    def test_an_unlisted_asset_is_named(self, fake: FakeHyperliquid) -> None:
        with pytest.raises(http.UnknownSymbol, match="does not list a XRP perpetual"):
            HyperliquidAdapter(fake.url).fetch("funding", Query("XRP", "hyperliquid", now() - DAY, now(), "1h"))


class FillsFile:
    """A liquidation plug-in as a node-fills reader would be: rows already in the schema's units."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows

    def events(self, asset: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["ts", "side", "price", "qty", "usd"])


def fills_source() -> FillsFile:
    """The factory `LIQSCOPE_HYPERLIQUID_LIQUIDATIONS=tests.test_venue_hyperliquid:fills_source` names."""
    return FillsFile(
        [{"ts": pd.Timestamp("2026-01-01 10:00", tz="UTC"), "side": "long", "price": 2, "qty": 3, "usd": 6}]
    )


class TestLiquidationPlugin:
    def test_a_plugged_source_answers_within_the_window(self, fake: FakeHyperliquid) -> None:
        """Rows from the plug-in get exchange and asset, in the schema, outside [start, end) dropped."""
        at = pd.Timestamp("2026-01-01 10:00", tz="UTC")
        rows = [
            {"ts": at, "side": "long", "price": 100.0, "qty": 2.0, "usd": 200.0},
            {"ts": at + DAY, "side": "short", "price": 100.0, "qty": 1.0, "usd": 100.0},
        ]
        adapter = HyperliquidAdapter(fake.url, liquidations=FillsFile(rows))
        frame = adapter.fetch("liquidations", Query("ETH", "hyperliquid", at.floor("D"), at.floor("D") + DAY, "1h"))
        assert frame[["exchange", "asset", "side", "usd"]].to_dict("records") == [
            {"exchange": "hyperliquid", "asset": "ETH", "side": "long", "usd": 200.0}
        ]

    def test_a_plugin_with_order_sides_is_refused(self, fake: FakeHyperliquid) -> None:
        """Sides must be the position liquidated ("long"/"short"), not an order side."""
        at = pd.Timestamp("2026-01-01 10:00", tz="UTC")
        adapter = HyperliquidAdapter(
            fake.url, liquidations=FillsFile([{"ts": at, "side": "sell", "price": 1, "qty": 1, "usd": 1}])
        )
        with pytest.raises(http.BadPayload, match=r"sides \['sell'\]"):
            adapter.fetch("liquidations", Query("ETH", "hyperliquid", at.floor("D"), at.floor("D") + DAY, "1h"))

    def test_the_setting_names_a_factory(self) -> None:
        """`package.module:factory` loads; a malformed or wrong name is a sentence naming the setting."""
        source = hl.load_liquidation_source("tests.test_venue_hyperliquid:fills_source")
        assert isinstance(source, FillsFile)
        with pytest.raises(ValueError, match="LIQSCOPE_HYPERLIQUID_LIQUIDATIONS='nope' must look like"):
            hl.load_liquidation_source("nope")
        with pytest.raises(ValueError, match="cannot be loaded"):
            hl.load_liquidation_source("tests.test_venue_hyperliquid:missing")
        with pytest.raises(ValueError, match="returned str, which has no events"):
            hl.load_liquidation_source("os:getcwd")


class TestPost:
    """`Upstream.post_json` through the real session: retried like a GET, failures typed."""

    def test_429_then_200_is_retried(self, fake: FakeHyperliquid) -> None:
        fake.fail("meta", status=429, body="null", headers={"Retry-After": "0"})
        assert {i.asset for i in HyperliquidAdapter(fake.url).listing()} >= {"BTC", "PEPE"}
        assert len(fake.calls("meta")) == 2

    def test_503_then_200_is_retried(self, fake: FakeHyperliquid) -> None:
        fake.fail("metaAndAssetCtxs", status=503, body="")
        assert len(HyperliquidAdapter(fake.url).snapshot_open_interest()) == 5
        assert len(fake.calls("metaAndAssetCtxs")) == 2

    def test_persistent_429_is_rate_limited(self, fake: FakeHyperliquid) -> None:
        fake.fail("meta", status=429, body="null", headers={"Retry-After": "0"}, times=10)
        with pytest.raises(http.RateLimited, match=r"Hyperliquid is rate limiting this server \(HTTP 429\)"):
            HyperliquidAdapter(fake.url).listing()

    def test_a_string_time_is_a_422_sentence(self, fake: FakeHyperliquid) -> None:
        """HL answers a time sent as a string with 422; it is not retried and reads as a sentence."""
        body = {"type": "fundingHistory", "coin": "BTC", "startTime": "1704290400000"}
        with pytest.raises(http.UpstreamError, match=f"rejected the request \\(HTTP 422\\): {DESERIALIZE}"):
            HyperliquidAdapter(fake.url).info(body)
        assert fake.calls("fundingHistory") == [body]

    def test_truncated_and_malformed_bodies(self, fake: FakeHyperliquid) -> None:
        fake.fail("meta", status=200, body='{"universe": [{"na', truncate=True, times=3)
        with pytest.raises(http.BadPayload, match="truncated answer for /info"):
            HyperliquidAdapter(fake.url).listing()
        fake.reset()
        fake.fail("meta", status=200, body="{not json")
        with pytest.raises(http.BadPayload, match="malformed answer for /info"):
            HyperliquidAdapter(fake.url).listing()

    def test_timeout(self, fake: FakeHyperliquid) -> None:
        fake.fail("meta", status=200, body="{}", delay=1.5, times=3)
        with pytest.raises(http.Unavailable, match=r"did not answer within 0\.5 s"):
            HyperliquidAdapter(fake.url, timeout=0.5).listing()

    def test_errors_are_source_errors(self, fake: FakeHyperliquid) -> None:
        """Whatever fails reaches the app as a SourceError (a sentence), never a requests exception."""
        fake.fail("meta", status=500, body="oops", times=10)
        with pytest.raises(SourceError):
            HyperliquidAdapter(fake.url).listing()
