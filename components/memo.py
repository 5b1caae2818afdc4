"""Memoize pure functions of read-only frames, so a warm rerun reuses what the same frames already gave.

The read path hands every rerun of a view the same panel frames (memoized in `market`), and frames
are read-only by contract; a summary or figure of them is then the same on every rerun. `of_frames`
keys a call by the identity of each DataFrame argument and the value of every other (lists as
tuples); an entry is dropped when one of its frames is garbage-collected, so an id is never reused
for another frame. A call with an unhashable argument or keywords is simply computed. Results are
shared between reruns and sessions: treat them as read-only too.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import pandas as pd

P = ParamSpec("P")
R = TypeVar("R")


def of_frames(function: Callable[P, R]) -> Callable[P, R]:
    """`function` memoized on its frames' identities and its other arguments' values."""
    results: dict[tuple, R] = {}
    lock = threading.Lock()

    @functools.wraps(function)
    def memoized(*args: P.args, **kwargs: P.kwargs) -> R:
        frames = [arg for arg in args if isinstance(arg, pd.DataFrame)]
        key = tuple(
            ("frame", id(arg)) if isinstance(arg, pd.DataFrame) else tuple(arg) if isinstance(arg, list) else arg
            for arg in args
        )
        try:
            with lock:
                if not kwargs and key in results:
                    return results[key]
        except TypeError:  # an unhashable argument
            return function(*args, **kwargs)
        value = function(*args, **kwargs)
        if not kwargs:
            with lock:
                if key not in results:
                    results[key] = value
                    for frame in frames:
                        weakref.finalize(frame, _forget, results, lock, key)
        return value

    return memoized


def _forget(results: dict, lock: threading.Lock, key: tuple) -> None:
    with lock:
        results.pop(key, None)
