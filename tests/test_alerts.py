"""Alerts: the rules file is checked with its line, the recorder fires each rule once per window with the right USD
through a loopback webhook receiver (and Apprise), a failing or hanging receiver is retried without holding up
ingestion, the outcomes land in both stores, and the Alerts page lists rules and sent alerts."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from components import filters
from data_sources import storage
from data_sources.alerts import Alerts, Delivery, RuleError, evaluator
from data_sources.alerts.rules import load, mask, parse
from data_sources.recorder import Recorder
from data_sources.store import SentAlert
from data_sources.venues.binance import BinanceStream
from tests.conftest import ROOT
from tests.fake_hooks import FakeHooks
from tests.fake_streams import FakeStream, FakeStreams, binance_message, listed
from tests.test_recorder import record_until

T0 = 1_763_900_000_000  # 2025-11-23 12:13:20 UTC
TRACKED = frozenset({"BTC", "ETH"})
PUBLIC = "https://liq.example/app"
GOOD = """\
[[rule]]
name = "ETH long squeeze"
side = "long"
usd_over = 5_000_000
window = "5m"
exchanges = ["Binance", "okx"]
assets = ["eth"]
webhook = "https://hooks.example/services/T000/SECRET"
"""


def rule_toml(name: str, webhook: str = "", notify: str = "", **keys: object) -> str:
    lines = [f'name = "{name}"', *(f"{k} = {v!r}".replace("'", '"') for k, v in keys.items())]
    lines += [f'webhook = "{webhook}"'] if webhook else []
    lines += [f'notify = "{notify}"'] if notify else []
    return "[[rule]]\n" + "\n".join(lines) + "\n"


class TestRulesFile:
    def test_a_good_file_reads_ids_in_any_case(self) -> None:
        (rule,) = parse(GOOD, "alerts.toml")
        assert (rule.side, rule.usd_over, rule.window_ms) == ("long", 5e6, 300_000)
        assert rule.exchanges == {"binance", "okx"} and rule.assets == {"ETH"}
        assert "SECRET" not in repr(rule)

    @pytest.mark.parametrize(
        ("text", "line", "why"),
        [
            (GOOD.replace('window = "5m"', 'window = "5m'), 5, "not valid TOML"),
            (GOOD.replace('side = "long"', 'side = "long"\ntreshold = 3'), 4, "unknown key 'treshold'"),
            (GOOD.replace('"long"', '"both"'), 3, "side is 'both'"),
            (GOOD.replace("5_000_000", "0"), 4, "usd_over must be a positive USD amount"),
            (GOOD.replace("5_000_000", '"5M"'), 4, "usd_over must be a positive USD amount"),
            (GOOD.replace('"5m"', '"5 minutes"'), 5, "window is '5 minutes'"),
            (GOOD.replace('"okx"', '"ftx"'), 6, "unknown exchange id ftx"),
            (GOOD.replace('name = "ETH long squeeze"\n', ""), 1, "[[rule]] #1: has no name"),
            ("# alerts\n\n" + GOOD.replace('webhook = "https://hooks.example/services/T000/SECRET"\n', ""), 3,
             "neither a webhook nor a notify URL"),
            (GOOD.replace("https://hooks", "ftp://hooks"), 8, "webhook must be an http:// or https:// URL"),
            (GOOD + "\n" + GOOD, 11, "a second rule named 'ETH long squeeze'"),
            (GOOD + "\n[[rules]]\nname = 'x'\n", 10, "unknown table or key 'rules'"),
            (GOOD + rule_toml("tg", notify="nosuchscheme://x/y", usd_over=1, window="1h"), 13,
             "Apprise does not accept"),
        ],
    )  # fmt: skip
    def test_a_bad_file_is_refused_with_its_line_and_why(self, text: str, line: int, why: str) -> None:
        with pytest.raises(RuleError) as refused:
            parse(text, "/etc/liqscope/alerts.toml")
        message = str(refused.value)
        assert message.startswith(f"/etc/liqscope/alerts.toml, line {line}: "), message
        assert why in message and "SECRET" not in message

    def test_a_missing_file_names_the_setting(self, tmp_path: Path) -> None:
        with pytest.raises(RuleError, match=r"cannot read the alert rules .* set LIQSCOPE_ALERTS"):
            load(tmp_path / "nope.toml")

    @pytest.mark.parametrize("module", ["data_sources.recorder", "data_sources.collector"])
    def test_the_writer_refuses_a_bad_file_at_start_without_a_traceback(self, tmp_path: Path, module: str) -> None:
        rules = tmp_path / "alerts.toml"
        rules.write_text(GOOD.replace('"5m"', '"5x"'))
        env = {**os.environ, "LIQSCOPE_ALERTS": str(rules), "LIQSCOPE_DB": str(tmp_path / "l.db")}
        done = subprocess.run(
            [sys.executable, "-m", module], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2
        assert f"error: {rules}, line 5: rule 'ETH long squeeze': window is '5x'" in done.stderr
        assert "Traceback" not in done.stderr and not (tmp_path / "l.db").exists()


def test_links_use_the_app_url_parameters() -> None:
    """The writer builds dashboard links without Streamlit; its parameter names are the app's."""
    assert (evaluator.RANGE, evaluator.ASSETS, evaluator.EXCHANGES, evaluator.UNTIL) == (
        filters.RANGE_KEY,
        filters.ASSETS_KEY,
        filters.EXCHANGES_KEY,
        filters.UNTIL_KEY,
    )
    assert evaluator.UNTIL_FORMAT == filters.UNTIL_FORMAT


