"""Per exchange: its liquidations by asset, its share of all exchanges, its ratios.

With no asset selected the liquidations are the whole market's (the 20 most liquidated coins are
charted); ratios are the top coins by open interest plus the selection, as on the overview.

First screen: the KPIs, liquidations by asset and the share of each asset's liquidations; they need only the
liquidations (everywhere, then this exchange's), so they draw as soon as those arrive. The ratios, open interest
and funding are asked for once those are in and waited for where their panels are drawn.
"""

import streamlit as st

from components import cascades, charts, context, filters, panel, positioning, summary
from data_sources.intervals import to_offset
from data_sources.schema import EXCHANGE_NAMES, EXCHANGES

TOP_COINS = 20

view = filters.current()
multi_day = cascades.multi_day(view.start, view.end)  # cascade lines then carry their date
liquidation_assets = context.liquidation_assets()
choices = view.exchanges
linked, unknown = filters.link_values("exchange", EXCHANGES)
for value in unknown:
    st.warning(f"Ignored exchange {value!r} from the link: not an exchange liqscope reads.", icon=":material/info:")
if linked and linked[-1] not in choices:
    choices = (*choices, linked[-1])
    st.info(
        f"{EXCHANGE_NAMES[linked[-1]]} from the link is not among the selected exchanges; it is shown anyway.",
        icon=":material/info:",
    )
filters.adopt_link_case("exchange", choices, many=False, shown=filters.exchange_name)
(everywhere_load,) = context.start_each(("liquidations", liquidation_assets), exchanges=EXCHANGES)
everywhere = context.wait(everywhere_load, "Loading liquidations ...")
covered = [e for e in view.exchanges if e in everywhere.status.answered]
exchange = st.selectbox(
    "Exchange",
    choices,
    index=choices.index(covered[0]) if covered else 0,
    format_func=filters.exchange_name,
    key="exchange",
    bind="query-params",
    help="Opens on the first selected exchange whose liquidations cover the window.",
)
context.set_page_params({"exchange": filters.exchange_name(exchange)})
name = EXCHANGE_NAMES.get(exchange, exchange)
series_assets = context.series_assets(context.top_assets())
first_screen = (liquidations_load,) = context.start_each(("liquidations", liquidation_assets), exchanges=(exchange,))
baseline = context.start_baseline(liquidations_load, liquidation_assets, exchanges=(exchange,))
ratios_load, open_interest_load, funding_load = context.start_each(
    ("ratios", series_assets),
    ("open_interest", series_assets),
    ("funding", series_assets),
    exchanges=(exchange,),
    after=(*first_screen, baseline),
)
NO_COVER = "No selected exchange's liquidations cover this window (see the notes below)"
no_cover = st.empty() if not covered and not context.nothing_stored() else None
if no_cover is not None:
    no_cover.info(f"{NO_COVER}.", icon=":material/block:")
liquidations = context.wait(liquidations_load, "Loading liquidations ...")
all_totals = summary.liquidation_totals(everywhere.frame)
others = [e for e in EXCHANGES if e != exchange]
others_covered = [e for e in others if e in everywhere.status.answered]
others_missing = ", ".join(EXCHANGE_NAMES[e] for e in others if e not in others_covered)
if not liquidations.status.ok:
    no_share = f"No share to compute: {name}'s liquidations are not covered for this window."
elif not others_covered:
    no_share = f"No share to compute: no other exchange's liquidations cover this window ({others_missing})."
else:
    no_share = None
if len(others_covered) == len(others):
    denominator = "all exchanges"
else:
    covered_names = ", ".join(EXCHANGE_NAMES[e] for e in (exchange, *others_covered))
    denominator = f"covered exchanges ({covered_names}; {others_missing} not covered)"

