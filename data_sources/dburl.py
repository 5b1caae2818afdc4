"""Database URLs: tell them from SQLite paths, and mask their passwords before any message shows them."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

SCHEMES = ("postgresql://", "postgres://")
MASK = "***"
_QUERY_PASSWORD = re.compile(r"(?i)([?&]password=)[^&#]*")


def is_url(target: str | Path) -> bool:
    """True for a PostgreSQL URL (`postgresql://` or `postgres://`); False for a SQLite file path."""
    return str(target).lower().startswith(SCHEMES)


def secrets(url: str) -> set[str]:
    """Every form of the URL's password (user info, percent-decoded, query `password=`) that must never be shown."""
    found = set()
    userinfo, at, _ = url.partition("://")[2].rpartition("@")
    if at and ":" in userinfo:
        found.add(userinfo.partition(":")[2])
    found.update(match.group(0).partition("=")[2] for match in _QUERY_PASSWORD.finditer(url))
    return {form for secret in found for form in (secret, unquote(secret)) if form}


def masked(target: str | Path) -> str:
    """`postgresql://user:***@host:5432/db` for a URL (query `password=` too); a path unchanged."""
    text = str(target)
    if not is_url(text):
        return text
    scheme, _, rest = text.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if at and ":" in userinfo:
        rest = f"{userinfo.partition(':')[0]}:{MASK}@{host}"
    return _QUERY_PASSWORD.sub(rf"\g<1>{MASK}", f"{scheme}://{rest}")


def scrub(text: str, url: str) -> str:
    """`text` with the URL replaced by its masked form and any password in it by `***`."""
    text = text.replace(url, masked(url))
    for secret in sorted(secrets(url), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
