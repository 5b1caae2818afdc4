"""Alerts, run by the writing process (recorder or collector) on the liquidations it stores.

`rules` reads and checks the TOML file named by LIQSCOPE_ALERTS; `evaluator` keeps each rule's
rolling USD sum over its window (event time) and fires at most once per window; `delivery` sends in
a background thread (webhook POST with retries, Apprise) and stores what was sent; `sent` reads that
back for the app's Alerts page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from data_sources import settings as settings_module
from data_sources import storage
from data_sources.alerts.delivery import Delivery, Dispatcher
from data_sources.alerts.evaluator import Alert, Evaluator
from data_sources.alerts.rules import Rule, RuleError, load, mask
from data_sources.store import Event, LiquidationStore

__all__ = ["Alert", "Alerts", "Delivery", "Rule", "RuleError", "configured", "mask", "sent"]


class Alerts:
    """The rules evaluated on every stored batch (`observe`, cheap: it only enqueues what fires) and sent in the
    background; `close` on shutdown."""

    def __init__(
        self, rules: Sequence[Rule], store: LiquidationStore, public_url: str, delivery: Delivery | None = None
    ) -> None:
        self.evaluator = Evaluator(rules)
        self.dispatcher = Dispatcher(store, public_url, delivery)

    def observe(self, events: Iterable[Event]) -> None:
        """Count stored events toward the rules and queue every alert they fire."""
        for alert in self.evaluator.observe(events):
            self.dispatcher.submit(alert)

    def close(self) -> None:
        """Send what is queued (waiting a bounded time) and stop the sender."""
        self.dispatcher.close()


def configured(config: settings_module.Settings) -> tuple[Rule, ...]:
    """The rules of LIQSCOPE_ALERTS, or none when it is unset. Raises RuleError for an unusable file."""
    return load(config.alerts_path) if config.alerts_path else ()


def sent(limit: int = 50, db_path: str | None = None) -> pd.DataFrame | None:
    """The latest alerts the writer stored, newest first; None when there is no store yet.

    `db_path` defaults to LIQSCOPE_DB. Raises StoreError when the store cannot be read.
    """
    target = db_path or settings_module.load().db_path
    return storage.open_store(target).sent_alerts(limit) if storage.exists(target) else None
