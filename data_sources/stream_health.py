"""TEMP stub of the streams branch's module (see /work/specs/stream_status.md); dropped at merge."""

from __future__ import annotations

from collections.abc import Sequence


def describe(exchanges: Sequence[str], now_ms: int | None = None, db_path: str | None = None) -> dict[str, str]:
    """One sentence per exchange with a store row; this stub knows no store rows, so {}."""
    return {}
