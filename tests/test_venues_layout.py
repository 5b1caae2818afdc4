"""The layout of issue 11: one module per venue, one registry line, a fake and a test file each.

Adding a venue should touch its module, its line in `data_sources/venues/__init__.py`, its fake and its tests.
So no module outside `data_sources/venues/` names a venue id as a string, except the small documented list
`ALLOWED` (tests, the demo and docs are not scanned).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components.charts import EXCHANGE_COLORS, LONG_COLOR, SHORT_COLOR
from data_sources import budgets, settings
from data_sources.schema import EXCHANGE_NAMES, EXCHANGES
from data_sources.venues import BY_ID, VENUES
from tests.fake_exchanges import FAKED

ROOT = Path(__file__).resolve().parent.parent
VENUE_DIR = ROOT / "data_sources" / "venues"
SCANNED = ("app.py", "app_pages", "components", "data_sources")
# Files outside venues/ that may name venue ids, and why.
ALLOWED = {
    "data_sources/demo.py": "the demo simulates the original three venues in their own naming",
    "components/charts.py": "one distinct colour per venue (the brief keeps colours with the charts)",
}


def test_the_registry_lists_six_venues_each_one_module() -> None:
    assert [v.id for v in VENUES] == ["binance", "okx", "bybit", "gate", "bitget", "hyperliquid"]
    modules = sorted(p.stem for p in VENUE_DIR.glob("*.py") if p.stem != "__init__")
    assert modules == sorted(v.id for v in VENUES)
    for venue in VENUES:
        assert venue.path == f"data_sources.venues.{venue.id}"
        assert venue.id == venue.module.ID and venue.name == venue.module.NAME


def test_schema_and_settings_derive_from_the_registry() -> None:
    assert tuple(v.id for v in VENUES) == EXCHANGES
    assert {v.id: v.name for v in VENUES} == EXCHANGE_NAMES
    loaded = settings.load()
    assert set(loaded.base_urls) == set(EXCHANGES)
    assert set(loaded.ws_urls) == {v.id for v in VENUES if v.get("STREAM") is not None}
    defaults = settings.venue_defaults()
    for name in ("GATE", "BITGET", "HYPERLIQUID"):
        assert f"LIQSCOPE_{name}_URL" in defaults
    assert {"LIQSCOPE_GATE_WS", "LIQSCOPE_BITGET_WS"} <= set(defaults)
    assert "LIQSCOPE_HYPERLIQUID_WS" not in defaults  # no public liquidation stream


@pytest.mark.parametrize("venue", VENUES, ids=lambda v: v.id)
def test_each_module_documents_its_side_convention_and_declares_budgets(venue) -> None:  # type: ignore[no-untyped-def]
    doc = venue.module.__doc__ or ""
    assert "SIDE CONVENTION" in doc, f"{venue.id}: the module docstring must state its side convention"
    assert venue.module.BUDGETS, f"{venue.id}: BUDGETS is empty"
    assert any(b.venue == venue.name for b in budgets.TABLE), f"{venue.id}: no budget row in the table"
    for name in ("URL_SETTING", "DEFAULT_URL", "fetch_listing", "probe", "adapter", "LIQUIDATION_HISTORY"):
        assert hasattr(venue.module, name), f"{venue.id} lacks {name}"
    stream = venue.get("STREAM")
    assert (stream is None) == (venue.get("WS_SETTING") is None)


@pytest.mark.parametrize("venue", VENUES, ids=lambda v: v.id)
def test_each_venue_has_a_loopback_fake_and_a_test_file(venue) -> None:  # type: ignore[no-untyped-def]
    """A venue has `tests/fakes/<id>.py` and `tests/test_venue_<id>.py`; the original three share one fake
    (`fake_exchanges.FAKED`) and `test_adapters.py`."""
    if venue.id in FAKED:
        assert (ROOT / "tests" / "test_adapters.py").exists()
        return
    assert (ROOT / "tests" / "fakes" / f"{venue.id}.py").exists()
    assert (ROOT / "tests" / f"test_venue_{venue.id}.py").exists()


def test_every_venue_has_a_distinct_colour_clear_of_the_sides() -> None:
    colours = [EXCHANGE_COLORS[e] for e in EXCHANGES]
    assert len(set(colours)) == len(EXCHANGES)
    assert not {LONG_COLOR, SHORT_COLOR} & set(colours)


def test_no_module_outside_venues_names_a_venue_id() -> None:
    ids = "|".join(BY_ID)
    pattern = re.compile(rf"[\"']({ids})[\"']")
    found = []
    for top in SCANNED:
        paths = [ROOT / top] if top.endswith(".py") else sorted((ROOT / top).rglob("*.py"))
        for path in paths:
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith("data_sources/venues/") or relative in ALLOWED:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    found.append(f"{relative}:{number}: {line.strip()}")
    assert found == [], "venue ids outside data_sources/venues/:\n" + "\n".join(found)
