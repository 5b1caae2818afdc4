"""The container files: compose.yaml wires db, migrate, collector and app as documented, and every command
the image runs works directly (Docker itself may be missing where the tests run)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import yaml

from data_sources.store import MIGRATIONS
from tests.conftest import ROOT
from tests.postgres import PostgresServer
from tests.servers import streamlit_server

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instruction(name: str) -> list[str]:
    """The exec-form (JSON array) arguments of a Dockerfile instruction, continuation lines joined."""
    text = DOCKERFILE.replace("\\\n", " ")
    return json.loads(re.search(rf"^{name}\b.*?(\[.*\])\s*$", text, re.MULTILINE).group(1))


def test_compose_orders_the_services_and_keeps_the_database() -> None:
    assert SERVICES["db"]["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(SERVICES["db"]["healthcheck"]["test"])
    assert SERVICES["db"]["volumes"] == ["pgdata:/var/lib/postgresql/data"] and "pgdata" in COMPOSE["volumes"]
    for name in ("migrate", "collector", "app"):
        service = SERVICES[name]
        assert service["image"] == "liqscope:latest" and service["build"] == "." and service["env_file"] == ".env"
        assert service["environment"]["LIQSCOPE_DB"].startswith("postgresql://")
        assert service["depends_on"]["db"] == {"condition": "service_healthy"}
    assert "recorder" not in SERVICES  # the collector records the streams too: one writer
    assert SERVICES["app"]["environment"]["LIQSCOPE_DATA"] == "${LIQSCOPE_DATA:-store}"  # replicas never call a venue
    for name in ("collector", "app"):
        assert SERVICES[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert SERVICES[name]["restart"] == "unless-stopped"
    assert SERVICES["migrate"]["restart"] == "no"
    assert "container_name" not in SERVICES["app"]  # scalable: replicas get their own names and ports
    assert "USER liqscope" in DOCKERFILE and "curl" not in instruction("HEALTHCHECK")


def _run(command: list[str], db: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LIQSCOPE_DB": db}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_migrate_and_collector_commands_run_as_compose_gives_them(postgres: PostgresServer) -> None:
    db = postgres.database()
    migrate = [sys.executable, *SERVICES["migrate"]["command"][1:]]
    migrated = _run(migrate, db)
    assert migrated.returncode == 0 and migrated.stdout.endswith(f"schema version {len(MIGRATIONS)}\n"), migrated.stderr
    collector = _run([sys.executable, *SERVICES["collector"]["command"][1:], "--help"], db)
    assert collector.returncode == 0 and "postgresql:// URL" in collector.stdout


def test_the_image_healthcheck_passes_against_the_app(postgres: PostgresServer) -> None:
    healthcheck = instruction("HEALTHCHECK")
    assert healthcheck[:2] == ["python", "-c"] and instruction("CMD")[:3] == ["streamlit", "run", "app.py"]
    with streamlit_server({"LIQSCOPE_DATA": "demo", "LIQSCOPE_DB": postgres.database()}) as base:
        probe = healthcheck[2].replace("http://localhost:8501", base)
        assert subprocess.run([sys.executable, "-c", probe], timeout=30).returncode == 0
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=30).returncode != 0
