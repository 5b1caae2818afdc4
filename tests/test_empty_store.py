"""The store-only app before the collector ran: the store is never created, and each page says once what to do."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from data_sources import market, registry, storage
from data_sources.store_source import StoreSource
from tests.conftest import ROOT

HOUR = pd.Timedelta(hours=1)
PAGES = ("app_pages/overview.py", "app_pages/asset.py", "app_pages/exchange.py")


def texts(at: AppTest, kind: str) -> list[str]:
    return [element.value for element in at.get(kind)]


@pytest.fixture(params=["missing", "empty"])
def store_path(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A SQLite store location that does not exist yet, or a store the collector never wrote to."""
    path = tmp_path / "liqscope.db"
    if request.param == "empty":
        storage.connect(path).close()
    monkeypatch.setenv("LIQSCOPE_DATA", "store")
    monkeypatch.setenv("LIQSCOPE_DB", str(path))
    registry.clear()
    return path


@pytest.mark.parametrize("page", PAGES)
def test_an_empty_store_is_said_once_per_page_and_never_created(store_path: Path, page: str) -> None:
    existed = store_path.exists()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page(page).run()  # opened straight from a link to it (url_path = file name)
    assert not at.exception, at.exception
    assert store_path.exists() == existed, "store mode must never create the store"
    said = [t for t in texts(at, "info") + texts(at, "warning") if "holds nothing yet" in t]
    assert len(said) == 1, said
    assert "python -m data_sources.collector" in said[0] and str(store_path) in said[0]
    captions = " ".join(texts(at, "caption"))
    assert "Not covered" not in captions
    assert "The collector has not" not in captions
    titles = " ".join(texts(at, "subheader"))
    assert "( candles" not in titles
    assert "still shown" not in " ".join(texts(at, "info"))
    if page == "app_pages/asset.py":
        assert not at.get("arrow_data_frame"), "no blank table of liquidations"
        assert len(at.get("plotly_chart")) == 0, "no empty axes"


def test_a_not_covered_note_names_every_asset_concerned(tmp_path: Path) -> None:
    path = tmp_path / "liqscope.db"
    storage.connect(path).close()
    end = pd.Timestamp.now(tz="UTC").floor("h")
    panel = market.load(StoreSource(str(path)), "candles", ("BTC", "ETH", "SOL"), ("okx",), end - HOUR, end, "1m")
    assert dict(panel.status.uncovered) == {"OKX": "The collector has not stored OKX candles for BTC, ETH and SOL yet."}
