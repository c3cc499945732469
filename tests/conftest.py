"""Fixtures shared by every test layer: a real Kafka broker and throwaway PostgreSQL databases.

Kafka: ``KAFKA_BOOTSTRAP_SERVERS`` names a cluster to use; otherwise ``deploy/local/kafka.sh`` starts a
broker from Maven Central jars in a temporary directory for the session.
PostgreSQL: ``TANDEM_TEST_POSTGRES_URL`` names a server to use; otherwise a throwaway cluster is made
with ``initdb``/``pg_ctl`` on a free loopback port. Without PostgreSQL installed, its tests are skipped,
unless ``TANDEM_REQUIRE_POSTGRES=1`` (CI sets it) turns that into a failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from tandem_runtime.local_postgres import ThrowawayPostgres, postgres_bindir
from tandem_runtime.topics import ensure_topics

ROOT = Path(__file__).resolve().parent.parent
KAFKA_SCRIPT = ROOT / "deploy" / "local" / "kafka.sh"


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """The bootstrap address of a real broker with every Tandem topic."""
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        asyncio.run(ensure_topics(given))
        yield given
        return
    state = tempfile.mkdtemp(prefix="tandem-kafka-")
    env = {**os.environ, "TANDEM_KAFKA_DIR": state}
    started = subprocess.run(["bash", str(KAFKA_SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=300)
    if started.returncode != 0:
        pytest.fail(f"local Kafka did not start:\n{started.stdout}\n{started.stderr}")
    bootstrap = started.stdout.strip().splitlines()[-1].split("=", 1)[1]
    try:
        yield bootstrap
    finally:
        subprocess.run(["bash", str(KAFKA_SCRIPT), "stop"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server for the session."""
    given = os.environ.get("TANDEM_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    bindir = postgres_bindir()
    if bindir is None:
        message = "PostgreSQL is not installed (Debian: apt-get install postgresql)"
        if os.environ.get("TANDEM_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    cluster = ThrowawayPostgres(bindir)
    cluster.start()
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture
def new_postgres_database(postgres_server: str) -> Callable[[], str]:
    """Make a fresh, empty database on the session's server; returns its URL."""

    def create() -> str:
        name = f"tandem_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(postgres_server, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return postgres_server.rsplit("/", 1)[0] + f"/{name}"

    return create
