"""`make run` (deploy/local/run.sh): a dead service comes back, Ctrl-C stops everything, data survives a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from tandem_runtime.loopback import free_ports

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("goals", "checkins", "reviews", "projections")


class Stack:
    """One run of run.sh: its process, output and ports."""

    def __init__(self, process: subprocess.Popen[str], output: Path, ports: dict[str, int]) -> None:
        self.process = process
        self.output = output
        self.ports = ports

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_for(self, line: str, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while line not in self.text():
            assert self.process.poll() is None, f"run.sh exited with {self.process.returncode}:\n{self.text()[-3000:]}"
            assert time.monotonic() < deadline, f"no {line!r} within {timeout}s:\n{self.text()[-3000:]}"
            time.sleep(0.2)

    def service_pid(self, name: str) -> int:
        children = psutil.Process(self.process.pid).children()
        return next(c.pid for c in children if any(part.endswith(f"tandem-{name}") for part in c.cmdline()))

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def stop(self) -> None:
        """Ctrl-C, as a terminal sends it to run.sh."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=120)


@contextmanager
def run_script(var: Path, ports: dict[str, int], output: Path) -> Iterator[Stack]:
    env = {**os.environ, "TANDEM_VAR_DIR": str(var), **{f"TANDEM_{n.upper()}_PORT": str(p) for n, p in ports.items()}}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)  # run.sh starts its broker in var/kafka, as `make run` does
    with open(output, "w") as out:
        process = subprocess.Popen(["bash", str(ROOT / "deploy" / "local" / "run.sh")], env=env, stdout=out,
                                   stderr=subprocess.STDOUT, text=True)
    stack = Stack(process, output, ports)
    try:
        yield stack
    finally:
        stack.stop()


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health/ready", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def kafka_pid(var: Path) -> int:
    return int((var / "kafka" / "kafka.pid").read_text())


@pytest.mark.timeout(600)
def test_run_restarts_a_killed_service_stops_on_ctrl_c_and_keeps_the_demo_for_the_next_run(tmp_path):
    var = tmp_path / "var"
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))

    with run_script(var, ports, tmp_path / "first.out") as first:
        first.wait_for("Press Ctrl-C")
        assert "demo organisation loaded" in first.text()
        goals = first.service_pid("goals")
        os.kill(goals, signal.SIGKILL)
        first.wait_for("goals restarted")
        deadline = time.monotonic() + 120
        while not ready(first.url("goals")):
            assert time.monotonic() < deadline, "the restarted goals service never became ready"
            time.sleep(0.2)
        assert first.service_pid("goals") != goals
        assert "status 137" in (var / "logs" / "goals.log").read_text(), "the restart is in the service's log"
        started = [first.service_pid(name) for name in SERVICES] + [kafka_pid(var)]
        first.stop()
        assert first.process.returncode != 0 or "stopped." in first.text()
        assert not [pid for pid in started if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]

    with run_script(var, ports, tmp_path / "second.out") as second:
        second.wait_for("Press Ctrl-C")
        assert "restarting on the existing data" in second.text(), "the broker kept its data"
        assert "demo organisation already present" in second.text(), second.text()[-2000:]
        team = httpx.get(f"{second.url('projections')}/v1/dashboards/alignment", params={"manager_id": "mgr-ana"}).json()
        assert (team["rollup"]["employees"], team["rollup"]["performance_goals"]) == (3, 3), "the reps' goals, once each"
        check_ins = httpx.get(f"{second.url('checkins')}/v1/employees/rep-ben/check-ins", params={"limit": 500}).json()
        assert len(check_ins) == 12, "Ben's check-ins once each, not twice"
