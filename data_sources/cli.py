"""`python -m data_sources export KIND ...`: the normalized frame the app charts, as CSV or JSON (liquidations
without `--asset`: every asset of the exchange; `--asset` takes any coin the exchange lists).
`python -m data_sources instruments [--exchange EX]`: every perpetual the venues list, with its units.
`python -m data_sources migrate [--db FILE_OR_URL]`: bring the liquidation store's schema up to date.

Uses the app's settings (env, then .streamlit/secrets.toml) and the same read
path and cache. The window is [--start, --end) in UTC; dates mean midnight.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import pandas as pd

from data_sources import instruments, market, registry, settings, storage
from data_sources.base import MarketSource, SourceError
from data_sources.dburl import masked
from data_sources.export_frames import BAR_COLUMNS, as_json, at_source_precision, liquidation_bars, positional
from data_sources.intervals import INTERVALS, auto_interval
from data_sources.schema import ALL_ASSETS, EXCHANGE_NAMES, EXCHANGES, Dataset
from data_sources.store import StoreError

KINDS: dict[str, Dataset] = {
    "candles": "candles",
    "liquidations": "liquidations",
    "ratios": "ratios",
    "open-interest": "open_interest",
    "funding": "funding",
}
CHUNK = pd.Timedelta(days=1)
SIMULATED = (
    "answering from the simulated demo market (2025-04-24 to 2025-05-22): no number is a real trade. "
    "Set LIQSCOPE_DATA=live for the exchanges."
)


def _utc(text: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date or time (use YYYY-MM-DD or ISO 8601)") from None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m data_sources", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="print one normalized dataset for one asset on one exchange")
    export.add_argument("kind", choices=list(KINDS))
    export.add_argument(
        "--asset",
        type=str.upper,
        help="any coin the exchange lists (see `instruments`); liquidations without it: every asset",
    )
    export.add_argument("--exchange", required=True, type=str.lower, choices=EXCHANGES)
    export.add_argument("--start", required=True, type=_utc, help="UTC start, inclusive (YYYY-MM-DD or ISO time)")
    export.add_argument("--end", required=True, type=_utc, help="UTC end, exclusive")
    export.add_argument(
        "--interval",
        choices=INTERVALS,
        help="bar interval (default: chosen from the window); for liquidations, sums per bar "
        "(long/short USD and count) instead of one row per liquidation",
    )
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--out", help="file to write (default: standard output)")
    listing = commands.add_parser("instruments", help="list every perpetual of each venue with its units")
    listing.add_argument("--exchange", type=str.lower, choices=EXCHANGES, help="one venue (default: all)")
    listing.add_argument("--format", choices=("csv", "json"), default="csv")
    migrate = commands.add_parser("migrate", help="create or upgrade the liquidation store's schema")
    migrate.add_argument("--db", help="SQLite file or postgresql:// URL (default: LIQSCOPE_DB)")
    return parser


def _progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // total
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} days")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def export(
    source: MarketSource,
    kind: str,
    asset: str,
    exchange: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    interval: str | None,
) -> tuple[pd.DataFrame, list[str]]:
    """The frame for the export, fetched a day at a time, and the reasons for anything missing.

    Liquidations with an `interval` come as per-bar sums (`export_frames.liquidation_bars`), per asset for
    `ALL_ASSETS` (every asset of the exchange).
    """
    bars = interval if kind == "liquidations" else None
    interval = interval or auto_interval(start, end)
    chunks = list(pd.date_range(start, end, freq=CHUNK, inclusive="left")) or [start]
    frames, problems = [], []
    for done, chunk_start in enumerate(chunks, start=1):
        panel = market.load(
            source, KINDS[kind], (asset,), (exchange,), chunk_start, min(chunk_start + CHUNK, end), interval
        )
        frames.append(panel.frame)
        problems += [reason for _, reason in (*panel.status.failed, *panel.status.uncovered)]
        if len(chunks) > 1:
            _progress(done, len(chunks))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if bars is not None and not (frame.empty and problems):
        if asset == ALL_ASSETS:  # one run of bars per asset that had any liquidation
            parts = [liquidation_bars(rows, exchange, a, start, end, bars) for a, rows in frame.groupby("asset")]
            frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=BAR_COLUMNS)
        else:
            frame = liquidation_bars(frame, exchange, asset, start, end, bars)
    return at_source_precision(frame), list(dict.fromkeys(problems))


def migrate(target: str) -> int:
    """Open the store at `target` (which applies any missing migration) and report its version."""
    try:
        store = storage.connect(target)
    except StoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"liquidation store at {masked(target)}: schema version {store.version}")
    store.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    if args.command == "instruments":
        return list_instruments(args.exchange, args.format)
    if args.command == "migrate":
        return migrate(args.db or settings.load().db_path)
    if args.end <= args.start:
        print("error: --end must be after --start", file=sys.stderr)
        return 2
    if args.asset is None and args.kind != "liquidations":
        print(f"error: --asset is required for {args.kind} (only liquidations export every asset)", file=sys.stderr)
        return 2
    choice = registry.choose(settings.load())
    if choice.banner:
        print(f"warning: {choice.banner}", file=sys.stderr)
    if choice.source.simulated:
        print(f"note: {SIMULATED}", file=sys.stderr)
    listed = choice.source.universe((args.exchange,)).assets  # empty: the source does not hold this venue at all
    if args.asset is not None and listed and args.asset not in listed:
        print(
            f"error: {args.asset} is not listed on {EXCHANGE_NAMES[args.exchange]}; see "
            f"`python -m data_sources instruments --exchange {args.exchange}`",
            file=sys.stderr,
        )
        return 2
    asset = args.asset or ALL_ASSETS
    frame, problems = export(choice.source, args.kind, asset, args.exchange, args.start, args.end, args.interval)
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    if frame.empty and problems:
        return 1
    frame = frame.assign(ts=frame["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").str.replace(".000000Z", "Z"))
    text = frame.to_csv(index=False, float_format=positional) if args.format == "csv" else as_json(frame)
    if args.out:
        try:
            with open(args.out, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as error:
            print(f"error: cannot write {args.out}: {error.strerror}", file=sys.stderr)
            return 2
    else:
        sys.stdout.write(text)
    return 0


def list_instruments(exchange: str | None, fmt: str) -> int:
    """Print the venues' perpetuals (`instruments.COLUMNS`); a venue that fails is named on stderr, exit 1."""
    source = instruments.InstrumentRegistry.from_settings(settings.load())
    rows, failed = [], False
    for venue in (exchange,) if exchange else EXCHANGES:
        try:
            rows += source.listing(venue).instruments
        except SourceError as error:
            print(f"error: {error}", file=sys.stderr)
            failed = True
    frame = instruments.to_frame(rows)
    if not frame.empty or not failed:
        sys.stdout.write(
            frame.to_csv(index=False) if fmt == "csv" else frame.to_json(orient="records", indent=1) + "\n"
        )
    return 1 if failed else 0
