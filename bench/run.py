"""liqscope benchmark: speed, upstream economy, memory and scale, on loopback only.

`python -m bench [--quick] [--delay 0.1]` starts the test suite's fake exchanges
with an injected round-trip delay and prints one row per scenario: the measured
figure beside its target and beside the naive baseline measured in the same run
(`bench.naive`, `bench.ingest`, `bench.rollups`). Nothing here asserts a timing; `--quick` is the small
version CI runs so the benchmark cannot rot.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import requests
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.util import patch_config_options

from bench import rollups
from bench.ingest import naive_rate, recorder_rate
from bench.naive import naive_overview
from components.positioning import ASSUMPTION
from data_sources import market, registry, storage
from data_sources.schema import ASSETS, EXCHANGE_NAMES
from tests.fake_exchanges import FAKED, venue_urls
from tests.fake_streams import FakeStream, FakeStreams, bybit_message
from tests.postgres import binaries, postgres_server
from tests.servers import streamlit_server

ROOT = Path(__file__).resolve().parent.parent
PAGES = {"overview": None, "asset": "app_pages/asset.py", "exchange": "app_pages/exchange.py"}
CHROMIUM = Path("/usr/bin/chromium")


class RemoteExchanges:
    """The fake exchanges in their own process (as a real exchange would be), counted over loopback."""

    def __init__(self, delay: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fake_exchanges", str(delay)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = self.process.stdout.readline().strip()

    def count(self) -> int:
        """Exchange requests served since the last reset."""
        return requests.get(f"{self.url}/_fake/requests", timeout=10).json()["count"]

    def reset(self) -> None:
        """Forget the requests served so far."""
        requests.get(f"{self.url}/_fake/reset", timeout=10)

    def close(self) -> None:
        """Stop the fake's process."""
        self.process.stdin.close()
        self.process.wait(timeout=30)


@dataclass
class Row:
    """One printed figure, beside its target and the naive baseline measured in the same run."""

    scenario: str
    figure: str
    target: str = ""
    met: bool | None = None
    naive: str = ""


def _dtype_size(dtype: str) -> int:
    return int("".join(ch for ch in dtype if ch.isdigit()) or 8)


def _length(values: object) -> int:
    if isinstance(values, dict) and "bdata" in values:
        return len(base64.b64decode(values["bdata"])) // _dtype_size(values.get("dtype", "f8"))
    return len(values) if isinstance(values, list) else 0


def figure_stats(at: AppTest) -> tuple[int, int]:
    """Largest number of points in any trace, and total figure JSON bytes, on the rendered page."""
    most, size = 0, 0
    for chart in at.get("plotly_chart"):
        size += len(chart.proto.spec)
        for trace in json.loads(chart.proto.spec)["data"]:
            most = max(most, _length(trace.get("x")), _length(trace.get("z")))
    return most, size


def fresh_caches() -> None:
    """Cold start: no panel, bucket or probe cached."""
    market.clear_cache()
    registry.clear()


def window(fake: RemoteExchanges, days: int) -> list[str]:
    """The last `days` fake-time UTC days, ending today."""
    today = pd.Timestamp.now(tz="UTC").floor("D")
    return [f"{today - pd.Timedelta(days=days - 1):%Y-%m-%d}", f"{today:%Y-%m-%d}"]


def run_page(fake: RemoteExchanges, page: str, days: int) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.query_params["range"] = window(fake, days)
    at.query_params["exchanges"] = list(FAKED)
    at.run()
    if PAGES[page]:
        at.switch_page(PAGES[page]).run()
    if at.exception:
        raise RuntimeError(f"{page} raised: {at.exception}")
    return at


