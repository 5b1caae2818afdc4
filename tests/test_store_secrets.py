"""A database URL's password never reaches an error, a log line, a command's output or a page."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from data_sources import storage
from data_sources.dburl import is_url, masked, scrub
from data_sources.store import MIGRATIONS, Event, StoreError
from tests.conftest import ROOT
from tests.fake_exchanges import FakeExchanges
from tests.postgres import PASSWORD, USER, PostgresServer

WRONG = "wr0ng-Pa55-7f3e"


class TestMasked:
    def test_the_password_in_user_info_and_query_is_masked(self) -> None:
        assert masked("postgresql://app:hunter2@db:5432/liq") == "postgresql://app:***@db:5432/liq"
        assert masked("postgres://app:p@ss/w?rd@db/liq?password=x&sslmode=require") == (
            "postgres://app:***@db/liq?password=***&sslmode=require"
        )

    def test_urls_without_a_password_and_paths_are_unchanged(self) -> None:
        for target in ("postgresql://app@db/liq", "postgresql:///liq", "data/liqscope.db"):
            assert masked(target) == target
        assert is_url("POSTGRESQL://db/liq") and not is_url("data/postgresql.db")

    def test_scrub_removes_the_raw_and_percent_decoded_password(self) -> None:
        url = "postgresql://app:p%40ss@db/liq"
        assert scrub(f"failed for {url} with p@ss and p%40ss", url) == (
            "failed for postgresql://app:***@db/liq with *** and ***"
        )


def rendered(node: object) -> str:
    """Every element's protobuf message under an AppTest node, as text (repr(at) elides long trees)."""
    parts = [str(getattr(node, "proto", ""))]
    parts += [rendered(child) for child in getattr(node, "children", {}).values()]
    return "\n".join(parts)


def _clean(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, text


@pytest.mark.parametrize("fault", ["wrong password", "unreachable port", "unknown database"])
def test_failed_opens_name_the_masked_url_and_never_the_password(
    postgres: PostgresServer, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = {
        "wrong password": postgres.url(password=WRONG),
        "unreachable port": f"postgresql://{USER}:{WRONG}@127.0.0.1:1/postgres",
        "unknown database": postgres.url("no_such_db"),
    }[fault]
    with pytest.raises(StoreError) as raised:
        storage.connect(url)
    message = str(raised.value)
    assert message.startswith(f"Cannot open the liquidation store at {masked(url)}: ")
    assert message.endswith("Set LIQSCOPE_DB.")
    _clean(message + caplog.text, WRONG, PASSWORD)


def test_a_working_store_logs_no_password(postgres: PostgresServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    store = storage.connect(postgres.database())
    store.insert([Event("okx", "BTC-USDT-SWAP", "BTC", 1, "long", 1.0, 1.0)])
    store.close()
    _clean(caplog.text, PASSWORD)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_migrate_and_recorder_commands_print_a_masked_error(postgres: PostgresServer) -> None:
    url = postgres.database()
    done = _run("-m", "data_sources", "migrate", "--db", url)
    assert (
        done.returncode == 0
        and done.stdout == f"liquidation store at {masked(url)}: schema version {len(MIGRATIONS)}\n"
    )
    refused = _run("-m", "data_sources", "migrate", "--db", postgres.url(password=WRONG))
    assert refused.returncode == 1 and "password authentication failed" in refused.stderr
    assert "Traceback" not in refused.stderr
    recorder = _run("-m", "data_sources.recorder", "--db", postgres.url(password=WRONG), "--status-every", "0")
    assert recorder.returncode == 2 and "Cannot open the liquidation store at postgresql://liqscope:***@" in (
        recorder.stderr
    )
    _clean(done.stdout + done.stderr + refused.stdout + refused.stderr + recorder.stderr, PASSWORD, WRONG)


def test_libpq_keyword_connection_strings_are_postgresql_and_masked(postgres: PostgresServer, tmp_path) -> None:
    """`host=... password=...` is a PostgreSQL target (never a SQLite file named after it), masked everywhere."""
    name = postgres.database().rpartition("/")[2]
    keywords = f"host=127.0.0.1 port={postgres.port} dbname={name} user=liqscope password={PASSWORD}"
    done = subprocess.run(
        [sys.executable, "-m", "data_sources", "migrate", "--db", keywords],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout == f"liquidation store at {keywords.replace(PASSWORD, '***')}: schema version {len(MIGRATIONS)}\n"
    )
    wrong = _run("-m", "data_sources", "migrate", "--db", keywords.replace(PASSWORD, WRONG))
    assert wrong.returncode == 1 and "password authentication failed" in wrong.stderr
    assert list(tmp_path.iterdir()) == []
    _clean(done.stdout + done.stderr + wrong.stdout + wrong.stderr, PASSWORD, WRONG)


def test_migrate_command_works_on_sqlite_too(tmp_path) -> None:
    done = _run("-m", "data_sources", "migrate", "--db", str(tmp_path / "new.db"))
    assert done.returncode == 0 and done.stdout.startswith(
        f"liquidation store at {tmp_path / 'new.db'}: schema version"
    )


def test_pages_with_an_unreachable_store_show_no_password(
    postgres: PostgresServer, exchanges: FakeExchanges, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIQSCOPE_DATA", "live")
    monkeypatch.setenv("LIQSCOPE_DB", postgres.url(password=WRONG))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update({"range": [f"{exchanges.market.seed_day:%Y-%m-%d}"], "assets": ["ETH"], "interval": "4h"})
    for page in ("app_pages/overview.py", "app_pages/asset.py", "app_pages/exchange.py"):
        at.switch_page(page).run()
        assert not at.exception
        page_text = rendered(at._tree)
        _clean(page_text, WRONG, PASSWORD)
        assert "liquidation store at postgresql://liqscope:***@" in page_text
