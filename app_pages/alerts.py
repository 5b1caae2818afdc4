"""Alerts: the rules the writing process runs (LIQSCOPE_ALERTS) and the last alerts it sent.

The recorder or collector evaluates the rules on the liquidations it stores and sends the alerts;
this page only shows them: the rules as the file states them (webhook and notify URLs masked, they
are secrets) and the sent alerts read back from the store through `data_sources.alerts`. It draws
no chart and makes no request.
"""

import pandas as pd
import streamlit as st

from data_sources import alerts, settings
from data_sources.base import SourceError
from data_sources.schema import EXCHANGE_NAMES
from data_sources.units import compact_usd

SENT_SHOWN = 50


def rules_frame(rules: tuple[alerts.Rule, ...]) -> pd.DataFrame:
    """One row per rule, as a person reads it ("all" for an empty venue or coin list)."""
    return pd.DataFrame(
        {
            "rule": [r.name for r in rules],
            "side": [r.side for r in rules],
            "over": [compact_usd(r.usd_over) for r in rules],
            "within": [r.window for r in rules],
            "exchanges": [", ".join(EXCHANGE_NAMES[e] for e in sorted(r.exchanges)) or "all" for r in rules],
            "assets": [", ".join(sorted(r.assets)) or "all" for r in rules],
            "webhook": [alerts.mask(r.webhook) for r in rules],
            "notify": [alerts.mask(r.notify) for r in rules],
        }
    )


def sent_frame(sent: pd.DataFrame) -> pd.DataFrame:
    """The stored alerts with USD compact and venue names."""
    shown = sent.copy()
    shown["usd"] = shown["usd"].map(compact_usd)
    shown["exchanges"] = shown["exchanges"].map(
        lambda ids: ", ".join(EXCHANGE_NAMES.get(e, e) for e in ids.split(",") if e)
    )
    return shown


# --- layout -------------------------------------------------------------------------------------------------------

config = settings.load()
st.header("Alerts")
st.caption(
    "The recorder and the collector evaluate these rules on the liquidations they store (event time) and send "
    "at most one alert per rule per window."
)

if not config.alerts_path:
    st.info(
        "No alert rules: write `[[rule]]` tables in a TOML file and set `LIQSCOPE_ALERTS` to its path "
        "(see the README's Alerts section).",
        icon=":material/notifications_off:",
    )
else:
    try:
        rules = alerts.configured(config)
    except alerts.RuleError as error:
        st.error(f"The alert rules cannot be used: {error}", icon=":material/error:")
    else:
        st.subheader(f"Active rules ({len(rules)})")
        st.dataframe(rules_frame(rules), hide_index=True, width="stretch")
    st.subheader("Last alerts sent")
    try:
        sent = alerts.sent(SENT_SHOWN, config.db_path)
    except SourceError as error:
        st.warning(f"The sent alerts cannot be read: {error}", icon=":material/cloud_off:")
    else:
        if sent is None or sent.empty:
            st.info("No alert sent yet.", icon=":material/inbox:")
        else:
            st.dataframe(sent_frame(sent), hide_index=True, width="stretch")