def timed(action: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def warm_interpreter(fake: RemoteExchanges) -> None:
    """Render every page once on another window, so 'cold' below means cold data, not cold Python."""
    today = pd.Timestamp.now(tz="UTC").floor("D")
    for page in PAGES:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        at.query_params["range"] = [f"{today - pd.Timedelta(days=20):%Y-%m-%d}"]
        at.query_params["exchanges"] = list(FAKED)
        at.run()
        if PAGES[page]:
            at.switch_page(PAGES[page]).run()


def page_rows(fake: RemoteExchanges, days_list: list[int], rtt: float) -> tuple[list[Row], dict]:
    rows, facts = [], {}
    warm_interpreter(fake)
    for days in days_list:
        naive = naive_seconds(fake, days)
        facts[("naive", days)] = naive
        for page in PAGES:
            fresh_caches()
            fake.reset()
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
            at.query_params["range"] = window(fake, days)
            at.query_params["exchanges"] = list(FAKED)
            if PAGES[page]:
                at.run()  # the frame registers pages; the page itself is timed cold below
                fresh_caches()
                fake.reset()
                cold, _ = timed(lambda at=at, page=page: at.switch_page(PAGES[page]).run())
            else:
                cold, _ = timed(at.run)
            cold_requests = fake.count()
            warm, _ = timed(at.run)
            warm_requests = fake.count() - cold_requests
            most, size = figure_stats(at)
            label = f"{page}, 7 assets x 3 exchanges, {days} d"
            facts[(page, days)] = cold_requests
            if page == "overview":
                rows.append(
                    Row(
                        f"{label}: cold script",
                        f"{cold * 1000:,.0f} ms = {cold / rtt:.1f} x RTT",
                        "<= 3 x RTT",
                        cold <= 3 * rtt,
                        f"{naive * 1000:,.0f} ms = {naive / rtt:.1f} x RTT",
                    )
                )
                rows.append(
                    Row(
                        f"{label}: warm script",
                        f"{warm * 1000:,.0f} ms",
                        "<= 150 ms",
                        warm <= 0.150,
                        f"{naive * 1000:,.0f} ms (no cache)",
                    )
                )
            else:
                rows.append(Row(f"{label}: cold script", f"{cold * 1000:,.0f} ms = {cold / rtt:.1f} x RTT"))
                rows.append(Row(f"{label}: warm script", f"{warm * 1000:,.0f} ms"))
            rows.append(
                Row(
                    f"{label}: upstream requests cold / warm",
                    f"{cold_requests} / {warm_requests}",
                    "warm = 0",
                    warm_requests == 0,
                )
            )
            rows.append(
                Row(
                    f"{label}: most points in a trace; figure JSON",
                    f"{most:,}; {size / 1024:,.0f} KiB",
                    "<= 2,000 points",
                    most <= 2000,
                )
            )
            if page == "overview":
                facts[("overview_cold", days)] = cold
    return rows, facts


def naive_seconds(fake: RemoteExchanges, days: int) -> float:
    """Seconds the naive sequential dashboard (`bench.naive`) takes for the overview of the last `days` days."""
    fake.reset()
    today = pd.Timestamp.now(tz="UTC").floor("D")
    start = today - pd.Timedelta(days=days - 1)
    seconds, _ = timed(lambda: naive_overview(fake.url, start, today + pd.Timedelta(days=1)))
    return seconds


def baseline_rows(days: int, liqscope_cold: float, naive: float) -> list[Row]:
    return [
        Row(f"naive overview (sequential, no cache), {days} d", f"{naive * 1000:,.0f} ms"),
        Row(
            f"liqscope cold / naive cold, {days} d",
            f"{liqscope_cold / naive:.2f}",
            "<= 0.2",
            liqscope_cold / naive <= 0.2,
        ),
    ]


def concurrent_rows(fake: RemoteExchanges, sessions: int, single: int) -> list[Row]:
    fresh_caches()
    fake.reset()
    errors: list[BaseException] = []

    def one() -> None:
        try:
            run_page(fake, "overview", 1)
        except BaseException as error:  # reported below, not swallowed
            errors.append(error)

    threads = [threading.Thread(target=one) for _ in range(sessions)]
    with patch_config_options({"global.appTest": True}):  # held for all sessions (see the load drill)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    total = fake.count()
    return [
        Row(
            f"{sessions} concurrent identical overview sessions: requests / one session's",
            f"{total} / {single} = {total / single:.2f}",
            "1.0",
            total == single,
        )
    ]


def browser_rows(fake: RemoteExchanges, env: dict[str, str], rtt: float, cold_script: float) -> list[Row]:
    if not CHROMIUM.exists():
        return [Row("overview in headless Chromium", "skipped: /usr/bin/chromium not installed")]
    from playwright.sync_api import sync_playwright

    venues = "".join(f"&exchanges={EXCHANGE_NAMES[e]}" for e in FAKED)  # names, as the app writes them (see README)
    url_query = f"/?range={window(fake, 1)[0]}" + venues
    with streamlit_server(env) as base:
        url = base + url_query
        rows = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            page = browser.new_page()
            for label in ("cold (first visit after server start)", "warm reload (the same tab)"):
                warm = bool(rows)
                start = time.perf_counter()
                if warm:
                    page.reload()  # the browser keeps Streamlit's static files, as on a real reload
                else:
                    page.goto(url)
                page.get_by_text("Total liquidations").first.wait_for(timeout=120_000)
                elapsed = time.perf_counter() - start
                # The lower panels keep loading after the KPIs show: let them finish (and their data be cached)
                # so the reload below is warm, and so it is not timed against a session still parsing answers.
                page.get_by_text(ASSUMPTION).first.wait_for(timeout=120_000)
                rows.append(
                    Row(
                        f"overview in headless Chromium, {label}: KPIs visible",
                        f"{elapsed * 1000:,.0f} ms",
                        "<= 1,500 ms" if warm else "",
                        elapsed <= 1.5 if warm else None,
                    )
                )
            rows += cold_view_rows(page, f"{base}/?range={window(fake, 3)[0]}{venues}", rtt, cold_script)
            page.close()
            browser.close()
        return rows


def cold_view_rows(page: object, url: str, rtt: float, cold_script: float) -> list[Row]:
    """The same tab navigated to another date whose data no cache holds (the server warm): time until the KPIs
    show (the first screen) and until the last panel (open interest and funding) has drawn its table."""
    start = time.perf_counter()
    page.goto(url)
    page.get_by_text("Total liquidations").first.wait_for(timeout=120_000)
    first = time.perf_counter() - start
    page.get_by_text(ASSUMPTION).first.wait_for(timeout=120_000)
    last = time.perf_counter() - start
    label = "overview in headless Chromium, another date (cold data, warm server)"
    script = f"(cold script {cold_script * 1000:,.0f} ms)"
    return [
        Row(
            f"{label}: KPIs visible (first screen)",
            f"{first * 1000:,.0f} ms = {first / rtt:.1f} x RTT {script}",
            "<= 3 x RTT",
            first <= 3 * rtt,
        ),
        Row(f"{label}: open interest and funding visible (last panel)", f"{last * 1000:,.0f} ms {script}"),
    ]


def rss_rows(combinations: int) -> list[Row]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.rss", str(combinations)], cwd=ROOT, capture_output=True, text=True, timeout=3600
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    peak = float(out.stdout.strip().splitlines()[-1])
    return [
        Row(f"peak RSS after {combinations} distinct filter combinations", f"{peak:,.0f} MB", "<= 600 MB", peak <= 600)
    ]


def ingest_rows(events: int, postgres: str | None) -> list[Row]:
    """The recorder's committed events/s from a local WebSocket replay, into SQLite and PostgreSQL, beside a
    row-at-a-time recorder on the same frames."""
    label = f"recorder ingest, {events:,} events from a local WebSocket replay"
    sample = min(events, 5_000)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        targets = {"SQLite": str(Path(folder) / "ingest.db"), "PostgreSQL": postgres}
        for engine, target in targets.items():
            if target is None:
                rows.append(Row(f"{label}, {engine}", "skipped: PostgreSQL not installed"))
                continue
            naive_target = target.replace("ingest", "naive") if engine == "SQLite" else postgres_database(target)
            storage.connect(naive_target).close()  # the same schema and triggers, migrated
            naive = naive_rate(naive_target, sample)
            store = storage.connect(target)
            try:
                rate = recorder_rate(store, events)
            finally:
                store.close()
            rows.append(
                Row(
                    f"{label}, {engine}",
                    f"{rate:,.0f} events/s",
                    ">= 50,000 events/s",
                    rate >= 50_000,
                    f"{naive:,.0f} events/s (row at a time)",
                )
            )
    return rows


def store_rows(days: int, postgres: str | None) -> list[Row]:
    """Whole-market daily aggregates over `days` of rollups, on SQLite and PostgreSQL, beside the sum of the
    minute rows."""
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for engine, target in {"SQLite": str(Path(folder) / "year.db"), "PostgreSQL": postgres}.items():
            label = f"store: whole-market aggregates over {days} days of rollups, {engine}"
            if target is None:
                rows.append(Row(label, "skipped: PostgreSQL not installed"))
                continue
            storage.connect(target).close()
            count = rollups.fill(target, days)
            store = storage.connect(target)
            try:
                elapsed = rollups.whole_market(store, days)
            finally:
                store.close()
            naive = rollups.naive_whole_market(target, days)
            rows.append(
                Row(
                    f"{label} ({count:,} minute rows)",
                    f"{elapsed * 1000:,.0f} ms",
                    "<= 100 ms",
                    elapsed <= 0.1,
                    f"{naive * 1000:,.0f} ms (summing minute rows)",
                )
            )
    return rows


def postgres_database(url: str) -> str:
    """Another empty database on the server of `url`."""
    name = f"bench_{time.monotonic_ns()}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + f"/{name}"


def exchange_env(fake: RemoteExchanges) -> dict[str, str]:
    """LIQSCOPE_*_URL settings: the venues the fake serves point at it; the others at a loopback port nothing
    listens on (refused at once, then turned away by `http.Upstream` for 30 s), never the internet."""
    return venue_urls(fake.url)


def live_env(fake: RemoteExchanges) -> AbstractContextManager[dict[str, str]]:
    """The live source on the fake exchanges, with no store."""
    return patched_env({"LIQSCOPE_DATA": "live", "LIQSCOPE_DB": "/nonexistent/liqscope.db", **exchange_env(fake)})


@contextmanager
def patched_env(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """`env` set in os.environ for the block (AppTest reads settings from it), then restored."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def collect_into(url: str, fake: RemoteExchanges, days: float) -> None:
    """Fill the store as a deployment's collector does: `--once` for the REST series, then its streams
    (loopback fakes sending liquidations of now) until they are committed, then SIGTERM."""
    env = {**os.environ, **exchange_env(fake), "LIQSCOPE_DB": url}
    faked = [",".join(FAKED)]  # the venues the fake serves (the others are unreachable in tests)
    once = subprocess.run(
        [sys.executable, "-m", "data_sources.collector", "--once", "--backfill", str(days), "--exchanges", *faked],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if once.returncode != 0:
        raise RuntimeError(f"collector --once failed: {once.stderr[-2000:]}")
    now_ms = int(time.time() * 1000)
    script = [
        bybit_message(
            [(f"{asset}USDT", "Buy" if i % 3 else "Sell", 100.0 + i, 1.0 + i % 5, now_ms + i) for i in range(3)]
        )
        for asset in ASSETS
        for _ in range(20)
    ]
    with FakeStreams([FakeStream("bybit", script)]) as streams:
        stream_env = {**env, **dict(streams.env())}
        recording = subprocess.Popen(
            [sys.executable, "-m", "data_sources.collector", "--datasets", "liquidations", "--exchanges", "bybit"],
            cwd=ROOT,
            env=stream_env,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and streams.streams["bybit"].sent < len(script):
            time.sleep(0.2)
        time.sleep(2)  # two flushes after the last message
        recording.send_signal(signal.SIGTERM)
        recording.wait(timeout=30)


def drill_rows(fake: RemoteExchanges, sessions: int, days: float) -> list[Row]:
    """`sessions` concurrent viewers of a store-only app on PostgreSQL, each opening the three pages, after the
    collector backfilled `days` days into it."""
    bin_dir = binaries()
    if bin_dir is None:
        return [Row("load drill", "skipped: PostgreSQL not installed")]
    label = f"load drill, {sessions} concurrent store-only sessions x 3 pages, PostgreSQL"
    with postgres_server(bin_dir) as server:
        url = server.database()
        collect_into(url, fake, days)
        fake.reset()
        fresh_caches()
        times: list[float] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def viewer() -> None:
            try:
                at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
                at.query_params["range"] = window(fake, 1)
                at.query_params["exchanges"] = list(FAKED)
                for page in PAGES.values():
                    elapsed, _ = timed(at.run if page is None else lambda page=page: at.switch_page(page).run())
                    if at.exception:
                        raise RuntimeError(f"{page or 'overview'} raised: {at.exception}")
                    with lock:
                        times.append(elapsed)
            except BaseException as error:  # reported below, not swallowed
                errors.append(error)

        # AppTest patches `global.appTest` around each run, which races between threads (one session's
        # restore switches it off under another's widgets): hold it on for the whole drill.
        store_env = {"LIQSCOPE_DATA": "store", "LIQSCOPE_DB": url, **exchange_env(fake)}
        with patched_env(store_env), patch_config_options({"global.appTest": True}):
            threads = [threading.Thread(target=viewer) for _ in range(sessions)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        if errors:
            raise errors[0]
        upstream = fake.count()
    p50, p95 = np.percentile(np.array(times) * 1000, [50, 95])
    return [
        Row(f"{label}: views rendered", f"{len(times)} / {sessions * len(PAGES)}", "all", len(times) == sessions * 3),
        Row(f"{label}: upstream requests", f"{upstream}", "0", upstream == 0),
        Row(f"{label}: script time per view p50 / p95", f"{p50:,.0f} ms / {p95:,.0f} ms"),
    ]


def print_table(rows: list[Row], rtt: float) -> None:
    print(
        f"liqscope benchmark: {machine()}, injected round trip {rtt * 1000:.0f} ms, "
        f"{pd.Timestamp.now(tz='UTC'):%Y-%m-%d %H:%M} UTC\n"
    )
    width = max(len(r.scenario) for r in rows)
    fig = max(len(r.figure) for r in rows)
    naive = max(len(r.naive) for r in [*rows, Row("", "", naive="naive baseline")])
    print(f"{'scenario':{width}}  {'measured':{fig}}  {'target':18}  {'naive baseline':{naive}}  ")
    print(f"{'-' * width}  {'-' * fig}  {'-' * 18}  {'-' * naive}  ----")
    for row in rows:
        verdict = "" if row.met is None else ("met" if row.met else "MISSED")
        print(f"{row.scenario:{width}}  {row.figure:{fig}}  {row.target:18}  {row.naive:{naive}}  {verdict}")


def machine() -> str:
    """'2 cores (AMD EPYC), 24 GiB, Python 3.11.7': what the figures were measured on."""
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown CPU")
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {memory:,.0f} GiB, Python {sys.version.split()[0]}"


@dataclass(frozen=True)
class Sizes:
    """How big each scenario is: the full benchmark, or `--quick` (what CI runs: every scenario and code path,
    PostgreSQL included, at a size that only proves it still runs; its timings mean little)."""

    days: tuple[int, ...]  # page windows, days
    sessions: int  # concurrent identical overview sessions
    drill_sessions: int  # concurrent store-only viewers in the load drill
    drill_backfill: float  # days the load drill's collector backfills
    combinations: int  # filter combinations rendered for peak RSS
    events: int  # liquidations replayed into the recorder
    rollup_days: int  # days of minute rollups the store aggregates over


FULL = Sizes(
    days=(7, 30), sessions=10, drill_sessions=20, drill_backfill=1.0, combinations=100, events=100_000, rollup_days=365
)
QUICK = Sizes(days=(1,), sessions=2, drill_sessions=2, drill_backfill=0.1, combinations=3, events=1_000, rollup_days=2)


def main(argv: list[str] | None = None) -> int:
    """Run every scenario and print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small version (CI): every scenario, small sizes")
    parser.add_argument("--delay", type=float, default=0.1, help="injected round trip, seconds (default 0.1)")
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    rows: list[Row] = []
    fake = RemoteExchanges(args.delay)
    try:
        with live_env(fake) as env:
            page, facts = page_rows(fake, list(size.days), args.delay)
            rows += page
            first = size.days[0]
            rows += baseline_rows(first, facts[("overview_cold", first)], facts[("naive", first)])
            single = facts.get(("overview", 1)) or _single_cold(fake)
            rows += concurrent_rows(fake, size.sessions, single)
            rows += browser_rows(fake, env, args.delay, facts[("overview_cold", first)])
        rows += drill_rows(fake, size.drill_sessions, size.drill_backfill)
    finally:
        fake.close()
    rows += rss_rows(size.combinations)
    bin_dir = binaries()
    with postgres_server(bin_dir) if bin_dir else nullcontext() as server:
        rows += ingest_rows(size.events, server.database() if server else None)
        rows += store_rows(size.rollup_days, server.database() if server else None)
    print_table(rows, args.delay)
    return 0


def _single_cold(fake: RemoteExchanges) -> int:
    fresh_caches()
    fake.reset()
    run_page(fake, "overview", 1)
    return fake.count()
