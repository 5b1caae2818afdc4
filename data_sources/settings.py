"""Settings in one place: environment first, then `st.secrets`, then defaults.

`st.secrets` raises when no secrets file exists, so it is read behind a guard.
Secret values (API keys) are returned to the code that needs them and never logged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

DataMode = Literal["live", "demo", "auto"]
DATA_MODES: tuple[DataMode, ...] = ("live", "demo", "auto")
DEFAULTS: dict[str, str] = {
    "LIQSCOPE_DATA": "demo",
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
    notes: tuple[str, ...] = ()


def load() -> Settings:
    """Read every setting once; an invalid value falls back with a note."""
    notes: list[str] = []
    mode = (read("LIQSCOPE_DATA") or "demo").strip().lower()
    if mode not in DATA_MODES:
        notes.append(f"LIQSCOPE_DATA={mode!r} is not one of live, demo, auto; using demo.")
        mode = "demo"
    return Settings(data_mode=mode, notes=tuple(notes))  # type: ignore[arg-type]
