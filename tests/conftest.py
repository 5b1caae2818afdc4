"""Shared test setup: no test may reach the internet, and caches start empty."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from data_sources import budgets, market, registry
from data_sources.venues import VENUES
from tests.fake_exchanges import FAKED, UNREACHABLE, FakeExchanges
from tests.postgres import PostgresServer, binaries, postgres_server

ROOT = Path(__file__).resolve().parent.parent
_real_connect = socket.socket.connect


def _is_loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        host = address[0]
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False
    return isinstance(address, (str, bytes))  # AF_UNIX paths


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_loopback(address):
        raise RuntimeError(f"Tests must not open non-loopback sockets (tried {address!r}).")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that connects anywhere but 127.0.0.1 / ::1."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with empty caches, unspent request budgets, and the demo source unless it says otherwise."""
    monkeypatch.delenv("LIQSCOPE_DATA", raising=False)
    for venue in VENUES:  # venues `fake_exchanges` does not serve: unreachable unless a test points them at a fake
        if venue.id not in FAKED:
            monkeypatch.setenv(venue.module.URL_SETTING, UNREACHABLE)
    market.clear_cache()
    budgets.use(budgets.Budgets()).close()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeExchanges]:
    """One loopback fake Binance/OKX/Bybit server per test module (`fake_exchanges.FAKED`)."""
    with FakeExchanges() as server:
        yield server


@pytest.fixture()
def exchanges(fake: FakeExchanges, monkeypatch: pytest.MonkeyPatch) -> FakeExchanges:
    """The fake, with requests and faults reset, and every LIQSCOPE_*_URL pointing at it."""
    fake.reset()
    for venue in VENUES:
        if venue.id in FAKED:
            monkeypatch.setenv(venue.module.URL_SETTING, fake.url)
    registry.clear()
    return fake


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the whole run, from Debian's installed binaries."""
    bin_dir = binaries()
    if bin_dir is None:
        if os.environ.get("CI"):
            raise RuntimeError("PostgreSQL is missing; .ci/run installs Debian's postgresql.")
        pytest.skip("PostgreSQL not installed (apt-get install -y postgresql)")
    with postgres_server(bin_dir) as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store location: a SQLite file path, or the URL of a new PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return request.getfixturevalue("postgres").database()
