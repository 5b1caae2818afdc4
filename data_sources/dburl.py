"""Database URLs: tell them from SQLite paths, and mask their passwords before any message shows them."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

SCHEMES = ("postgresql://", "postgres://")
MASK = "***"
_QUERY_PASSWORD = re.compile(r"(?i)([?&]password=)[^&#]*")
_KEYWORD_PASSWORD = re.compile(r"(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s']\S*)")
_KEYWORD_DSN = re.compile(r"(?i)^\s*(host|hostaddr|port|dbname|user|password|service|sslmode)\s*=")


def is_url(target: str | Path) -> bool:
    """True for a PostgreSQL connection string: a URL (`postgresql://`, `postgres://`) or libpq's keyword
    form (`host=db port=5432 dbname=liqscope user=app password=...`); False for a SQLite file path."""
    text = str(target)
    return text.lower().startswith(SCHEMES) or bool(_KEYWORD_DSN.match(text))


def secrets(url: str) -> set[str]:
    """Every form of the URL's password (user info, percent-decoded, query `password=`) that must never be shown."""
    found = set()
    userinfo, at, _ = url.partition("://")[2].rpartition("@")
    if at and ":" in userinfo:
        found.add(userinfo.partition(":")[2])
    found.update(match.group(0).partition("=")[2] for match in _QUERY_PASSWORD.finditer(url))
    if not url.lower().startswith(SCHEMES):
        found.update(match.group(2).strip("'") for match in _KEYWORD_PASSWORD.finditer(url))
    return {form for secret in found for form in (secret, unquote(secret)) if form}


def masked(target: str | Path) -> str:
    """`postgresql://user:***@host:5432/db` for a URL (query `password=` too), `password=***` in the keyword
    form; a path unchanged."""
    text = str(target)
    if not is_url(text):
        return text
    if not text.lower().startswith(SCHEMES):
        return _KEYWORD_PASSWORD.sub(rf"\g<1>{MASK}", text)
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
