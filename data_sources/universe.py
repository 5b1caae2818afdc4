"""Which coins a view can offer and which few it fetches series for.

`Universe`: every coin the selected venues list (the asset selector's options) and how many
perpetuals that is ("all 412 perpetuals"). `Ranking`: the top N coins by open interest across the
selected venues, for the views that fetch one series per coin (price moves, ratio snapshot).
Both sources (live, demo) answer `universe(exchanges)` and `top_assets(exchanges, n)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from data_sources.schema import ASSETS

DEFAULT_TOP = 10
MAX_TOP = 50


@dataclass(frozen=True)
class Universe:
    """`assets`: every listed coin, majors first then A to Z; `perpetuals`: how many perpetuals list them;
    `notes`: a venue whose listing could not be read (its coins are then the majors only)."""

    assets: tuple[str, ...]
    perpetuals: int
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ranking:
    """The top coins, largest first; `basis` says what ranked them; `notes` what could not be read."""

    assets: tuple[str, ...]
    basis: str
    notes: tuple[str, ...] = ()


def order(assets: Iterable[str]) -> tuple[str, ...]:
    """Coins without repeats, the majors first (in `schema.ASSETS` order), then A to Z."""
    unique = set(assets)
    return (*(a for a in ASSETS if a in unique), *sorted(unique - set(ASSETS)))


def rank(measures: Mapping[str, Mapping[str, float]], n: int) -> tuple[str, ...]:
    """The `n` coins with the largest sum over venues of `measures[venue][coin]` (USD); ties by name."""
    totals: dict[str, float] = {}
    for per_coin in measures.values():
        for coin, usd in per_coin.items():
            totals[coin] = totals.get(coin, 0.0) + usd
    return tuple(sorted(totals, key=lambda coin: (-totals[coin], coin))[:n])
