"""Alert rules: the `[[rule]]` tables of the TOML file named by LIQSCOPE_ALERTS, checked before anything runs.

A rule reads "more than `usd_over` USD of `side` positions liquidated within `window` on `exchanges`
(empty: every venue) for `assets` (empty: every coin)", and names where to say so: a `webhook`
(POSTed JSON) and/or an Apprise `notify` URL. Every mistake in the file is refused with the file,
the line at fault and why: tomllib's own position for a syntax error, and for a wrong value the
line of its key (or of its `[[rule]]` header when the key is missing).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from data_sources.venues import BY_ID

SIDES = ("long", "short", "any")
KEYS = ("name", "side", "usd_over", "window", "exchanges", "assets", "webhook", "notify")
WINDOW_UNITS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_WINDOW = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_RULE_HEADER = re.compile(r"^\s*\[\[\s*rule\s*\]\]")
_HEADER = re.compile(r"^\s*\[")
_KEY = re.compile(r"""^\s*["']?([A-Za-z0-9_-]+)["']?\s*=""")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)$")
MASK = "***"


class RuleError(ValueError):
    """The rules file cannot be used; the message names the file, the line and why."""


@dataclass(frozen=True)
class Rule:
    """One alert rule. `window_ms` in milliseconds (`window` as written, e.g. "5m"); `exchanges` venue ids and
    `assets` base coins, each empty for all; `webhook` and `notify` are secrets (never shown unmasked)."""

    name: str
    side: str
    usd_over: float
    window: str
    window_ms: int
    exchanges: frozenset[str] = frozenset()
    assets: frozenset[str] = frozenset()
    webhook: str | None = field(default=None, repr=False)
    notify: str | None = field(default=None, repr=False)

    def matches(self, exchange: str, asset: str, side: str) -> bool:
        """Whether a liquidation of a `side` position in `asset` on `exchange` counts toward this rule."""
        return (
            (self.side == "any" or side == self.side)
            and (not self.exchanges or exchange in self.exchanges)
            and (not self.assets or asset in self.assets)
        )


def mask(url: str | None) -> str:
    """`https://hooks.example/***` for a web URL (scheme and host; paths, queries and user info carry the
    secret); `tgram://***` for any other Apprise URL, whose "host" is often the token itself. Never raises."""
    if not url:
        return ""
    scheme, _, rest = url.partition("://")
    if not rest:
        return MASK
    if scheme.lower() not in ("http", "https"):
        return f"{scheme}://{MASK}"
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}/{MASK}"


def window_ms(text: str) -> int | None:
    """`30s`, `5m`, `1h`, `1d` in milliseconds; None when malformed or zero."""
    match = _WINDOW.match(text)
    if not match or int(match.group(1)) == 0:
        return None
    return int(match.group(1)) * WINDOW_UNITS[match.group(2)]


@dataclass
class _Lines:
    """Where things are in the file's text (1-based lines), to point at the line at fault."""

    headers: list[int]  # the line of each `[[rule]]`, in order
    keys: list[dict[str, int]]  # per rule, the line of each key
    top: dict[str, int]  # top-level keys and table names

    @classmethod
    def scan(cls, text: str) -> _Lines:
        headers: list[int] = []
        keys: list[dict[str, int]] = []
        top: dict[str, int] = {}
        in_rule = False
        for number, line in enumerate(text.splitlines(), start=1):
            if _RULE_HEADER.match(line):
                headers.append(number)
                keys.append({})
                in_rule = True
            elif _HEADER.match(line):
                in_rule = False
                name = line.strip().strip("[]").strip()
                top.setdefault(name, number)
            elif match := _KEY.match(line):
                (keys[-1] if in_rule else top).setdefault(match.group(1), number)
        return cls(headers, keys, top)

    def of(self, index: int, key: str | None = None) -> int:
        """The line of rule `index`'s `key` (else of its header; 1 when the file is laid out otherwise)."""
        if index < len(self.headers):
            return self.keys[index].get(key, self.headers[index]) if key else self.headers[index]
        return 1


def apprise_accepts(url: str) -> bool:
    """Whether Apprise knows how to send to `url` (no request is made)."""
    import apprise  # imported only when a rule uses it (it loads every notification plugin)

    return bool(apprise.Apprise().add(url))


