"""The benchmark's quick mode (`bench.run.QUICK` sizes) runs end to end, so it cannot rot. No timing is asserted
here."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

SCENARIOS = (
    "overview, 7 assets x 3 exchanges, 1 d: cold script",
    "asset, 7 assets x 3 exchanges, 1 d: warm script",
    "exchange, 7 assets x 3 exchanges, 1 d: most points in a trace; figure JSON",
    "naive overview (sequential, no cache), 1 d",
    "liqscope cold / naive cold, 1 d",
    "concurrent identical overview sessions",
    "overview in headless Chromium",
    "peak RSS after 3 distinct filter combinations",
    "recorder ingest, 1,000 events from a local WebSocket replay, SQLite",
    "recorder ingest, 1,000 events from a local WebSocket replay, PostgreSQL",
    "store: whole-market aggregates over 2 days of rollups, SQLite",
    "store: whole-market aggregates over 2 days of rollups, PostgreSQL",
    "load drill, 2 concurrent store-only sessions x 3 pages, PostgreSQL: script time per view p50 / p95",
)


def test_quick_benchmark_prints_every_scenario() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--delay", "0.02"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    table = run.stdout
    for scenario in SCENARIOS:
        assert scenario in table, scenario
    warm = next(line for line in table.splitlines() if "overview" in line and "upstream requests cold / warm" in line)
    assert " / 0 " in warm, warm
    shared = next(line for line in table.splitlines() if "concurrent identical overview sessions" in line)
    assert "= 1.00" in shared, shared
    drill = next(line for line in table.splitlines() if "load drill" in line and "upstream requests" in line)
    assert drill.split()[-3:] == ["0", "0", "met"], drill
    rendered = next(line for line in table.splitlines() if "load drill" in line and "views rendered" in line)
    assert " 6 / 6 " in rendered, rendered