def script() -> list[str]:
    """150 s of Binance pushes, one second apart: ETH longs $10K each second, ETH shorts $50K every 10 s and BTC longs
    $20K every 5 s (in event-time order)."""
    messages = []
    for i in range(150):
        ts = T0 + i * 1000
        messages.append(binance_message("ETHUSDT", "SELL", 2000.0, 5, ts))
        if i % 10 == 0:
            messages.append(binance_message("ETHUSDT", "BUY", 2000.0, 25, ts + 1))
        if i % 5 == 0:
            messages.append(binance_message("BTCUSDT", "SELL", 40_000.0, 0.5, ts + 2))
    return messages


def test_rules_fire_once_per_window_with_the_right_usd(db_target: str) -> None:
    """ETH longs over $100K in 1m: 11 s in ($110K), then once per minute of event time ($600K each); the whole of
    Binance over $2M in 1h: once, at 103 s ($2.01M), through Apprise; BTC shorts: never."""
    rules_text = (
        rule_toml("ETH longs", "{hook}/hook/T000/SECRET", side="long", usd_over=100_000, window="1m", assets=["ETH"])
        + rule_toml("Binance", notify="{json}/notify", side="any", usd_over=2_000_000, window="1h",
                    exchanges=["BINANCE"])
        + rule_toml("BTC shorts", "{hook}/hook/quiet", side="short", usd_over=1, window="1h", assets=["BTC"])
    )  # fmt: skip
    messages = script()
    with FakeHooks() as hooks, FakeStreams([FakeStream("binance", messages)]) as streams:
        text = rules_text.replace("{hook}", hooks.url("")).replace("{json}", hooks.url("", "json"))
        rules = parse(text, "alerts.toml")
        store = storage.connect(db_target)
        alerts = Alerts(rules, store, PUBLIC, Delivery(backoff=0.01))
        stream = BinanceStream(streams.streams["binance"].url, listed("binance"), TRACKED)
        recorder = Recorder(store, [stream], flush_every=0.1, alerts=alerts)
        asyncio.run(record_until(recorder, lambda: recorder.committed >= len(messages)))
        alerts.close()
    sent = store.sent_alerts(10)
    store.close()
    posts = hooks.at("/hook/T000/SECRET")
    assert [p.body["text"].split(" liquidated")[0] for p in posts] == [
        "ETH longs: $110K of longs",
        "ETH longs: $600K of longs",
        "ETH longs: $600K of longs",
    ]
    assert all(p.body["content"] == p.body["text"] for p in posts)
    first = posts[0].body["text"]
    assert "within 1m (to 2025-11-23 12:13:30 UTC) on Binance; coins: ETH." in first
    assert first.endswith(f"{PUBLIC}/?range=2025-11-23&assets=ETH&until=2025-11-23T12%3A14Z")
    (notified,) = hooks.at("/notify")
    assert notified.body["title"] == "Binance"
    assert notified.body["message"].startswith("Binance: $2.01M of longs and shorts liquidated within 1h")
    assert "on Binance; coins: ETH, BTC." in notified.body["message"]
    assert not hooks.at("/hook/quiet")
    rows = sent.sort_values("fired_at")
    assert list(rows["rule"]) == ["ETH longs", "ETH longs", "Binance", "ETH longs"]
    assert list(rows["usd"]) == [110_000, 600_000, 2_010_000, 600_000]
    assert list(rows["fired_at"]) == [pd.Timestamp(T0 + s * 1000, unit="ms", tz="UTC") for s in (10, 70, 103, 130)]
    assert set(rows["status"]) == {"delivered"} and set(rows["error"]) == {""}
    assert list(rows["assets"])[2] == "ETH,BTC" and set(rows["exchanges"]) == {"binance"}


