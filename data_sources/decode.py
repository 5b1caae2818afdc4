"""Safe field access for stream messages: every surprise becomes one `Malformed` error.

A decoder reads a venue's JSON through these helpers instead of `dict[...]`, `float(...)`
and `int(...)`, so a missing or empty field, an object where a list belongs, a
non-numeric string or invalid JSON raises `Malformed` (which the collector skips,
counts and logs), never a KeyError or TypeError that would end the collector.
`Malformed.kind` names the problem without the values, so it can be counted and
logged once per kind.
"""

from __future__ import annotations

import math
from typing import Any

import orjson


class Malformed(ValueError):
    """A message of a shape the decoder does not expect; `kind` says which problem."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def load(raw: str | bytes) -> Any:
    """The JSON value in `raw` (parsed by orjson); invalid JSON, including NaN, lone surrogates and nesting
    deeper than 1,024 levels, is Malformed."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Malformed("invalid JSON") from None


def obj(value: Any, name: str) -> dict[str, Any]:
    """`value` as a JSON object, else Malformed naming the field."""
    if not isinstance(value, dict):
        raise Malformed(f"'{name}' is not an object")
    return value


def rows(value: Any, name: str) -> list[dict[str, Any]]:
    """`value` as a non-empty list of JSON objects, else Malformed naming the field."""
    if not isinstance(value, list) or not value:
        raise Malformed(f"'{name}' is not a non-empty list")
    return [obj(item, f"{name}[]") for item in value]


def text(mapping: dict[str, Any], key: str, path: str = "") -> str:
    """The non-empty string at `mapping[key]`; `path` prefixes the field name in the error."""
    value = mapping.get(key)
    if not isinstance(value, str) or not value:
        raise Malformed(f"'{path}{key}' is missing or not a non-empty string")
    return value


def choice(mapping: dict[str, Any], key: str, allowed: tuple[str, ...], path: str = "") -> str:
    """The string at `mapping[key]`, which must be one of `allowed`."""
    value = mapping.get(key)
    if value not in allowed:
        raise Malformed(f"'{path}{key}' is not one of {', '.join(allowed)}")
    return value


def positive(mapping: dict[str, Any], key: str, path: str = "") -> float:
    """The finite number > 0 at `mapping[key]` (a JSON number or a numeric string, as venues send)."""
    value = mapping.get(key)
    kind = type(value)
    if kind is not str and kind is not float and kind is not int:  # bool and None fall here too
        raise Malformed(f"'{path}{key}' is missing or not a number")
    try:
        number = float(value)
    except ValueError:
        raise Malformed(f"'{path}{key}' is not a number") from None
    if not 0 < number < math.inf:
        raise Malformed(f"'{path}{key}' is not a positive number")
    return number


def epoch_ms(mapping: dict[str, Any], key: str, path: str = "") -> int:
    """The epoch-millisecond time at `mapping[key]` (integer or integer string, > 0)."""
    value = mapping.get(key)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise Malformed(f"'{path}{key}' is missing or not an epoch-ms integer")
    return value
