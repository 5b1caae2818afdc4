"""Settings in one place: environment first, then `st.secrets`, then defaults.

`st.secrets` raises when no secrets file exists, so it is read behind a guard.
Secret values (API keys) are returned to the code that needs them and never logged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from data_sources.venues import VENUES

DataMode = Literal["live", "demo", "store", "auto"]
DATA_MODES: tuple[DataMode, ...] = ("live", "demo", "store", "auto")
DEFAULTS: dict[str, str] = {
    "LIQSCOPE_DATA": "auto",
    "LIQSCOPE_HTTP_TIMEOUT": "10",
    "LIQSCOPE_DB": "data/liqscope.db",
    "LIQSCOPE_COINALYZE_URL": "https://api.coinalyze.net/v1",
    "LIQSCOPE_PUBLIC_URL": "http://localhost:8501",
}


def venue_defaults() -> dict[str, str]:
    """Each venue's URL settings (`LIQSCOPE_<VENUE>_URL`, `_WS`) and their defaults, from the venue modules."""
    out: dict[str, str] = {}
    for venue in VENUES:
        out[venue.module.URL_SETTING] = venue.module.DEFAULT_URL
        ws_setting = venue.get("WS_SETTING")
        if isinstance(ws_setting, str):
            out[ws_setting] = venue.module.DEFAULT_WS
    return out


def _from_secrets(name: str) -> str | None:
    try:
        import streamlit as st

        value = st.secrets.get(name)
    except Exception:  # no secrets file, malformed TOML, or no Streamlit runtime
        return None
    return None if value is None else str(value)


def read(name: str) -> str | None:
    """The setting `name`: env var, else `.streamlit/secrets.toml`, else the default."""
    value = os.environ.get(name)
    if value is None or value == "":
        value = _from_secrets(name)
    if value not in (None, ""):
        return value
    return DEFAULTS[name] if name in DEFAULTS else venue_defaults().get(name)


@dataclass(frozen=True)
class Settings:
    """The settings the app runs with."""

    data_mode: DataMode
    base_urls: dict[str, str]
    timeout: float
    notes: tuple[str, ...] = ()
    ws_urls: dict[str, str] = field(default_factory=dict)
    db_path: str = DEFAULTS["LIQSCOPE_DB"]
    coinalyze_url: str = DEFAULTS["LIQSCOPE_COINALYZE_URL"]
    coinalyze_key: str | None = field(default=None, repr=False)
    alerts_path: str | None = None  # LIQSCOPE_ALERTS: the alert rules' TOML file (see data_sources/alerts)
    public_url: str = DEFAULTS["LIQSCOPE_PUBLIC_URL"]  # where the app is reached, for links in alerts


def load() -> Settings:
    """Read every setting once; an invalid value falls back with a note."""
    notes: list[str] = []
    mode = (read("LIQSCOPE_DATA") or "auto").strip().lower()
    if mode not in DATA_MODES:
        notes.append(f"LIQSCOPE_DATA={mode!r} is not one of live, demo, store, auto; using demo.")
        mode = "demo"
    base_urls = {venue.id: (read(venue.module.URL_SETTING) or "").rstrip("/") for venue in VENUES}
    try:
        timeout = float(read("LIQSCOPE_HTTP_TIMEOUT") or 10)
    except ValueError:
        notes.append("LIQSCOPE_HTTP_TIMEOUT is not a number of seconds; using 10.")
        timeout = 10.0
    ws_urls = {venue.id: read(str(venue.get("WS_SETTING"))) or "" for venue in VENUES if venue.get("WS_SETTING")}
    return Settings(
        data_mode=mode,  # type: ignore[arg-type]
        base_urls=base_urls,
        timeout=timeout,
        notes=tuple(notes),
        ws_urls=ws_urls,
        db_path=read("LIQSCOPE_DB") or DEFAULTS["LIQSCOPE_DB"],
        coinalyze_url=(read("LIQSCOPE_COINALYZE_URL") or "").rstrip("/"),
        coinalyze_key=read("LIQSCOPE_COINALYZE_KEY"),
        alerts_path=read("LIQSCOPE_ALERTS"),
        public_url=(read("LIQSCOPE_PUBLIC_URL") or DEFAULTS["LIQSCOPE_PUBLIC_URL"]).rstrip("/"),
    )
