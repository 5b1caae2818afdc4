"""Helpers for tests that talk to the loopback fake exchanges."""

from __future__ import annotations

from data_sources.settings import Settings


def settings_for(url: str, timeout: float = 5.0) -> Settings:
    """Live settings with every exchange at `url`."""
    return Settings("live", {"binance": url, "okx": url, "bybit": url}, timeout)
