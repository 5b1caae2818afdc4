"""Fixtures for tests that talk to the loopback fake exchanges."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from data_sources import registry
from data_sources.settings import Settings
from tests.fake_exchanges import FakeExchanges


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeExchanges]:
    """One fake Binance/OKX/Bybit server for the module; requests and faults reset per test."""
    with FakeExchanges() as server:
        yield server


@pytest.fixture()
def exchanges(fake: FakeExchanges, monkeypatch: pytest.MonkeyPatch) -> FakeExchanges:
    """The fake, reset, with every LIQSCOPE_*_URL pointing at it."""
    fake.reset()
    for name in ("BINANCE", "OKX", "BYBIT"):
        monkeypatch.setenv(f"LIQSCOPE_{name}_URL", fake.url)
    registry.clear()
    return fake


def settings_for(url: str, timeout: float = 5.0) -> Settings:
    """Live settings with every exchange at `url`."""
    return Settings("live", {"binance": url, "okx": url, "bybit": url}, timeout)
