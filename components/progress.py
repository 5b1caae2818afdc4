"""A page that waits for an exchange's request budget says so while it loads, and after.

The load runs on a worker thread; the script thread polls it and, while requests
wait for budget (`budgets.waiting()`), shows one line per budget in a placeholder.
Once the data is there the placeholder becomes a one-line caption naming the
budgets that made the page wait. Loads that never wait draw nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as StillLoading
from typing import TypeVar

import streamlit as st

from data_sources import budgets

POLL_SECONDS = 0.2
T = TypeVar("T")
_loads = ThreadPoolExecutor(max_workers=16, thread_name_prefix="liqscope-load")


def showing_waits(load: Callable[[], T]) -> T:
    """`load()`'s result; meanwhile, which requests wait for which venue's budget, and for how long."""
    started = time.monotonic()
    future = _loads.submit(load)
    placeholder = None
    waited_for: dict[str, None] = {}
    while True:
        try:
            result = future.result(timeout=POLL_SECONDS)
            break
        except StillLoading:
            waits = budgets.waiting()
            if not waits:
                continue
            waited_for.update(dict.fromkeys(wait.label for wait in waits))
            placeholder = placeholder or st.empty()
            text = "\n".join(f"- {line}" for line in waits)
            placeholder.info(f"Staying inside the exchanges' request limits:\n{text}", icon=":material/schedule:")
    if placeholder is not None:
        placeholder.caption(
            f":material/schedule: Loaded in {time.monotonic() - started:.1f} s, waiting for request budget: "
            f"{', '.join(waited_for)}."
        )
    return result
