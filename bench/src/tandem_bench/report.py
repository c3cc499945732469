"""The benchmark's results: each figure printed as it is measured, then JSON and a markdown table."""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from tandem_bench.kafka_io import REPO, kafka_version
from tandem_runtime.local_postgres import postgres_bindir


@dataclass
class Row:
    """One measured figure. ``met`` is None where the run has no target for it, or could not measure it.

    ``conditions_met`` is False when the target names conditions this run did not have (e.g. a moderate
    run has no 100,000-employee tenant); the value is still reported, with the conditions in ``notes``.
    """

    key: str
    figure: str
    measure: str
    value: float | None
    unit: str
    ratio: str = ""
    target: str = ""
    met: bool | None = None
    conditions_met: bool = True
    notes: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        """The row as one printed line."""
        parts = [f"[{self.figure}] {self.measure}: {format_value(self.value, self.unit)}"]
        if self.ratio:
            parts.append(f"({self.ratio})")
        if self.target:
            parts.append(f"target {self.target}: {verdict(self)}")
        if self.notes:
            parts.append(f"- {self.notes}")
        return " ".join(parts)


def format_value(value: float | None, unit: str) -> str:
    """A value as printed: thousands separated, ms and s to one decimal."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not available"
    if unit in ("ms",):
        return f"{value:,.1f} {unit}"
    if unit in ("s",):
        return f"{value:,.1f} {unit}"
    if unit in ("MB",):
        return f"{value:,.0f} {unit}"
    return f"{value:,.0f} {unit}"


def verdict(row: Row) -> str:
    """met, MISSED, or not judged; marked when the run did not have the target's conditions."""
    if row.met is None:
        return "not judged"
    text = "met" if row.met else "MISSED"
    return text if row.conditions_met else f"{text} (other conditions, see notes)"


class Report:
    """Collects rows, printing each as it arrives, and writes the run's JSON and markdown."""

    def __init__(self, size: str, config: dict[str, Any]) -> None:
        self.size = size
        self.config = config
        self.rows: list[Row] = []
        self.started = datetime.now(UTC)
        self.log: list[str] = []

    def add(self, row: Row) -> Row:
        """Keep the row and print it now."""
        self.rows.append(row)
        print(row.line(), flush=True)
        return row

    def say(self, text: str) -> None:
        """A progress line: printed, kept in the JSON."""
        stamped = f"{datetime.now(UTC):%H:%M:%S} {text}"
        self.log.append(stamped)
        print(f"  {stamped}", flush=True)

    def get(self, key: str) -> Row | None:
        """The row measured under ``key``, if any."""
        return next((row for row in self.rows if row.key == key), None)

    def write(self, directory: Path, machine: dict[str, Any], seconds: float) -> tuple[Path, Path]:
        """Write ``<size>-<UTC stamp>.json/.md`` and ``latest-<size>.json/.md``; return the dated pair."""
        directory.mkdir(parents=True, exist_ok=True)
        stem = f"{self.size}-{self.started:%Y%m%dT%H%M%SZ}"
        document = {
            "size": self.size,
            "started": self.started.isoformat(),
            "seconds": round(seconds, 1),
            "config": self.config,
            "machine": machine,
            "rows": [asdict(row) for row in self.rows],
            "log": self.log,
        }
        json_path, md_path = directory / f"{stem}.json", directory / f"{stem}.md"
        json_path.write_text(json.dumps(document, indent=2, default=str) + "\n")
        md_path.write_text(self.markdown(machine, seconds))
        shutil.copyfile(json_path, directory / f"latest-{self.size}.json")
        shutil.copyfile(md_path, directory / f"latest-{self.size}.md")
        return json_path, md_path

    def markdown(self, machine: dict[str, Any], seconds: float) -> str:
        """The run as a markdown table, in figure order."""
        lines = [
            f"# Tandem benchmark: {self.size}, {self.started:%Y-%m-%d %H:%M} UTC",
            "",
            (
                f"{self.config.get('employees', '?'):,} employees, {self.config.get('events', 0):,} events on the topics, "
                f"seed {self.config.get('seed')}; whole run {seconds / 60:.1f} min. "
                f"{machine['cpu']['logical']} logical cores ({machine['cpu']['model']}), "
                f"{machine['memory_gb']} GB, load average {_load(machine['load_average_at_start'])} at the start "
                "(the machine is shared), "
                f"Python {machine['python']}, Kafka {machine['kafka']}, "
                f"PostgreSQL {machine['postgresql']}, SQLite {machine['sqlite']}."
            ),
            "",
            "| figure | measure | value | unit | ratio | target | met | notes |",
            "|---|---|---:|---|---|---|---|---|",
        ]
        for row in sorted(self.rows, key=lambda r: r.figure.split(".")[0].zfill(2)):
            value = format_value(row.value, row.unit).rsplit(" ", 1)[0] if row.value is not None else "not available"
            lines.append(
                f"| {row.figure} | {row.measure} | {value} | {row.unit} | {row.ratio} | {row.target} | "
                f"{verdict(row) if row.target else ''} | {row.notes} |"
            )
        return "\n".join(lines) + "\n"


def _load(averages: Any) -> str:
    return " / ".join(f"{value:.2f}" for value in averages) if averages else "unknown"


def machine_info() -> dict[str, Any]:
    """The machine and software the figures were measured on."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": {"logical": os.cpu_count(), "physical": psutil.cpu_count(logical=False), "model": model,
                "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None},
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "kafka": kafka_version(),
        "postgresql": _postgres_version(),
        "sqlite": sqlite3.sqlite_version,
        "java": _first_line(["java", "-version"]),
        "packages": {name: _version(name) for name in ("aiokafka", "faststream", "fastapi", "uvicorn", "pydantic", "psycopg", "eventsourcing", "orjson", "httpx")},
        "commit": _first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]),
        "uncommitted_changes": bool(_first_line(["git", "-C", str(REPO), "status", "--porcelain"])),
        "argv": sys.argv,
    }


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _postgres_version() -> str | None:
    bindir = postgres_bindir()
    return _first_line([str(bindir / "postgres"), "--version"]) if bindir else None


def _first_line(command: list[str]) -> str | None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (result.stdout or result.stderr).strip()
    return text.splitlines()[0] if text else None