def test_a_failing_receiver_is_retried(tmp_path: Path) -> None:
    """Two 500s, then 200: one alert, three POSTs, stored as delivered."""
    messages = [binance_message("ETHUSDT", "SELL", 2000.0, 5, T0 + i) for i in range(5)]
    with FakeHooks(statuses=[500, 500]) as hooks, FakeStreams([FakeStream("binance", messages)]) as streams:
        rules = parse(rule_toml("ETH", hooks.url("/hook"), usd_over=40_000, window="1h"), "alerts.toml")
        store = storage.connect(tmp_path / "l.db")
        alerts = Alerts(rules, store, PUBLIC, Delivery(backoff=0.01))
        stream = BinanceStream(streams.streams["binance"].url, listed("binance"), TRACKED)
        recorder = Recorder(store, [stream], flush_every=0.1, alerts=alerts)
        asyncio.run(record_until(recorder, lambda: recorder.committed >= 5))
        alerts.close()
    assert len(hooks.at("/hook")) == 3
    assert store.sent_alerts(5)[["usd", "status"]].values.tolist() == [[50_000, "delivered"]]


def test_a_hanging_receiver_never_stalls_ingestion(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The receiver answers nothing for 5 s (the client gives up after 3 s, twice): every event is still committed
    as it arrives while the alert is retried in the background; it ends stored as failed, the secret path masked."""
    messages = [binance_message("ETHUSDT", "SELL", 2000.0, 5, T0 + i * 10) for i in range(200)]
    caplog.set_level(logging.WARNING, logger="liqscope.alerts")
    with (
        FakeHooks(hang=5.0) as hooks,
        FakeStreams([FakeStream("binance", messages, interval=0.005)]) as streams,
    ):
        rules = parse(rule_toml("ETH", hooks.url("/hook/T000/SECRET"), usd_over=1, window="1h"), "alerts.toml")
        store = storage.connect(tmp_path / "l.db")
        alerts = Alerts(rules, store, PUBLIC, Delivery(tries=2, backoff=0.01, read=3.0))
        stream = BinanceStream(streams.streams["binance"].url, listed("binance"), TRACKED)
        recorder = Recorder(store, [stream], flush_every=0.1, alerts=alerts)
        started = time.monotonic()
        asyncio.run(record_until(recorder, lambda: recorder.committed >= 200, timeout=10))
        took = time.monotonic() - started
        assert recorder.committed == 200 and took < 4, took  # the stream takes ~1 s; delivery takes 6+ s
        assert store.sent_alerts(5).empty  # still being retried
        alerts.close()
    assert len(hooks.at("/hook/T000/SECRET")) == 2
    (row,) = store.sent_alerts(5).itertuples()
    assert row.status == "failed" and "webhook http://127.0.0.1" in row.error and "timed out" in row.error
    logged = caplog.text
    assert "not delivered" in logged
    assert "SECRET" not in row.error + logged


def test_the_alerts_page_lists_a_rule_and_a_sent_alert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    rules = tmp_path / "alerts.toml"
    rules.write_text(GOOD)
    db = tmp_path / "l.db"
    store = storage.connect(db)
    store.record_alert(
        SentAlert("ETH long squeeze", T0, 5_210_000.0, "long", "5m", ("binance", "okx"), ("ETH",), "delivered")
    )
    store.close()
    monkeypatch.setenv("LIQSCOPE_ALERTS", str(rules))
    monkeypatch.setenv("LIQSCOPE_DB", str(db))
    monkeypatch.setenv("LIQSCOPE_DATA", "demo")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("app_pages/alerts.py").run()
    assert not at.exception, at.exception
    listed_rules, sent = (frame.value for frame in at.dataframe)
    assert listed_rules.to_dict("records") == [
        {
            "rule": "ETH long squeeze",
            "side": "long",
            "over": "$5.00M",
            "within": "5m",
            "exchanges": "Binance, OKX",
            "assets": "ETH",
            "webhook": "https://hooks.example/***",
            "notify": "",
        }
    ]
    assert sent[["rule", "usd", "exchanges", "status"]].values.tolist() == [
        ["ETH long squeeze", "$5.21M", "Binance, OKX", "delivered"]
    ]


def test_a_reconnect_overlap_counts_once(tmp_path: Path) -> None:
    """The stream drops after 10 pushes and replays the last 4 on reconnect: 20 ETH longs of $10K are $200K, so a
    rule over $190K fires with $200K and one over $200K does not (counting the replay would make $240K)."""
    messages = [binance_message("ETHUSDT", "SELL", 2000.0, 5, T0 + i * 1000) for i in range(20)]
    fake = FakeStream("binance", messages, interval=0.01, drop_after=10, overlap=4)
    with FakeHooks() as hooks, FakeStreams([fake]) as streams:
        text = rule_toml("over 190K", hooks.url("/a"), usd_over=190_000, window="1h") + rule_toml(
            "over 200K", hooks.url("/b"), usd_over=200_000, window="1h"
        )
        store = storage.connect(tmp_path / "l.db")
        alerts = Alerts(parse(text, "alerts.toml"), store, PUBLIC, Delivery(backoff=0.01))
        stream = BinanceStream(streams.streams["binance"].url, listed("binance"), TRACKED)
        recorder = Recorder(store, [stream], flush_every=0.1, backoff=0.2, alerts=alerts)
        asyncio.run(record_until(recorder, lambda: recorder.committed >= 20 and fake.sent >= 20))
        alerts.close()
    assert fake.connections == 2
    assert store.sent_alerts(5)[["rule", "usd"]].values.tolist() == [["over 190K", 200_000]]
    assert len(hooks.at("/a")) == 1 and not hooks.at("/b")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("tgram://123456:ABCDEFSECRET/987654", "tgram://***"),  # Telegram's bot token holds a colon: no port
        ("foo://bot:SECRETTOKEN/chat", "foo://***"),
        ("https://user:pw@hooks.example:8443/T0/SECRET?x=1", "https://hooks.example:8443/***"),
        ("no scheme at all", "***"),
    ],
)
def test_masking_never_raises_and_keeps_no_secret(url: str, shown: str) -> None:
    assert mask(url) == shown


def test_an_apprise_url_it_rejects_is_refused_with_its_line_and_no_secret() -> None:
    text = '[[rule]]\nname = "x"\nusd_over = 1\nwindow = "5m"\nnotify = "foo://bot:SECRETTOKEN/chat"\n'
    with pytest.raises(RuleError) as refused:
        parse(text, "alerts.toml")
    assert "line 5" in str(refused.value) and "SECRETTOKEN" not in str(refused.value)
