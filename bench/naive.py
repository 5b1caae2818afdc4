"""The baseline a hand-written dashboard would be: every request in sequence, nothing cached."""

from __future__ import annotations

from unittest import mock

import pandas as pd

from data_sources import paging
from data_sources.base import Query, SourceError
from data_sources.intervals import auto_interval
from data_sources.schema import ASSETS
from data_sources.venues.binance import BinanceAdapter
from data_sources.venues.bybit import BybitAdapter
from data_sources.venues.okx import OkxAdapter


def naive_overview(url: str, start: pd.Timestamp, end: pd.Timestamp) -> int:
    """Fetch what the overview shows, one request after another; returns the number of requests."""
    adapters = {"binance": BinanceAdapter(url), "okx": OkxAdapter(url), "bybit": BybitAdapter(url)}
    interval = auto_interval(start, end)
    sequential = lambda request, items: [request(item) for item in items]  # noqa: E731 (no fan-out here)
    with mock.patch.object(paging, "fan_out", sequential):
        _fetch_all(adapters, start, end, interval)
    return sum(adapter.upstream.requests_made for adapter in adapters.values())


def _fetch_all(adapters: dict, start: pd.Timestamp, end: pd.Timestamp, interval: str) -> None:
    for exchange, adapter in adapters.items():
        for asset in ASSETS:
            for dataset in ("candles", "ratios", "liquidations"):
                try:
                    adapter.fetch(dataset, Query(asset, exchange, start, end, interval))
                except SourceError:
                    continue
