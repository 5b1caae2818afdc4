"""liqscope: the frame every page runs inside.

Pattern (see README, "Routing"): this entrypoint reads settings, picks the data
source, draws the shared filters once in the sidebar (bound to the URL), then
hands over to `st.navigation`. Page scripts live in `app_pages/` (not `pages/`,
which Streamlit would auto-discover and run without this frame on a cold-start
deep link) and only lay out what they read from `st.session_state`.
"""

import streamlit as st

from components import context, filters, heap, panel
from data_sources import market, registry, settings

heap.freeze_imports()  # once per process: the per-run full collection then skips the imported libraries

st.set_page_config(page_title="liqscope", page_icon=":material/waterfall_chart:", layout="wide")

config = settings.load()
choice = registry.choose(config)
context.set_source(choice)
context.set_page_params({})
view = filters.sidebar(choice)
share_slot = st.sidebar.container()
st.sidebar.button(
    "Refresh data",
    icon=":material/refresh:",
    on_click=market.refresh,
    width="stretch",
    help="Fetch again now; a source that fails keeps showing its last data, with its age.",
)

page = st.navigation(
    [
        st.Page(
            "app_pages/overview.py", title="Overview", icon=":material/dashboard:", url_path="overview", default=True
        ),
        st.Page("app_pages/asset.py", title="Asset", icon=":material/candlestick_chart:", url_path="asset"),
        st.Page("app_pages/exchange.py", title="Exchange", icon=":material/account_balance:", url_path="exchange"),
        st.Page("app_pages/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
        st.Page("app_pages/alerts.py", title="Alerts", icon=":material/notifications:", url_path="alerts"),
    ],
    position="top",
)

if choice.source.simulated:
    st.info(
        f"**{panel.DEMO_LABEL}**: a seeded replay of the 2025-05-08 squeeze; no number is a real trade.",
        icon=":material/science:",
    )
if choice.banner:
    with st.expander(choice.banner.split(". ")[0], icon=":material/cloud_off:"):
        st.warning(choice.banner)
if empty_store := context.check_nothing_stored():
    st.info(empty_store, icon=":material/inventory_2:")
for note in (*config.notes, *view.notes):
    st.warning(note, icon=":material/info:")

page.run()

with share_slot:
    panel.share_control(page.url_path, view, context.page_params())
