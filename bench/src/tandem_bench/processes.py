"""Processes the benchmark starts (services, workers), and the peak memory of everything it watches.

Everything started here listens on 127.0.0.1 and is stopped by its own pid, never by name.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from tandem_runtime.loopback import free_port

BIN = Path(sys.executable).parent


class PeakRss(threading.Thread):
    """Samples the resident memory of named processes every 100 ms and keeps each one's peak."""

    def __init__(self, interval: float = 0.1) -> None:
        super().__init__(name="peak-rss", daemon=True)
        self.interval = interval
        self.peaks: dict[str, int] = {}
        self._watched: dict[str, tuple[psutil.Process, bool]] = {}
        self._lock = threading.Lock()
        self._done = threading.Event()

    def watch(self, name: str, pid: int, with_children: bool = False) -> None:
        """Sample ``pid`` (plus its children, e.g. PostgreSQL's backends) under ``name``."""
        try:
            process = psutil.Process(pid)
        except psutil.NoSuchProcess:
            return
        with self._lock:
            self._watched[name] = (process, with_children)
        self._sample(name, process, with_children)

    def run(self) -> None:
        """Sample until ``stop``."""
        while not self._done.wait(self.interval):
            with self._lock:
                watched = list(self._watched.items())
            for name, (process, with_children) in watched:
                self._sample(name, process, with_children)

    def _sample(self, name: str, process: psutil.Process, with_children: bool) -> None:
        try:
            rss = process.memory_info().rss
            if with_children:
                rss = _group_rss([process, *process.children(recursive=True)])
        except psutil.Error:
            with self._lock:
                self._watched.pop(name, None)  # it ended; its peak stays
            return
        if rss > self.peaks.get(name, 0):
            self.peaks[name] = rss

    def stop(self) -> dict[str, int]:
        """Stop sampling; the peaks in bytes by name."""
        self._done.set()
        if self.is_alive():
            self.join(timeout=2)
        return dict(self.peaks)


def _group_rss(processes: list[psutil.Process]) -> int:
    """The resident memory of processes that share memory (PostgreSQL's backends map one buffer pool): each
    one's own pages, plus the shared ones once. Summing their RSS would count the shared buffers once per
    backend that touched them."""
    own, shared = 0, 0
    for process in processes:
        try:
            memory = process.memory_info()
        except psutil.Error:
            continue  # a backend that just ended
        own += memory.rss - memory.shared
        shared = max(shared, memory.shared)
    return own + shared


@dataclass
class ServiceProcess:
    """A service (its console script, or the no-op app) run on a free loopback port."""

    name: str
    command: list[str]
    env_prefix: str
    logs: Path
    environment: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The service's base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The process id (only after ``start``)."""
        assert self.process is not None
        return self.process.pid

    def start(self, bootstrap: str) -> None:
        """Start the process on its port, its output appended to its log file (a restart keeps the last run's)."""
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            f"{self.env_prefix}HOST": "127.0.0.1",
            f"{self.env_prefix}PORT": str(self.port),
            f"{self.env_prefix}LOG_LEVEL": "WARNING",
            **self.environment,
        }
        self.logs.parent.mkdir(parents=True, exist_ok=True)
        with open(self.logs, "ab") as log:
            self.process = subprocess.Popen(self.command, env=env, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> None:
        """Poll ``/health/ready`` until it answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.logs}:\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready within {timeout:.0f}s; see {self.logs}:\n{self.tail()}")

    def wait_idle(self, timeout: float, below_percent: float = 8.0, for_seconds: float = 2.0) -> float:
        """Wait until the process has used under ``below_percent`` of a core for ``for_seconds`` (its feeds caught up).

        Returns the seconds waited.
        """
        process = psutil.Process(self.pid)
        started = time.monotonic()
        quiet_since = None
        process.cpu_percent(None)
        while time.monotonic() - started < timeout:
            time.sleep(0.5)
            if process.cpu_percent(None) < below_percent:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= for_seconds:
                    break
            else:
                quiet_since = None
        return time.monotonic() - started

    def tail(self, lines: int = 30) -> str:
        """The end of the log, for error messages."""
        try:
            return "\n".join(self.logs.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL, as a crash: no graceful shutdown; only this process, by its pid."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        """SIGTERM (a graceful shutdown), then SIGKILL after 20 s; only this process, by its pid."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def run_worker(
    arguments: list[str], rss: PeakRss, name: str, on_line: Callable[[str], None] | None = None, timeout: float | None = None
) -> dict[str, Any]:
    """Run ``python -m tandem_bench.workers ...``, watching its memory (with the processes it starts, as a
    rebuild's replay and card workers); return its RESULT."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tandem_bench.workers", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    rss.watch(name, process.pid, with_children=True)
    errors: list[str] = []
    output: list[str] = []

    def relay_stderr() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            errors.append(line)
            if on_line and line.startswith(("rebuild:", "peer:")):
                on_line(line.rstrip())

    def collect_stdout() -> None:
        assert process.stdout is not None
        output.extend(process.stdout)

    readers = [threading.Thread(target=relay_stderr, daemon=True), threading.Thread(target=collect_stdout, daemon=True)]
    for reader in readers:
        reader.start()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise RuntimeError(f"worker {name} did not finish within {timeout:.0f}s") from None
    for reader in readers:
        reader.join(timeout=5)
    out = "".join(output)
    results = [line[len("RESULT ") :] for line in out.splitlines() if line.startswith("RESULT ")]
    if process.returncode != 0 or not results:
        raise RuntimeError(f"worker {name} failed ({process.returncode}):\n{''.join(errors[-40:])}")
    return json.loads(results[-1])
