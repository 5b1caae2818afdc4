"""Peak RSS of one process after rendering the overview for N distinct filter combinations.

Run as `python -m bench.rss N`; prints the peak resident set size in MB on the last line.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from data_sources.schema import ASSETS
from tests.fake_exchanges import FAKED, venue_urls

ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM; getrusage's ru_maxrss would include the parent's, kept across exec)."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def combinations(n: int) -> list[dict[str, list[str]]]:
    """N distinct (range, assets, exchanges) filter sets within the fake market's 29 days."""
    today = pd.Timestamp.now(tz="UTC").floor("D")
    asset_sets = [list(ASSETS), ["BTC", "ETH"], ["SOL", "XRP", "DOGE"], ["ADA", "BNB"], ["ETH"]]
    exchange_sets = [list(FAKED), ["binance"], ["okx", "bybit"]]  # the venues the fake serves
    out = []
    for offset, length, assets, exchanges in itertools.product(range(0, 28, 3), (1, 3, 7), asset_sets, exchange_sets):
        first = today - pd.Timedelta(days=offset + length - 1)
        out.append(
            {
                "range": [f"{first:%Y-%m-%d}", f"{today - pd.Timedelta(days=offset):%Y-%m-%d}"],
                "assets": assets,
                "exchanges": exchanges,
            }
        )
    return out[:: max(1, len(out) // n)][:n]


def main() -> None:
    """Render N combinations against a zero-delay fake (its own process); print this process's peak RSS (MB)."""
    n = int(sys.argv[1])
    fake = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_exchanges"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = fake.stdout.readline().strip()
        os.environ.update(
            {
                "LIQSCOPE_DATA": "live",
                "LIQSCOPE_DB": "/nonexistent/liqscope.db",
                **venue_urls(url),
            }
        )
        for params in combinations(n):
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
            at.query_params.update(params)
            at.run()
            if at.exception:
                raise SystemExit(f"overview raised for {params}: {at.exception}")
    finally:
        fake.stdin.close()
        fake.wait(timeout=20)
    print(peak_rss_mb())


if __name__ == "__main__":
    main()
