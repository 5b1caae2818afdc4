"""Per asset (any listed coin): price, volume and liquidations on one time axis; ratios, OI and funding.

First screen: the KPIs (last price, liquidations) and the price, volume and liquidations chart; they need only
the candles and liquidations, so they draw as soon as those arrive. The ratios, open interest and funding are
asked for once those are in and waited for where their panels are drawn.
"""

import streamlit as st

from components import charts, context, filters, liquidation_table, panel, summary
from data_sources.intervals import to_offset
from data_sources.schema import EXCHANGE_NAMES

view = filters.current()
choices = view.selected or view.universe.assets
linked, unknown = filters.link_values("asset", view.universe.assets)
for value in unknown:
    st.warning(
        f"Ignored asset {value!r} from the link: not a coin the selected exchanges list.", icon=":material/info:"
    )
if linked and linked[-1] not in choices:
    choices = (*choices, linked[-1])
    st.info(f"{linked[-1]} from the link is not among the selected assets; it is shown anyway.", icon=":material/info:")
filters.adopt_link_case("asset", choices, many=False)
asset = st.selectbox(
    "Asset", choices, key="asset", bind="query-params", help="Every coin the selected exchanges list; type to search."
)
context.set_page_params({"asset": asset})

first_screen = liquidations_load, candles_load = context.start_each(("liquidations", (asset,)), ("candles", (asset,)))
ratios_load, open_interest_load, funding_load = context.start_each(
    ("ratios", (asset,)), ("open_interest", (asset,)), ("funding", (asset,)), after=first_screen
)

st.title(f"{asset} perpetuals")
st.caption(f"{view.label} · {view.interval} bars")
liquidations = context.wait(liquidations_load, "Loading liquidations ...")
candles = context.wait(candles_load, "Loading prices ...")
moves = summary.price_moves(candles.frame)
kpis = st.columns(4)
if moves.empty:
    kpis[0].metric("Last price (change)", "n/a", border=True)
else:
    move = moves.iloc[0]
    kpis[0].metric("Last price (change)", summary.price(move.close), summary.pct(move.change, signed=True), border=True)
totals = panel.liquidation_metrics(kpis[1:], liquidations)
panel.liquidation_coverage((liquidations.status,), context.stream_freshness(view.exchanges))

with st.container(border=True):
    reference = summary.reference_candles(candles.frame, asset)
    where = EXCHANGE_NAMES.get(reference["exchange"].iloc[0], "") if not reference.empty else ""
    candles_from = f"{where} candles, " if where else ""
    st.subheader(f"Price, volume and liquidations ({candles_from}liquidations on all selected exchanges)")
    panel.status_line(candles.status)
    buckets = summary.over_time(liquidations.frame, view.start, view.end, to_offset(view.interval))
    if reference.empty:
        st.info("No candles for this selection.")
    else:
        panel.chart(
            charts.candles_with_liquidations(reference, buckets, f"{asset} ({where})", covered=liquidations.status.ok),
            reference,
            name=f"{asset}-candles",
            alt=f"{asset} {view.interval} candlesticks with volume and long/short liquidation bars underneath.",
            key="asset_candles",
        )

left, right = st.columns([2, 3])
with left.container(border=True):
    st.subheader(f"{asset} liquidations by exchange")
    panel.status_line(liquidations.status, details=False)
    table = summary.by_exchange(liquidations.frame, view.exchanges, liquidations.status.answered)
    if not liquidations.status.ok:
        st.info("No exchange's liquidations cover this window.")
    else:
        panel.chart(
            charts.exchange_breakdown(table),
            table,
            name=f"{asset}-liquidations-by-exchange",
            alt=f"{asset} long and short liquidations per exchange, total {summary.usd(totals.total)}.",
            key="asset_exchanges",
        )
with right.container(border=True):
    st.subheader(f"Largest {asset} liquidations")
    min_usd = liquidation_table.min_usd_filter("asset_min_usd")
    if min_usd:
        context.set_page_params({"asset": asset, liquidation_table.MIN_USD_PARAM: str(min_usd)})
    biggest = liquidation_table.largest(liquidations.frame, min_usd, 20)
    if biggest.empty:
        at_least = f" of at least {summary.usd(min_usd)}" if min_usd else ""
        st.info(f"No {asset} liquidations{at_least} in this window.")
    else:
        liquidation_table.show(biggest, f"Qty ({asset})", height=350)

with st.container(border=True):
    st.subheader("Long/short ratios per exchange")
    ratios = context.wait(ratios_load, "Loading long/short ratios ...")
    panel.status_line(ratios.status)
    if ratios.frame.empty:
        st.info("No long/short ratios for this selection.")
    else:
        panel.chart(
            charts.ratios_over_time(ratios.frame),
            ratios.frame,
            name=f"{asset}-ratios",
            alt=f"{asset} long/short ratios of every kind, one line per exchange.",
            key="asset_ratios",
        )

with st.container(border=True):
    st.subheader("Open interest and funding")
    open_interest = context.wait(open_interest_load, "Loading open interest ...")
    funding = context.wait(funding_load, "Loading funding ...")
    panel.status_line(open_interest.status)
    if open_interest.frame.empty and funding.frame.empty:
        st.info("No open interest or funding for this selection.")
    else:
        panel.chart(
            charts.open_interest_and_funding(open_interest.frame, funding.frame),
            open_interest.frame,
            name=f"{asset}-open-interest",
            alt=f"{asset} open interest in USD per exchange above funding rates per exchange.",
            key="asset_oi_funding",
        )


@st.fragment(run_every="5s")
def live_feed() -> None:
    """The newest recorded liquidations; reads the store only, never an exchange."""
    feed = context.recent_liquidations(asset, view.exchanges, 15)
    if feed is None or feed.empty:
        st.info("Nothing recorded yet for this asset: run `python -m data_sources.recorder` beside the app.")
        return
    liquidation_table.show(liquidation_table.newest(feed), f"Qty ({asset})")


if context.recent_liquidations(asset, view.exchanges, 1) is not None:
    with st.container(border=True):
        st.subheader(f"Live {asset} liquidation feed")
        st.caption("The newest events the recorder stored, refreshed every 5 s.")
        live_feed()
