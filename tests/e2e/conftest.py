"""The services as separate processes, as `make run` starts them: free loopback ports, SQLite stores, a real
broker, and consumer groups of their own (so no process of an earlier test holds their partitions)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tandem_runtime.loopback import free_ports

BIN = Path(sys.executable).parent
SERVICES = ("goals", "checkins", "reviews", "projections")


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{url} exited early with {process.returncode}"
        try:
            if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready within {timeout}s")


@dataclass
class ServiceProcesses:
    """The four running services: their URLs, processes, environment, and the folder of their stores and logs."""

    urls: dict[str, str]
    processes: dict[str, subprocess.Popen]
    env: dict[str, str]
    folder: Path


@contextmanager
def service_processes(kafka_bootstrap: str, folder: Path) -> Iterator[ServiceProcesses]:
    """Start the four services with stores and logs (``<name>.log``) under ``folder``; stop whatever still runs."""
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    group = f"e2e-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        **{f"TANDEM_{name.upper()}_PORT": str(port) for name, port in ports.items()},
        "TANDEM_GOALS_DATABASE_URL": f"sqlite:///{folder}/goals.db",
        "TANDEM_GOALS_DIRECTORY_CONSUMER_GROUP": f"{group}.goals.directory",
        "TANDEM_GOALS_PLANNER_CONSUMER_GROUP": f"{group}.goals.planner",
        "TANDEM_CHECKINS_DATABASE_URL": f"sqlite:///{folder}/checkins.db",
        "TANDEM_CHECKINS_GOALS_CONSUMER_GROUP": f"{group}.checkins.goals",
        "TANDEM_CHECKINS_DIRECTORY_CONSUMER_GROUP": f"{group}.checkins.directory",
        "TANDEM_REVIEWS_DATABASE_URL": f"sqlite:///{folder}/reviews.db",
        "TANDEM_REVIEWS_CONSUMER_GROUP_PREFIX": f"{group}.reviews",
        "TANDEM_PROJECTIONS_DATABASE_URL": f"sqlite:///{folder}/read-model.db",
        "TANDEM_PROJECTIONS_CONSUMER_GROUP": f"{group}.projections",
    }
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    processes: dict[str, subprocess.Popen] = {}
    with ExitStack() as logs:
        try:
            for name in SERVICES:
                log = logs.enter_context(open(folder / f"{name}.log", "wb"))
                processes[name] = subprocess.Popen(
                    [str(BIN / f"tandem-{name}")], env=env, stdout=log, stderr=subprocess.STDOUT
                )
            for name, process in processes.items():
                wait_ready(urls[name], process)
            yield ServiceProcesses(urls, processes, env, folder)
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
            for process in processes.values():
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@pytest.fixture
def services(kafka_bootstrap, tmp_path) -> Iterator[tuple[dict[str, str], dict[str, subprocess.Popen]]]:
    """The four services as processes for one test: their URLs and processes, by service name."""
    with service_processes(kafka_bootstrap, tmp_path) as running:
        yield running.urls, running.processes