def parse(text: str, where: str) -> tuple[Rule, ...]:
    """The rules in `text` (the content of the file `where`). Raises RuleError naming `where`, the line and why."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        position = _TOML_POSITION.search(message)
        line = f", line {position.group(1)}" if position else ""
        raise RuleError(f"{where}{line}: not valid TOML: {_TOML_POSITION.sub('', message)}.") from None
    lines = _Lines.scan(text)
    for key in document:
        if key != "rule":
            at = lines.top.get(key, 1)
            raise RuleError(f"{where}, line {at}: unknown table or key {key!r}; each rule is a [[rule]] table.")
    tables = document.get("rule")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise RuleError(f"{where}, line 1: no [[rule]] table; see the README's Alerts section for an example.")
    rules: list[Rule] = []
    for index, table in enumerate(tables):
        rule = _rule(table, index, lines, where)
        if any(r.name == rule.name for r in rules):
            raise RuleError(f"{where}, line {lines.of(index, 'name')}: a second rule named {rule.name!r}.")
        rules.append(rule)
    return tuple(rules)


def _rule(table: dict[str, Any], index: int, lines: _Lines, where: str) -> Rule:
    """One `[[rule]]` table checked key by key."""
    name = table.get("name")

    def refuse(key: str | None, why: str) -> RuleError:
        who = f"rule {name!r}" if isinstance(name, str) and name.strip() else f"[[rule]] #{index + 1}"
        return RuleError(f"{where}, line {lines.of(index, key)}: {who}: {why}.")

    for key in table:
        if key not in KEYS:
            raise refuse(key, f"unknown key {key!r} (known: {', '.join(KEYS)})")
    if not isinstance(name, str) or not name.strip():
        raise refuse("name", 'has no name (name = "...")')
    side = table.get("side", "any")
    if side not in SIDES:
        raise refuse("side", f"side is {side!r}; use long, short or any")
    usd_over = table.get("usd_over")
    if isinstance(usd_over, bool) or not isinstance(usd_over, int | float) or not usd_over > 0:
        raise refuse("usd_over", f"usd_over must be a positive USD amount, not {usd_over!r}")
    window = table.get("window")
    span = window_ms(window) if isinstance(window, str) else None
    if span is None:
        raise refuse("window", f'window is {window!r}; write e.g. "30s", "5m", "1h"')
    exchanges = _names(table.get("exchanges", []), str.lower)
    if exchanges is None:
        raise refuse("exchanges", f"exchanges must be a list of venue ids ({', '.join(BY_ID)})")
    unknown = sorted(exchanges - BY_ID.keys())
    if unknown:
        raise refuse("exchanges", f"unknown exchange id {', '.join(unknown)} (choose from {', '.join(BY_ID)})")
    assets = _names(table.get("assets", []), str.upper)
    if assets is None:
        raise refuse("assets", 'assets must be a list of base coins, e.g. ["ETH", "PEPE"]')
    webhook, notify = table.get("webhook") or None, table.get("notify") or None
    if webhook is None and notify is None:
        raise refuse(None, "has neither a webhook nor a notify URL to send to")
    if webhook is not None and (not isinstance(webhook, str) or urlsplit(webhook).scheme not in ("http", "https")):
        raise refuse("webhook", "webhook must be an http:// or https:// URL")
    if notify is not None and (not isinstance(notify, str) or not apprise_accepts(notify)):
        raise refuse("notify", f"Apprise does not accept the notify URL {mask(str(notify))}")
    return Rule(name.strip(), side, float(usd_over), window.strip(), span, exchanges, assets, webhook, notify)


def _names(value: object, transform: Callable[[str], str]) -> frozenset[str] | None:
    """A list of strings as a set of `transform`ed names; None when it is not a list of strings."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        return None
    return frozenset(transform(v.strip()) for v in value)


def load(path: str | Path) -> tuple[Rule, ...]:
    """The rules of the file at `path`. Raises RuleError (unreadable file or a bad rule)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise RuleError(
            f"{path}: cannot read the alert rules ({reason}); set LIQSCOPE_ALERTS to a TOML file."
        ) from None
    return parse(text, str(path))
