"""Shared test setup: no test may reach the internet, and caches start empty."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import pytest

from data_sources import market

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
    """Every test starts with empty caches and the demo source unless it says otherwise."""
    monkeypatch.delenv("LIQSCOPE_DATA", raising=False)
    market.clear_cache()
