"""The export CLI prints exactly the normalized frame the app charts."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from components import summary
from data_sources.cli import main
from tests.fake_exchanges import FakeExchanges


def test_liquidations_csv_has_the_schema_and_the_overview_total(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "export",
                "liquidations",
                "--asset",
                "ETH",
                "--exchange",
                "okx",
                "--start",
                "2025-05-08",
                "--end",
                "2025-05-09",
            ]
        )
        == 0
    )
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(frame.columns) == ["ts", "exchange", "asset", "side", "price", "qty", "usd"]
    assert set(frame["side"]) == {"long", "short"} and set(frame["exchange"]) == {"okx"}
    assert frame["ts"].iloc[0].startswith("2025-05-08T") and frame["ts"].iloc[0].endswith("Z")
    assert frame["usd"].sum() == pytest.approx(310e6 * 0.32, rel=1e-6)


def test_candles_json_to_a_file_with_progress_on_stderr(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "eth.json"
    assert (
        main(
            [
                "export",
                "candles",
                "--asset",
                "eth",
                "--exchange",
                "BINANCE",
                "--start",
                "2025-05-07",
                "--end",
                "2025-05-09",
                "--interval",
                "1h",
                "--format",
                "json",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rows = json.loads(out.read_text())
    assert len(rows) == 48 and list(rows[0])[:6] == ["ts", "exchange", "asset", "open", "high", "low"]
    assert "2/2 days" in capsys.readouterr().err


def test_window_outside_the_data_explains_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            ["export", "funding", "--asset", "BTC", "--exchange", "okx", "--start", "2024-01-01", "--end", "2024-01-02"]
        )
        == 1
    )
    assert "covers 2025-04-24 to 2025-05-22" in capsys.readouterr().err


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "candles", "--asset", "BTC", "--exchange", "okx", "--start", "yesterday-ish", "--end", "x"])
    assert exit_info.value.code == 2
    assert (
        main(
            ["export", "candles", "--asset", "BTC", "--exchange", "okx", "--start", "2025-05-09", "--end", "2025-05-08"]
        )
        == 2
    )
    assert "--end must be after --start" in capsys.readouterr().err


def test_live_export_matches_the_exchange(
    exchanges: FakeExchanges, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LIQSCOPE_DATA", "live")
    day = exchanges.market.seed_day
    assert (
        main(
            [
                "export",
                "candles",
                "--asset",
                "ETH",
                "--exchange",
                "bybit",
                "--start",
                f"{day:%Y-%m-%d}",
                "--end",
                f"{day + pd.Timedelta(days=1):%Y-%m-%d}",
                "--interval",
                "1h",
            ]
        )
        == 0
    )
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out), parse_dates=["ts"])
    frame["open"] = frame["open"].astype(float)
    moves = summary.price_moves(frame.assign(ts=pd.to_datetime(frame["ts"], utc=True)))
    assert moves.iloc[0]["change"] == pytest.approx(0.204, abs=0.001)
    assert exchanges.calls("/v5/market/kline")
