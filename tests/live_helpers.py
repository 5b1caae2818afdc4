"""Helpers for tests that talk to the loopback fake exchanges."""

from __future__ import annotations

from data_sources.settings import Settings


def settings_for(url: str, timeout: float = 5.0, db_path: str = "/nonexistent/liqscope.db") -> Settings:
    """Live settings with every exchange at `url` (and, by default, no recorder store)."""
    return Settings("live", {"binance": url, "okx": url, "bybit": url}, timeout, db_path=db_path)
