"""The live source: the public, key-free REST APIs of Binance, OKX and Bybit."""

from __future__ import annotations

import pandas as pd

from data_sources.base import Query, SourceError
from data_sources.binance import BinanceAdapter
from data_sources.bybit import BybitAdapter
from data_sources.http import Upstream
from data_sources.okx import OkxAdapter
from data_sources.schema import Dataset
from data_sources.settings import Settings

PROBE_PATHS = {"binance": "/fapi/v1/time", "okx": "/api/v5/public/time", "bybit": "/v5/market/time"}


class LiveSource:
    """Dispatches each query to its exchange's adapter."""

    name = "live"
    simulated = False

    def __init__(self, settings: Settings) -> None:
        urls, timeout = settings.base_urls, settings.timeout
        self.adapters = {
            "binance": BinanceAdapter(urls["binance"], timeout),
            "okx": OkxAdapter(urls["okx"], timeout),
            "bybit": BybitAdapter(urls["bybit"], timeout),
        }

    def upstream(self, exchange: str) -> Upstream:
        """The REST host behind an exchange (for probes and request counts)."""
        return self.adapters[exchange].upstream

    def fetch(self, dataset: Dataset, query: Query) -> pd.DataFrame:
        """The normalized frame from the exchange's adapter; raises a typed SourceError."""
        adapter = self.adapters.get(query.exchange)
        if adapter is None:
            raise SourceError(f"liqscope has no adapter for exchange {query.exchange!r}.")
        return adapter.fetch(dataset, query)

    def probe(self, exchange: str) -> str | None:
        """None when the exchange answers its server-time endpoint, else the reason it did not."""
        try:
            self.upstream(exchange).get_json(PROBE_PATHS[exchange], {})
        except SourceError as error:
            return str(error)
        return None
