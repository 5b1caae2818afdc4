"""Overview: the story of the window across every selected asset and exchange.

Liquidations count the whole market (every asset recorded) when no asset is selected; price moves
and the ratio snapshot fetch one series per coin, so they show the top N coins by open interest
(`top`) plus every selected coin.

First screen: the KPIs, key takeaways, price moves and liquidations by exchange; they need only the
liquidations and candles (and the ranking), so they draw as soon as those arrive. Every load starts at
the top; the ratios, open interest and funding are asked for once the first screen's data is in (so its
requests never queue behind theirs), and each lower panel waits for its own data where it is drawn. The
takeaways' cascade and ratio lines are filled in when the hours before the window (the cascades' baseline)
and the ratios arrive.
"""

import streamlit as st

from components import cascades, charts, context, filters, panel, positioning, summary
from data_sources.intervals import to_offset
from data_sources.schema import EXCHANGE_NAMES, RATIO_KIND_LABELS, RATIO_KINDS, empty

TOP_COINS = 20

view = filters.current()
multi_day = cascades.multi_day(view.start, view.end)  # cascade lines then carry their date
st.title("Market overview")
st.caption(
    f"{view.label} · {view.market_label} · {summary.count(len(view.exchanges), 'exchange')} · {view.interval} bars"
)
ranking = context.top_assets()
series_assets = context.series_assets(ranking)
liquidations_load, candles_load = first_screen = context.start_each(
    ("liquidations", context.liquidation_assets()), ("candles", series_assets)
)
baseline = context.start_baseline(liquidations_load, context.liquidation_assets())
ratios_load, open_interest_load, funding_load = context.start_each(
    ("ratios", series_assets),
    ("open_interest", series_assets),
    ("funding", series_assets),
    after=(*first_screen, baseline),
)
liquidations = context.wait(liquidations_load, "Loading liquidations ...")
candles = context.wait(candles_load, "Loading prices ...")
moves = summary.price_moves(candles.frame)

kpis = st.columns(5)
totals = panel.liquidation_metrics(kpis[:3], liquidations)
kpis[3].metric("Short share", summary.pct(totals.short_share), border=True)
mover = summary.top_mover(moves)
if mover is None:
    kpis[4].metric("Top mover", "n/a", border=True)
else:
    kpis[4].metric(
        "Top mover",
        mover.asset,
        summary.pct(mover.change, signed=True),
        help="The largest absolute price move in the window, up or down.",
        border=True,
    )

panel.liquidation_coverage((liquidations.status,), context.stream_freshness(view.exchanges))
if view.whole_market:
    st.caption(
        f":material/public: Liquidation figures count the whole market: every coin recorded on "
        f"{view.universe.perpetuals:,} perpetuals; price moves and ratios show the top {len(ranking.assets)} "
        f"coins by {ranking.basis}."
    )
for note in ranking.notes:
    st.caption(f":material/warning: {note}")


def fill_takeaways() -> bool:
    """The key takeaways so far: while the cascades' baseline hours or the ratios load, every line that needs
    neither, and a note saying which lines follow. True once every line is there."""
    ratios = ratios_load.result().frame if ratios_load.done() else None
    lines = [  # a new list: `takeaways` is memoized and shared between reruns (components.memo)
        *summary.takeaways(moves, liquidations.coins, empty("ratios") if ratios is None else ratios, view.exchanges),
        *(cascades.takeaway_lines(bursts, dated=multi_day) if bursts is not None else []),
    ]
    if lines:
        takeaways.markdown("\n".join(f"- {line}" for line in lines))
    else:
        takeaways.info("No data for this window and selection.")
    missing = [name for name, frame in (("cascade", bursts), ("long/short ratio", ratios)) if frame is None]
    if missing:
        takeaways_note.caption(f":material/progress_activity: Loading the {' and '.join(missing)} lines ...")
    else:
        takeaways_note.empty()
    return not missing


with st.container(border=True):
    st.subheader("Key takeaways")
    takeaways, takeaways_note = st.empty(), st.empty()
    bursts = context.cascades(liquidations.frame, baseline) if baseline.done() else None
    takeaways_done = fill_takeaways()

left, right = st.columns(2)
with left.container(border=True):
    st.subheader("Price moves")
    panel.status_line(candles.status)
    if moves.empty:
        st.info("No candles for this selection.")
    else:
        best = moves.iloc[0]
        panel.chart(
            charts.leaderboard(moves),
            moves,
            name="price-moves",
            alt=f"Price change per asset over the window; {best.asset} best at {summary.pct(best.change, True)}.",
            key="overview_moves",
        )
