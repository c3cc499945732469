"""A throwaway PostgreSQL cluster on a free loopback port, for tests and benchmarks on one machine.

It needs the server binaries (Debian's ``postgresql`` package or any ``initdb`` on the PATH). As root it
runs the cluster as the ``postgres`` system user, because ``initdb`` refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from tandem_runtime.loopback import free_port


def postgres_bindir() -> Path | None:
    """The folder of the newest installed PostgreSQL server binaries, or None when there are none."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]), reverse=True)
    found = candidates[0] if candidates else shutil.which("initdb")
    return Path(found).parent if found else None


class ThrowawayPostgres:
    """A PostgreSQL cluster in a temporary directory, listening on 127.0.0.1 only."""

    def __init__(self, bindir: Path, settings: Mapping[str, str] | None = None) -> None:
        """``settings``: server settings on top of this cluster's own (e.g. ``{"shared_buffers": "4GB"}``)."""
        self.bindir = bindir
        self.settings = dict(settings or {})
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="tandem-pg-"))
        self.data = self.root / "data"
        # initdb refuses to run as root: run the cluster as the postgres system user instead.
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.run_as:
            self.root.chmod(0o755)
            postgres = pwd.getpwnam("postgres")
            os.chown(self.root, postgres.pw_uid, postgres.pw_gid)

    def _run(self, *args: str) -> None:
        result = subprocess.run([*self.run_as, *args], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            log = (self.root / "postgres.log").read_text() if (self.root / "postgres.log").exists() else ""
            raise RuntimeError(f"{args[0]} failed: {result.stdout}{result.stderr}{log}")

    def start(self) -> None:
        """Create the cluster and start the server; returns once it accepts connections."""
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            + "".join(f" -c {name}={value}" for name, value in self.settings.items())
        )
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "postgres.log"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        """Stop the server and delete the cluster's files."""
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    @property
    def url(self) -> str:
        """The URL of the cluster's ``postgres`` database, as the ``postgres`` superuser."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
