"""The export CLI prints exactly the normalized frame the app charts."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from components import summary
from data_sources import demo
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
    okx_share = demo.exchange_shares("ETH")[(demo.SEED_DAY - demo.START).days, demo.DEMO_EXCHANGES.index("okx")]
    assert frame["usd"].sum() == pytest.approx(310e6 * okx_share, rel=1e-6)


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


def export_args(kind: str, *extra: str, asset: str = "ETH", exchange: str = "okx") -> list[str]:
    return [
        "export",
        kind,
        "--asset",
        asset,
        "--exchange",
        exchange,
        "--start",
        "2025-05-08",
        "--end",
        "2025-05-09",
        *extra,
    ]


def test_the_demo_market_is_named_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An export from the simulated market says so; the data itself stays clean on stdout."""
    monkeypatch.setenv("LIQSCOPE_DATA", "demo")
    assert main(export_args("funding")) == 0
    captured = capsys.readouterr()
    assert "note: answering from the simulated demo market" in captured.err
    assert "simulated" not in captured.out


def test_liquidations_with_an_interval_are_summed_per_bar(capsys: pytest.CaptureFixture[str]) -> None:
    """--interval 1h gives 24 bars of long/short USD and counts that add up to the events."""
    assert main(export_args("liquidations")) == 0
    events = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert main(export_args("liquidations", "--interval", "1h")) == 0
    bars = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(bars.columns) == ["ts", "exchange", "asset", "long_usd", "short_usd", "long_count", "short_count"]
    assert len(bars) == 24 and bars["ts"].iloc[1] == "2025-05-08T01:00:00Z"
    by_side = events.groupby("side")["usd"]
    assert bars["short_usd"].sum() == pytest.approx(by_side.sum()["short"], abs=0.01 * len(bars))
    assert bars["long_count"].sum() == by_side.count()["long"]
    assert bars["short_count"].sum() == by_side.count()["short"]


@pytest.mark.parametrize("kind", ["liquidations", "candles", "ratios", "funding", "open-interest"])
def test_values_carry_the_source_precision_not_float_noise(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    """USD in cents; other numbers at most 8 significant digits on the demo (no 1807.5974494024993)."""
    assert main(export_args(kind, asset="DOGE")) == 0
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype=str)
    for column in frame.columns.drop(["ts", "exchange", "asset", "side", "kind"], errors="ignore"):
        assert not frame[column].str.contains("e", case=False).any(), (column, "scientific notation")
        digits = frame[column].dropna().str.replace(r"^-?0?\.?0*|\.", "", regex=True).str.len()
        assert digits.max() <= 8 or column in ("usd", "quote_volume"), (column, frame[column].iloc[0])
        if column in ("usd", "quote_volume"):
            assert frame[column].str.split(".").str[1].fillna("").str.len().max() <= 2


def test_okx_contract_arithmetic_is_written_as_the_exchange_sent_it() -> None:
    """qty = contracts x ctVal in floats gives 0.30000000000000004; the export writes 0.3."""
    from data_sources.export_frames import at_source_precision

    frame = pd.DataFrame({"price": [1234.56 * 1.0, 99.1], "qty": [3 * 0.1, 7 * 0.01], "usd": [370.368, 6.937]})
    assert frame["qty"].iloc[0] != 0.3
    assert at_source_precision(frame).to_csv(index=False) == "price,qty,usd\n1234.56,0.3,370.37\n99.1,0.07,6.94\n"


def test_a_bar_with_pre_aggregated_rows_has_its_usd_but_no_count() -> None:
    """Coinalyze buckets / store rollups (no price) are sums, not liquidations: USD counts, the count is left empty."""
    from data_sources.export_frames import liquidation_bars

    day = pd.Timestamp("2025-05-08", tz="UTC")
    rows = pd.DataFrame(
        {
            "ts": day + pd.to_timedelta([10, 60, 90], unit="min"),
            "side": ["long", "short", "short"],
            "price": [1.0, float("nan"), 2.0],
            "usd": [5.0, 7.0, 1.0],
        }
    )
    bars = liquidation_bars(rows, "okx", "ETH", day, day + pd.Timedelta(hours=3), "1h")
    assert bars["short_usd"].tolist() == [0.0, 8.0, 0.0]
    assert bars["long_count"].tolist() == [1, 0, 0]
    assert bars["short_count"].isna().tolist() == [False, True, False]