with right.container(border=True):
    st.subheader("Liquidations by exchange")
    panel.status_line(liquidations.status, details=False)
    table = summary.by_exchange(liquidations.frame, view.exchanges, liquidations.status.answered)
    if not liquidations.status.ok:
        st.info("No exchange's liquidations cover this window.")
    elif totals.total == 0:
        st.info("No liquidations recorded for this selection.")
    else:
        leader = table.sort_values("total", ascending=False).iloc[0]
        panel.chart(
            charts.exchange_breakdown(table),
            table,
            name="liquidations-by-exchange",
            alt=(
                f"Long and short liquidations per exchange; {EXCHANGE_NAMES[leader.exchange]} largest at "
                f"{summary.usd(leader.total)}."
            ),
            key="overview_exchanges",
        )

with st.container(border=True):
    st.subheader("Liquidations by coin")
    coins = summary.by_coin(liquidations.coins, TOP_COINS)
    if not liquidations.status.ok:
        st.info("No exchange's liquidations cover this window.")
    elif coins.empty:
        st.info("No liquidations recorded for this selection.")
    else:
        leader = coins.iloc[0]
        st.caption(f"The {TOP_COINS} most liquidated coins, the rest summed as Others; long and short stacked.")
        bars, treemap = st.tabs(["Ranking", "Treemap"])
        with bars:
            panel.chart(
                charts.coin_ranking(coins),
                coins,
                name="liquidations-by-coin",
                alt=f"Long and short liquidations per coin; {leader.asset} largest at {summary.usd(leader.total)}.",
                key="overview_coins",
            )
        with treemap:
            panel.chart(
                charts.coin_treemap(coins),
                coins,
                name="liquidations-by-coin-treemap",
                alt=f"Treemap of liquidations per coin, area by USD, colour by short share; {leader.asset} largest.",
                key="overview_coin_treemap",
            )

with st.container(border=True):
    st.subheader("Liquidations over time")
    if bursts is None:  # here, covered or not: the takeaways wait for these lines until they are in
        bursts = context.cascades(liquidations.frame, baseline)
        takeaways_done = fill_takeaways()
    if not liquidations.status.ok:
        st.info("No exchange's liquidations cover this window.")
    else:
        by_asset = summary.by_asset(liquidations.coins, tuple(liquidations.coins["asset"].unique()))
        most = next((a for a in by_asset["asset"] if a in series_assets), series_assets[0])
        price_asset = st.selectbox(
            "Price line", series_assets, index=series_assets.index(most), key="price", bind="query-params"
        )
        context.set_page_params({**context.page_params(), "price": price_asset})
        buckets = summary.over_time(liquidations.frame, view.start, view.end, to_offset(view.interval))
        price = summary.reference_candles(candles.frame, price_asset)
        panel.chart(
            cascades.mark(charts.liquidation_timeline(buckets, price, f"{price_asset} price"), bursts),
            buckets,
            name="liquidations-over-time",
            alt=f"Long (red) and short (green) liquidations per {view.interval} with the {price_asset} price"
            + (f"; {len(bursts)} cascade(s) shaded." if len(bursts) else "."),
            key="overview_timeline",
        )
        if len(bursts):
            st.caption(cascades.legend())

with st.container(border=True):
    st.subheader("Long/short ratio snapshot")
    kind = (
        st.segmented_control(
            "Ratio",
            RATIO_KINDS,
            default="accounts",
            format_func=RATIO_KIND_LABELS.get,
            key="ratio",
            bind="query-params",
        )
        or "accounts"
    )
    context.set_page_params({**context.page_params(), "ratio": RATIO_KIND_LABELS[kind]})
    ratios = context.wait(ratios_load, "Loading long/short ratios ...")
    if not takeaways_done:
        takeaways_done = fill_takeaways()
    panel.status_line(ratios.status)
    snapshot = summary.ratio_snapshot(ratios.frame, kind)
    if snapshot.empty:
        st.info("No long/short ratios for this selection.")
    else:
        st.caption("Ratio at the end of the window, and its change since the start (> 1: more longs).")
        panel.chart(
            charts.ratio_heatmap(snapshot, list(series_assets), list(view.exchanges)),
            snapshot,
            name=f"ratio-snapshot-{kind}",
            alt=f"{RATIO_KIND_LABELS[kind]} long/short ratio per asset and exchange at the end of the window.",
            key="overview_ratios",
        )

with st.container(border=True):
    st.subheader("Open interest and funding")
    open_interest = context.wait(open_interest_load, "Loading open interest ...")
    funding = context.wait(funding_load, "Loading funding ...")
    panel.status_line(open_interest.status)
    held = summary.positioning(open_interest.frame, funding.frame)
    if held.empty:
        st.info("No open interest or funding for this selection.")
    else:
        positioning.show(held)