st.title(f"{name} liquidations and positioning")
st.caption(f"{view.label} · {view.market_label} · {view.interval} bars")
kpis = st.columns(4)
totals = panel.liquidation_metrics(kpis[:3], liquidations)
share = totals.total / all_totals.total if no_share is None and all_totals.total else float("nan")
kpis[3].metric(
    "Share of covered exchanges" if no_share is None and others_missing else "Share of all exchanges",
    summary.pct(share),
    help=no_share or f"{name}'s liquidations as a share of {denominator}.",
    border=True,
)
panel.liquidation_coverage((liquidations.status, everywhere.status), context.stream_freshness(EXCHANGES))

left, right = st.columns(2)
with left.container(border=True):
    st.subheader(f"{name} liquidations by asset")
    panel.status_line(liquidations.status, details=False)
    most = summary.by_asset(liquidations.coins, tuple(liquidations.coins["asset"].unique()))["asset"]
    shown = view.selected or tuple(most.head(TOP_COINS))
    if view.whole_market:
        st.caption(f"The {TOP_COINS} coins most liquidated on {name}.")
    table = summary.by_asset(liquidations.coins, shown)
    if not liquidations.status.ok:
        st.info(f"{name}'s liquidations are not covered for this window.")
    else:
        panel.chart(
            charts.asset_breakdown(table),
            table,
            name=f"{exchange}-liquidations-by-asset",
            alt=f"Long and short liquidations per asset on {name}.",
            key="exchange_assets",
        )
with right.container(border=True):
    st.subheader(f"{name} share of each asset's liquidations")
    panel.status_line(everywhere.status, details=False)
    all_by_asset = summary.by_asset(everywhere.coins, shown).set_index("asset")
    shares = table.set_index("asset")["total"].div(all_by_asset["total"].where(all_by_asset["total"] > 0))
    share_table = shares.rename("share").reset_index()
    if no_share is not None:
        st.info(no_share)
    else:
        panel.chart(
            charts.exchange_share(share_table, exchange, denominator),
            share_table,
            name=f"{exchange}-share-by-asset",
            alt=f"{name}'s share of each asset's liquidations across {denominator}; overall {summary.pct(share)}.",
            key="exchange_share",
        )

with st.container(border=True):
    st.subheader(f"{name} liquidations over time")
    buckets = summary.over_time(liquidations.frame, view.start, view.end, to_offset(view.interval))
    if not liquidations.status.ok:
        st.info(f"{name}'s liquidations are not covered for this window.")
    else:
        bursts = context.cascades(liquidations.frame, baseline)
        panel.chart(
            cascades.mark(charts.liquidation_timeline(buckets), bursts),
            buckets,
            name=f"{exchange}-liquidations-over-time",
            alt=f"Long (red) and short (green) liquidations on {name} per {view.interval}"
            + (f"; {len(bursts)} cascade(s) shaded." if len(bursts) else "."),
            key="exchange_timeline",
        )
        if len(bursts):
            st.caption(cascades.legend())
            st.markdown("\n".join(f"- {line}" for line in cascades.takeaway_lines(bursts, dated=multi_day)))

with st.container(border=True):
    st.subheader(f"{name} long/short ratios per asset")
    ratios = context.wait(ratios_load, "Loading long/short ratios ...")
    if no_cover is not None and not ratios.frame.empty:
        no_cover.info(f"{NO_COVER}; {name}'s long/short ratios are still shown.", icon=":material/block:")
    panel.status_line(ratios.status)
    if ratios.frame.empty:
        st.info("No long/short ratios for this selection.")
    else:
        panel.chart(
            charts.ratios_over_time(ratios.frame, color_by="asset"),
            ratios.frame,
            name=f"{exchange}-ratios",
            alt=f"Long/short ratios of every kind on {name}, one line per asset.",
            key="exchange_ratios",
        )

with st.container(border=True):
    st.subheader(f"{name} open interest and funding")
    open_interest = context.wait(open_interest_load, "Loading open interest ...")
    funding = context.wait(funding_load, "Loading funding ...")
    panel.status_line(open_interest.status)
    held = summary.positioning(open_interest.frame, funding.frame)
    if held.empty:
        st.info(f"No open interest or funding on {name} for this selection.")
    else:
        positioning.show(held)
