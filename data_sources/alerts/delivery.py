"""Sending alerts without ever holding up ingestion: a bounded queue drained by one background thread.

`Dispatcher.submit` only enqueues (a full queue drops the alert and records it as failed). The
worker thread POSTs `{"text": message, "content": message}` to the rule's webhook (Slack reads
`text`, Discord `content`) through a `requests.Session` whose urllib3 `Retry` retries connection
errors, timeouts, 429 and 5xx with exponential backoff, sends to the rule's Apprise `notify` URL,
and stores the outcome (`SentAlert`: delivered, or failed and why). Webhook and Apprise URLs are
secrets: logs and stored reasons show them masked (`https://hooks.example/***`).
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from data_sources.alerts.evaluator import Alert
from data_sources.alerts.rules import MASK, mask
from data_sources.base import SourceError
from data_sources.store import LiquidationStore, SentAlert

log = logging.getLogger("liqscope.alerts")
RETRY_STATUSES = (429, 500, 502, 503, 504)


@dataclass(frozen=True)
class Delivery:
    """How hard to try: `tries` per webhook POST (urllib3 Retry, backoff `backoff` s doubling between tries),
    `connect` / `read` timeouts in seconds per try, `queue_size` alerts waiting at most, and how long `close`
    waits for the queue to drain (seconds)."""

    tries: int = 4
    backoff: float = 1.0
    connect: float = 3.0
    read: float = 10.0
    queue_size: int = 100
    drain: float = 10.0


def scrub(text: str, url: str) -> str:
    """`text` with `url`, its path and its query (where webhook tokens live) replaced by the masked form."""
    parts = urlsplit(url)
    text = text.replace(url, mask(url))
    path_query = parts.path + (f"?{parts.query}" if parts.query else "")
    for secret in sorted({path_query, parts.path, parts.query, parts.password or ""}, key=len, reverse=True):
        if len(secret) > 1:
            text = text.replace(secret, f"/{MASK}")
    return text


def _session(settings: Delivery) -> requests.Session:
    """A session retrying POSTs on connection errors, read timeouts, 429 and 5xx (Retry-After honoured)."""
    retry = Retry(
        total=settings.tries - 1,
        backoff_factor=settings.backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None,  # POST too: a receiver dedups nothing, but a lost alert is worse than a repeat
        raise_on_status=False,
    )
    session = requests.Session()
    for scheme in ("http://", "https://"):
        session.mount(scheme, HTTPAdapter(max_retries=retry))
    return session


class Dispatcher:
    """The background sender: `submit` alerts from the writer's loop, `close` on shutdown."""

    def __init__(self, store: LiquidationStore, public_url: str, settings: Delivery | None = None) -> None:
        self.store, self.public_url = store, public_url
        self.settings = settings or Delivery()
        self.queue: queue.Queue[Alert | None] = queue.Queue(maxsize=self.settings.queue_size)
        self.session = _session(self.settings)
        self.thread = threading.Thread(target=self._work, name="liqscope-alerts", daemon=True)
        self.thread.start()

    def submit(self, alert: Alert) -> None:
        """Queue `alert` for sending; never blocks (a full queue drops it, logged and stored as failed)."""
        try:
            self.queue.put_nowait(alert)
        except queue.Full:
            why = f"dropped: {self.settings.queue_size} alerts were already waiting to be sent"
            log.warning("alert %r %s", alert.rule.name, why)
            self._record(alert, why)

    def close(self) -> None:
        """Let the worker finish what is queued, waiting at most `drain` seconds (it is a daemon thread)."""
        try:
            self.queue.put(None, timeout=self.settings.drain)
        except queue.Full:
            return
        self.thread.join(timeout=self.settings.drain)

    def _work(self) -> None:
        while (alert := self.queue.get()) is not None:
            try:
                outcome = self.deliver(alert)
            except Exception as error:  # the worker outlives any one alert; the text names the type, no URL
                log.warning("alert %r not delivered: %s", alert.rule.name, type(error).__name__)
                outcome = f"not delivered ({type(error).__name__})"
            self._record(alert, outcome)

    def deliver(self, alert: Alert) -> str:
        """Send `alert` to its webhook and its notify URL; "" when every one took it, else why not (masked)."""
        message = alert.message(self.public_url)
        failures = []
        if alert.rule.webhook:
            failures.append(self._post(alert.rule.webhook, message))
        if alert.rule.notify:
            failures.append(self._notify(alert.rule.notify, alert.rule.name, message))
        reasons = "; ".join(reason for reason in failures if reason)
        if reasons:
            log.warning("alert %r not delivered: %s", alert.rule.name, reasons)
        return reasons

    def _post(self, url: str, message: str) -> str:
        """POST the message as JSON; "" on a 2xx, else the masked reason."""
        timeout = (self.settings.connect, self.settings.read)
        try:
            response = self.session.post(url, json={"text": message, "content": message}, timeout=timeout)
        except requests.RequestException as error:
            return f"webhook {mask(url)} failed after {self.settings.tries} tries: {scrub(str(error), url)}"
        if response.ok:
            return ""
        tried = f" after {self.settings.tries} tries" if response.status_code in RETRY_STATUSES else ""
        return f"webhook {mask(url)} answered HTTP {response.status_code}{tried}"

    def _notify(self, url: str, title: str, message: str) -> str:
        """Send through Apprise; "" when it reports success."""
        import apprise  # loaded only when a rule uses it

        sender = apprise.Apprise()
        sender.add(url)
        try:
            sent = sender.notify(body=message, title=title)
        except Exception as error:  # a plugin's own failure: reported like a refusal, never raised into the worker
            return f"notify {mask(url)} failed: {scrub(str(error), url)}"
        return "" if sent else f"notify {mask(url)} was not delivered (Apprise reported a failure)"

    def _record(self, alert: Alert, error: str) -> None:
        """Store the outcome; a store failure is logged (the alert itself has been sent or not already)."""
        sent = SentAlert(
            alert.rule.name,
            alert.fired_ms,
            alert.usd,
            alert.rule.side,
            alert.rule.window,
            alert.exchanges,
            alert.assets,
            "failed" if error else "delivered",
            error,
        )
        try:
            self.store.record_alert(sent)
        except SourceError as failure:
            log.warning("alert %r could not be stored: %s", alert.rule.name, failure)
