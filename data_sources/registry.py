"""Which source answers, chosen from the settings; one line per source."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from data_sources.base import MarketSource
from data_sources.demo import SEED_DAY, DemoSource
from data_sources.settings import Settings


@dataclass(frozen=True)
class SourceChoice:
    """The active source and the calendar it covers (for the date filter)."""

    source: MarketSource
    first_day: date | None
    last_day: date
    default_day: date
    banner: str | None = None


_DEMO = DemoSource()


def choose(settings: Settings) -> SourceChoice:
    """The source for `settings.data_mode`; the demo until live adapters land."""
    banner = None
    if settings.data_mode != "demo":
        banner = "Live exchange adapters are not part of this build yet, so the built-in demo market is shown."
    return SourceChoice(
        source=_DEMO,
        first_day=_DEMO.first_day.date(),
        last_day=_DEMO.last_day.date(),
        default_day=SEED_DAY.date(),
        banner=banner,
    )
