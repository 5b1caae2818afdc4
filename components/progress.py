"""A page that waits for an exchange's request budget says so while it loads, and after.

A load is a handle begun earlier (`market.start`); the script thread polls it where the
panel that needs it is drawn and, while requests wait for budget (`budgets.waiting()`),
shows one line per budget in a placeholder.
Once the data is there the placeholder becomes a one-line caption naming the
budgets that made the page wait. Loads that never wait draw nothing but their
"Loading ..." caption while they run.
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as StillLoading
from typing import TypeVar

import streamlit as st

from data_sources import budgets

POLL_SECONDS = 0.2
T = TypeVar("T")


def awaiting(handle: Future[T], loading: str | None = None) -> T:
    """`handle.result()`, drawn where it is called: nothing when it is already there (a warm rerun); else the
    `loading` caption ("Loading long/short ratios ...") and, while requests wait for a venue's budget, one line
    per budget; once loaded, a one-line caption naming the budgets that made it wait (if any)."""
    if handle.done():
        return handle.result()
    started = time.monotonic()
    placeholder = st.empty() if loading else None
    if placeholder is not None:
        placeholder.caption(f":material/progress_activity: {loading}")
    waited_for: dict[str, None] = {}
    while True:
        try:
            result = handle.result(timeout=POLL_SECONDS)
            break
        except StillLoading:
            waits = budgets.waiting()
            if not waits:
                continue
            waited_for.update(dict.fromkeys(wait.label for wait in waits))
            text = "\n".join(f"- {line}" for line in waits)
            heading = f"{loading}\n\n" if loading else ""
            placeholder = placeholder or st.empty()
            placeholder.info(
                f"{heading}Staying inside the exchanges' request limits:\n{text}", icon=":material/schedule:"
            )
    if waited_for:
        placeholder.caption(
            f":material/schedule: Loaded in {time.monotonic() - started:.1f} s, waiting for request budget: "
            f"{', '.join(waited_for)}."
        )
    elif placeholder is not None:
        placeholder.empty()
    return result
