"""Keep the full garbage collection Streamlit runs after every script run cheap.

Streamlit calls `gc.collect(2)` after each run (`runner.postScriptGC`, on by default, to keep memory down). A full
collection walks every object the collector tracks, and right after the app's imports that is about 135,000 objects
(pandas, Plotly, pyarrow, Streamlit): 55-70 ms on 2 cores, holding the GIL while the server still sends the end of
the run. The imported modules live as long as the process, so they are moved out of the collector once
(`gc.freeze`, the permanent generation); objects the app creates later are collected as before, and reference
counting still frees frozen objects.
"""

from __future__ import annotations

import gc


def freeze_imports() -> None:
    """Collect once, then move every object alive now out of the cyclic collector; later calls do nothing."""
    if gc.get_freeze_count():
        return
    gc.collect()
    gc.freeze()
