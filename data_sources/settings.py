"""Settings in one place: environment first, then `st.secrets`, then defaults.

`st.secrets` raises when no secrets file exists, so it is read behind a guard.
Secret values (API keys) are returned to the code that needs them and never logged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

DataMode = Literal["live", "demo", "store", "auto"]
DATA_MODES: tuple[DataMode, ...] = ("live", "demo", "store", "auto")
DEFAULTS: dict[str, str] = {
    "LIQSCOPE_DATA": "auto",
    "LIQSCOPE_BINANCE_URL": "https://fapi.binance.com",
    "LIQSCOPE_OKX_URL": "https://www.okx.com",
    "LIQSCOPE_BYBIT_URL": "https://api.bybit.com",
    "LIQSCOPE_HTTP_TIMEOUT": "10",
    "LIQSCOPE_DB": "data/liqscope.db",
    "LIQSCOPE_BINANCE_WS": "wss://fstream.binance.com/market",
    "LIQSCOPE_OKX_WS": "wss://ws.okx.com:8443/ws/v5/public",
    "LIQSCOPE_BYBIT_WS": "wss://stream.bybit.com/v5/public/linear",
    "LIQSCOPE_COINALYZE_URL": "https://api.coinalyze.net/v1",
}
URL_SETTINGS: dict[str, str] = {
    "binance": "LIQSCOPE_BINANCE_URL",
    "okx": "LIQSCOPE_OKX_URL",
    "bybit": "LIQSCOPE_BYBIT_URL",
}
WS_SETTINGS: dict[str, str] = {
    "binance": "LIQSCOPE_BINANCE_WS",
    "okx": "LIQSCOPE_OKX_WS",
    "bybit": "LIQSCOPE_BYBIT_WS",
}


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
    return value if value not in (None, "") else DEFAULTS.get(name)


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


def load() -> Settings:
    """Read every setting once; an invalid value falls back with a note."""
    notes: list[str] = []
    mode = (read("LIQSCOPE_DATA") or "auto").strip().lower()
    if mode not in DATA_MODES:
        notes.append(f"LIQSCOPE_DATA={mode!r} is not one of live, demo, store, auto; using demo.")
        mode = "demo"
    base_urls = {exchange: (read(name) or "").rstrip("/") for exchange, name in URL_SETTINGS.items()}
    try:
        timeout = float(read("LIQSCOPE_HTTP_TIMEOUT") or 10)
    except ValueError:
        notes.append("LIQSCOPE_HTTP_TIMEOUT is not a number of seconds; using 10.")
        timeout = 10.0
    ws_urls = {exchange: read(name) or "" for exchange, name in WS_SETTINGS.items()}
    return Settings(
        data_mode=mode,  # type: ignore[arg-type]
        base_urls=base_urls,
        timeout=timeout,
        notes=tuple(notes),
        ws_urls=ws_urls,
        db_path=read("LIQSCOPE_DB") or DEFAULTS["LIQSCOPE_DB"],
        coinalyze_url=(read("LIQSCOPE_COINALYZE_URL") or "").rstrip("/"),
        coinalyze_key=read("LIQSCOPE_COINALYZE_KEY"),
    )
