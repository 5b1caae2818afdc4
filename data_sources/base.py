"""The interface every upstream implements, and the errors it may raise.

A source answers one question: the normalized frame (see `schema`) of one dataset
for one asset on one exchange over [start, end) at one bar interval. Pages and
components never see which source answered; they see frames and a status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import pandas as pd

from data_sources.schema import Dataset
from data_sources.universe import Ranking, Universe


@dataclass(frozen=True)
class Query:
    """One request: [start, end) in UTC, bar `interval` from `intervals.INTERVALS`."""

    asset: str
    exchange: str
    start: pd.Timestamp
    end: pd.Timestamp
    interval: str


def ms(ts: pd.Timestamp) -> int:
    """A UTC timestamp as integer epoch milliseconds (what every exchange API takes)."""
    return int(ts.value // 1_000_000)


def from_ms(values: object) -> pd.Series:
    """Epoch milliseconds (numbers or numeric strings, as exchanges send them) as UTC timestamps."""
    return pd.to_datetime(pd.to_numeric(pd.Series(values)), unit="ms", utc=True).astype("datetime64[ms, UTC]")


Margin = Literal["linear", "inverse"]


@dataclass(frozen=True)
class Instrument:
    """One perpetual on one venue, with the units of its raw prices and sizes (see `instruments`)."""

    exchange: str
    symbol: str
    asset: str
    margin: Margin
    quote: str
    contract_size: float
    multiplier: float
    status: str

    @property
    def trading(self) -> bool:
        """Whether the venue trades it now."""
        return self.status == "trading"


class SourceError(Exception):
    """A source could not answer; `str(error)` is a sentence a user can act on."""


class NoCoverage(SourceError):
    """The source does not hold this dataset for this window (history limits, no feed)."""


class MarketSource(Protocol):
    """What every upstream implements."""

    name: str
    simulated: bool

    def fetch(self, dataset: Dataset, query: Query) -> pd.DataFrame:
        """The normalized frame for `dataset` and `query`; raises SourceError."""
        ...

    def universe(self, exchanges: tuple[str, ...]) -> Universe:
        """Every coin listed on `exchanges` and how many perpetuals; never raises (notes say what failed)."""
        ...

    def top_assets(self, exchanges: tuple[str, ...], n: int) -> Ranking:
        """The `n` coins with the most open interest on `exchanges`; never raises (notes say what failed)."""
        ...
