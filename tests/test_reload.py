"""What a new session (a page load or reload) costs the server besides the script: no source-file watcher, and the
full garbage collection after each run skipping the imported libraries (README, Performance: the warm reload)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

FRESH = {**os.environ, "LIQSCOPE_DATA": "demo", "LIQSCOPE_DB": "/nonexistent/liqscope.db"}


def _python(code: str) -> str:
    """Run `code` in a fresh interpreter in the project folder (as `streamlit run app.py` does); its last line."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=FRESH, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_streamlit_runs_the_app_without_a_file_watcher() -> None:
    """Streamlit, reading the project's .streamlit/config.toml, builds no source watcher for a new session."""
    code = "from streamlit import config; config.get_config_options(force_reparse=True); "
    code += "print(config.get_option('server.fileWatcherType'))"
    assert _python(code) == "none"


def test_the_frame_moves_the_imported_libraries_out_of_the_collector_once() -> None:
    """After the first run the libraries' objects are frozen (a full collection no longer walks them); a second run
    freezes nothing more (frozen objects the app drops are still freed, so the count may only fall)."""
    code = """
import gc, json
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=120)
at.run()
assert not at.exception, at.exception
first = gc.get_freeze_count()
at.run()
print(json.dumps({"frozen": first, "again": gc.get_freeze_count(), "tracked": len(gc.get_objects())}))
"""
    counts = json.loads(_python(code))
    assert counts["frozen"] > 50_000  # pandas, Plotly, pyarrow, Streamlit
    assert counts["again"] <= counts["frozen"]
    assert counts["tracked"] < counts["frozen"]
