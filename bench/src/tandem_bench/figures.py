"""The seven figures, measured in one run against one broker and one synthetic tenant.

1. limits: raw aiokafka produce (acks=all, idempotent) and consume (batched, no processing) of the events;
2. peer: a naive FastStream projection (one message per call, one commit per message), time-boxed;
3. ours: the projections service's rebuild from offset 0, on SQLite and on PostgreSQL, with ratios;
4. write path: commands/s through the goals and check-ins APIs, against a no-op FastAPI app; bulk cascade;
5. freshness: command accepted → visible in the dashboard, at a steady 500 commands/s;
6. queries: a manager's dashboard (1,000 reports) and the tenant roll-up, p50/p99;
7. memory: the peak RSS of every process involved.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import psutil
import psycopg

from tandem_bench.http_load import Connection, LoadResult, build_request, closed_loop, open_loop, percentile, run_client
from tandem_bench.kafka_io import LocalKafka, consume_all, events_on, produce, wait_for_events
from tandem_bench.processes import BIN, PeakRss, ServiceProcess, run_worker
from tandem_bench.report import Report, Row, machine_info
from tandem_bench.synthetic_org import Employee, Org, build_org, generate_events
from tandem_runtime.local_postgres import ThrowawayPostgres, postgres_bindir
from tandem_runtime.loopback import free_ports
from tandem_runtime.topics import CHECKINS, GOALS

FIGURES = ("limits", "peer", "ours", "write", "freshness", "queries", "memory")
TEN_MILLION = 10_000_000


@dataclass(frozen=True)
class Size:
    """How big a run is, and how long each timed part lasts."""

    name: str
    employees: int
    peer_seconds: float
    write_seconds: float
    write_connections: int
    freshness_seconds: float
    freshness_rate: int
    freshness_sample_every: int
    cascade_employees: int
    cascade_runs: int
    query_repeats: int
    rollup_repeats: int
    settle_timeout: float


SIZES = {
    # About 0.7 million events; the whole run, broker start included, fits in 10 minutes on 2 cores.
    "moderate": Size("moderate", 7_000, 20, 12, 32, 20, 500, 10, 5_000, 2, 200, 50, 240),
    # The design's case: 100,000 employees, about 10 million events.
    "large": Size("large", 100_000, 60, 30, 32, 60, 500, 25, 10_000, 3, 500, 100, 1_800),
}


WAIT_SECONDS = 30
WAITING = (f"each sample one dashboard request that waits (wait_for_goal, at most {WAIT_SECONDS} s) until the read model"
           " holds the goal")


def postgres_settings() -> dict[str, str]:
    """The rebuild's PostgreSQL server, sized as a production server on this machine would be: a quarter of
    the memory for its shared buffers (at most 8 GB), and room between checkpoints for a bulk load's log.

    With the defaults (128 MB, 1 GB), the large rebuild's check-ins and their 2 GB key did not fit: rows added
    read pages of the key back from the operating system (1.6 million reads) and backends wrote changed pages
    out themselves, between 78 checkpoints the log forced. Its server CPU was 203–249 s in two runs, and
    169–226 s in two runs with 4 GB and 8 GB (whole rebuild 289–314 s against 260–288 s)."""
    quarter = psutil.virtual_memory().total // 4 >> 20
    return {"shared_buffers": f"{min(quarter, 8192)}MB", "max_wal_size": "8GB"}


class Bench:
    """One benchmark run: starts what it needs, measures, reports, and stops what it started."""

    def __init__(self, size: Size, *, seed: int, only: set[str], results: Path, profile: bool = False, keep: bool = False) -> None:
        self.size = size
        self.seed = seed
        self.only = only
        self.results = results
        self.profile = profile
        self.keep = keep
        self.tenant = "bench"
        self.work = Path(tempfile.mkdtemp(prefix="tandem-bench-"))
        self.report = Report(size.name, {"size": asdict(size), "employees": size.employees, "seed": seed, "figures": sorted(only), "tenant": self.tenant})
        self.rss = PeakRss()
        self.kafka = LocalKafka()
        self.postgres: ThrowawayPostgres | None = None
        self.services: dict[str, ServiceProcess] = {}
        self.read_model_url: str | None = None
        self.org: Org | None = None
        self._active: list[Employee] | None = None
        self.bootstrap = ""

    # --- the run ------------------------------------------------------------------------------------------

    def run(self) -> int:
        """Measure the selected figures; write the results even if a part fails. Returns an exit status."""
        started = time.perf_counter()
        status = 0
        machine = machine_info()  # before the run loads the machine
        self.rss.start()
        self.rss.watch("bench (generator, raw clients, load generator)", os.getpid())
        try:
            self._start_broker()
            self._load_topics()
            if "limits" in self.only:
                self._consume()
            if "peer" in self.only:
                self._peer()
            if "ours" in self.only:
                self._ours()
            if self.only & {"queries", "write", "freshness"}:
                self._start_services()
                if "queries" in self.only:
                    self._queries()
                if "write" in self.only:
                    self._write_path()
                if "freshness" in self.only:
                    self._freshness()
        except KeyboardInterrupt:
            self.report.say("interrupted: stopping what was started and writing what was measured")
            status = 130
        except Exception as error:  # noqa: BLE001 - a failed part must still stop the broker and write the results
            self.report.say(f"stopped early: {type(error).__name__}: {error}")
            traceback.print_exc()
            status = 1
        finally:
            self._stop_everything()
            peaks = self.rss.stop()
            if "memory" in self.only:
                self._memory(peaks)
            json_path, md_path = self.report.write(self.results, machine, time.perf_counter() - started)
            print()
            print(md_path.read_text())
            print(f"results: {json_path} and {md_path}")
            if not self.keep:
                shutil.rmtree(self.work, ignore_errors=True)
        return status

    def _stop_everything(self) -> None:
        for service in self.services.values():
            try:
                service.stop()
            except OSError as error:
                self.report.say(f"could not stop {service.name}: {error}")
        self._stop_postgres()
        self.kafka.stop()

    def _stop_postgres(self) -> None:
        if self.postgres is not None:
            try:
                self.postgres.stop()
            except RuntimeError as error:
                self.report.say(f"could not stop PostgreSQL: {error}")
            self.postgres = None

    def _start_broker(self) -> None:
        self.report.say("starting Kafka" if not self.kafka.given else f"using the cluster at {self.kafka.given}")
        self.bootstrap = self.kafka.start()
        if self.kafka.pid:
            self.rss.watch("kafka broker (JVM)", self.kafka.pid)
            self.report.say(f"Kafka ready at {self.bootstrap} in {self.kafka.seconds_to_start:.1f} s")

    # --- 1. limits ----------------------------------------------------------------------------------------

    def _load_topics(self) -> None:
        size = self.size
        self.org = org = build_org(size.employees, seed=self.seed, tenant_id=self.tenant)
        already = asyncio.run(events_on(self.bootstrap))
        if already:
            self.report.say(f"the topics already hold {already:,} events: every figure covers those too")
        self.report.say(
            f"generating the year of {size.employees:,} employees (depth {org.depth}, {len(org.spans()):,} managers, "
            f"{len(org.departments())} departments) straight to the topics"
        )
        stats: Counter[str] = Counter()
        last = [time.perf_counter()]

        def progress(done: int) -> None:
            if time.perf_counter() - last[0] >= 10:
                last[0] = time.perf_counter()
                self.report.say(f"produced {done:,} events")

        produced = asyncio.run(produce(self.bootstrap, generate_events(org, stats), progress=progress))
        self.report.config["events"] = already + produced.events
        self.report.config["event_types"] = dict(stats.most_common())
        self.report.config["events_per_employee"] = round(produced.events / size.employees, 1)
        generating = produced.wall_seconds - produced.send_seconds
        if "limits" in self.only:
            self.report.add(Row(
                "limits.produce", "1. limits", "raw aiokafka produce (acks=all, idempotent, many in flight)",
                produced.events / produced.send_seconds, "events/s",
                notes=f"{produced.events:,} events, {produced.bytes / produced.send_seconds / 1e6:.1f} MB/s; "
                f"the generator alone makes {produced.events / generating:,.0f} events/s (not timed here)",
                details={"events": produced.events, "bytes": produced.bytes, "send_seconds": produced.send_seconds},
            ))

    def _settle(self) -> None:
        """Flush what earlier steps left for the disk (the topics just produced, the last store written), so
        that the kernel's writing it back does not land in the middle of the next timed figure."""
        began = time.perf_counter()
        os.sync()
        waited = time.perf_counter() - began
        if waited > 1:
            self.report.say(f"waited {waited:.1f} s for earlier writes to reach the disk")

    def _consume(self) -> None:
        self._settle()
        consumed = asyncio.run(consume_all(self.bootstrap))
        self.report.add(Row(
            "limits.consume", "1. limits", "raw aiokafka consume (getmany batches, no processing)",
            consumed.events / consumed.seconds, "events/s",
            notes=f"{consumed.events:,} events in {consumed.seconds:.1f} s, the runner's fetch sizes",
            details={"events": consumed.events, "seconds": consumed.seconds},
        ))

    # --- 2. the naive peer --------------------------------------------------------------------------------

    def _peer(self) -> None:
        self._settle()
        self.report.say(f"naive FastStream projection for {self.size.peer_seconds:.0f} s")
        result = run_worker(
            ["peer", "--bootstrap", self.bootstrap, "--database", str(self.work / "naive-peer.db"),
             "--seconds", str(self.size.peer_seconds), "--limit", str(self.report.config["events"])],
            self.rss, "naive peer (FastStream, SQLite)", timeout=self.size.peer_seconds + 180,
        )
        rate = result["events"] / result["seconds"] if result["seconds"] else None
        self.report.add(Row(
            "peer.naive", "2. peer", "naive FastStream projection (one message per call, one commit each)", rate, "events/s",
            notes=f"time-boxed: the topics' first {result['events']:,} events in {result['seconds']:.0f} s, SQLite in WAL mode",
            details=result,
        ))

    # --- 3. ours ------------------------------------------------------------------------------------------

    def _ours(self) -> None:
        stores: list[tuple[str, str | None, str]] = [("sqlite", f"sqlite:///{self.work / 'read-model.db'}", "")]
        bindir = postgres_bindir()
        if bindir is None:
            stores.append(("postgresql", None, "PostgreSQL is not installed"))
        else:
            try:
                stores.append(("postgresql", self._postgres_database(bindir), ""))
            except (RuntimeError, OSError, psycopg.Error) as error:
                stores.append(("postgresql", None, f"the throwaway PostgreSQL cluster did not start: {error}"))
        consume, peer = self.report.get("limits.consume"), self.report.get("peer.naive")
        for store, url, missing in stores:
            name = f"rebuild on {'SQLite' if store == 'sqlite' else 'PostgreSQL'}"
            if url is None:
                self.report.add(Row(f"ours.{store}", "3. ours", name, None, "events/s", notes=missing))
                continue
            self._settle()
            self.report.say(f"projections {name}")
            arguments = ["rebuild", "--bootstrap", self.bootstrap, "--database-url", url]
            if self.profile:
                arguments += ["--profile", str(self.results / f"profile-rebuild-{store}-{self.size.name}.html")]
            result = run_worker(arguments, self.rss, f"projections {name}", on_line=self.report.say, timeout=3600)
            if not result.get("available"):
                self.report.add(Row(f"ours.{store}", "3. ours", name, None, "events/s", notes=result.get("reason", "")))
                continue
            if store == "sqlite":
                self.read_model_url = url
            rate = result["events"] / result["wall_seconds"]
            ratios, met = [], []
            if consume and consume.value:
                ratios.append(f"{rate / consume.value:.2f}× raw consume")
                met.append(rate >= 0.5 * consume.value)
            if peer and peer.value:
                ratios.append(f"{rate / peer.value:.1f}× naive peer")
                met.append(rate >= 10 * peer.value)
            self.report.add(Row(
                f"ours.{store}", "3. ours", name, rate, "events/s", ratio=", ".join(ratios),
                target="≥ 0.5× raw consume and ≥ 10× naive peer", met=all(met) if met else None,
                conditions_met=len(met) == 2,
                notes=f"{result['events']:,} events in {result['wall_seconds']:.1f} s"
                + (f" (replay {result['replay_seconds']:.1f} s, then cards {result['cards_seconds']:.1f} s)"
                   if "replay_seconds" in result else "")
                + ("" if store == "sqlite" else "; server settings " + ", ".join(
                    f"{name} = {value}" for name, value in postgres_settings().items()))
                + ("" if len(met) == 2 else "; run figures 1 and 2 too to judge the ratios"),
                details=result,
            ))
            projected = TEN_MILLION / rate
            self.report.add(Row(
                f"ours.{store}.ten_million", "3. ours", f"10 million events rebuilt ({'SQLite' if store == 'sqlite' else 'PostgreSQL'})",
                projected, "s", target="< 360 s on 2 cores", met=projected < 360,
                conditions_met=result["events"] >= 0.95 * TEN_MILLION and (os.cpu_count() or 0) <= 2,
                notes="measured" if result["events"] >= 0.95 * TEN_MILLION else f"projected from {result['events']:,} events at the measured rate",
            ))
        # Nothing after the rebuilds uses PostgreSQL: its buffer pool (a quarter of the memory) goes back now.
        self._stop_postgres()

    def _postgres_database(self, bindir: Path) -> str:
        """Start a throwaway cluster and make an empty database in it; return the database's URL."""
        self.postgres = ThrowawayPostgres(bindir, postgres_settings())
        self.postgres.start()
        postmaster = int((self.postgres.data / "postmaster.pid").read_text().split()[0])
        self.rss.watch("postgresql (all backends)", postmaster, with_children=True)
        with psycopg.connect(self.postgres.url, autocommit=True) as connection:
            connection.execute("CREATE DATABASE tandem_rebuild")
        return self.postgres.url.rsplit("/", 1)[0] + "/tandem_rebuild"

    # --- the services -------------------------------------------------------------------------------------

    def _start_services(self) -> None:
        group = f"tandem-bench-{uuid.uuid4().hex[:8]}"
        logs = self.work / "logs"
        store = self.read_model_url or f"sqlite:///{self.work / 'read-model-live.db'}"
        definitions = {
            "goals": ("TANDEM_GOALS_", {
                "TANDEM_GOALS_DATABASE_URL": f"sqlite:///{self.work / 'goals' / 'events.db'}",
                "TANDEM_GOALS_DIRECTORY_CONSUMER_GROUP": f"{group}.goals.directory",
                "TANDEM_GOALS_PLANNER_CONSUMER_GROUP": f"{group}.goals.planner",
                "TANDEM_GOALS_DEFAULT_TENANT": self.tenant,
            }),
            "checkins": ("TANDEM_CHECKINS_", {
                "TANDEM_CHECKINS_DATABASE_URL": f"sqlite:///{self.work / 'checkins' / 'events.db'}",
                "TANDEM_CHECKINS_GOALS_CONSUMER_GROUP": f"{group}.checkins.goals",
                "TANDEM_CHECKINS_DIRECTORY_CONSUMER_GROUP": f"{group}.checkins.directory",
                # The synthetic year's check-ins never went through this service: its sweep would flag them all.
                "TANDEM_CHECKINS_SWEEP_INTERVAL_SECONDS": "86400",
                "TANDEM_CHECKINS_DEFAULT_TENANT": self.tenant,
            }),
            "projections": ("TANDEM_PROJECTIONS_", {
                "TANDEM_PROJECTIONS_DATABASE_URL": store,
                "TANDEM_PROJECTIONS_CONSUMER_GROUP": f"{group}.projections",
                "TANDEM_PROJECTIONS_DEFAULT_TENANT": self.tenant,
            }),
        }
        self.report.say(f"starting goals, checkins and projections (read model: {'the rebuilt SQLite store' if self.read_model_url else 'a fresh store, consuming live'})")
        # Chosen together: a port chosen alone, while the service given the last one is still starting, can be
        # that same port.
        ports = free_ports(len(definitions))
        for (name, (prefix, environment)), port in zip(definitions.items(), ports, strict=True):
            service = ServiceProcess(name, [str(BIN / f"tandem-{name}")], prefix, logs / f"{name}.log", environment,
                                     port=port)
            service.start(self.bootstrap)
            self.services[name] = service
        for service in self.services.values():
            service.wait_ready(timeout=120)
            self.rss.watch(f"{service.name} service", service.pid)
        for service in self.services.values():
            waited = service.wait_idle(timeout=self.size.settle_timeout)
            self.report.say(f"{service.name} settled (its feeds caught up with the topics) after {waited:.0f} s")
        caught_up = self._wait_visible_marker(timeout=self.size.settle_timeout)
        self.report.say(f"projections shows a new goal after {caught_up:.1f} s: caught up")

    def _employees(self, salt: str) -> list[Employee]:
        """Everyone but the CEO still employed, in an order of their own for each use."""
        assert self.org is not None
        if self._active is None:
            self._active = [e for e in self.org.active() if e.level > 0]
        people = list(self._active)
        random.Random(f"{self.seed}:{salt}").shuffle(people)
        return people

    def _goal_body(self, employee_id: str, title: str, level: str = "individual") -> dict[str, Any]:
        year = date.today().year
        return {
            "employee_id": employee_id, "kind": "performance", "cycle": str(year), "title": title, "level": level,
            "start_date": f"{year}-01-01", "due_date": f"{year}-12-31",
            "kpi": {"name": "first-contact resolution", "unit": "percent", "baseline": "60", "target": "70", "direction": "increase"},
        }

    def _goal_requests(self, port: int, run: str, people: list[Employee]) -> Callable[[int], bytes]:
        def request(i: int) -> bytes:
            employee = people[i % len(people)]
            body = orjson.dumps(self._goal_body(employee.employee_id, f"Resolve more on first contact ({run} {i})"))
            headers = {"x-tenant-id": self.tenant, "x-actor-id": employee.employee_id, "idempotency-key": f"bench-{run}-{i}"}
            return build_request("POST", "/v1/goals", port, headers, body)

        return request

    def _wait_visible_marker(self, timeout: float) -> float:
        """Set a goal through the goals service and wait until the projections' dashboard shows it."""
        employee = self._employees("marker")[0].employee_id
        started = time.perf_counter()
        answer = httpx.post(
            f"{self.services['goals'].url}/v1/goals", json=self._goal_body(employee, f"Marker {uuid.uuid4().hex[:6]}"),
            headers={"X-Tenant-ID": self.tenant}, timeout=60,
        )
        answer.raise_for_status()
        goal_id = answer.json()["goal_id"]
        while (left := timeout - (time.perf_counter() - started)) > 0:
            shown = httpx.get(
                f"{self.services['projections'].url}/v1/dashboards/alignment", headers={"X-Tenant-ID": self.tenant},
                params={"employee_id": employee, "wait_for_goal": goal_id, "wait_seconds": min(WAIT_SECONDS, max(left, 0.1))},
                timeout=WAIT_SECONDS + 30,
            )
            if shown.status_code == 200 and goal_id in shown.text:
                return time.perf_counter() - started
            if shown.status_code != 200:
                time.sleep(0.2)  # answered at once: the service is not ready for this employee yet
        raise RuntimeError(f"the projections service did not show a new goal within {timeout:.0f} s")

    # --- 6. queries ---------------------------------------------------------------------------------------

    def _queries(self) -> None:
        assert self.org is not None
        port = self.services["projections"].port
        manager, team = self.org.manager_with_at_least(1_000)
        department, heads = self.org.departments().most_common(1)[0]
        employees = len(self.org.employees)
        asks = [
            ("queries.manager", f"dashboard of a manager ({team:,} reports)", {"manager_id": manager.employee_id},
             self.size.query_repeats, "p99 < 20 ms", 20.0, team >= 1_000, f"{manager.job_title} {manager.employee_id}, {team:,} transitive reports"),
            ("queries.tenant", f"tenant roll-up ({employees:,} employees)", {}, self.size.rollup_repeats, "p99 < 100 ms", 100.0,
             employees >= 100_000, f"{employees:,} employees" + ("" if employees >= 100_000 else "; the target is for 100,000 (SIZE=large)")),
            ("queries.department", f"department dashboard ({heads:,} people)", {"department": department}, self.size.query_repeats,
             "", None, True, department),
        ]
        for key, measure, query, repeats, target, limit, conditions, notes in asks:
            latencies, status, size = run_client(self._timed_gets(port, f"/v1/dashboards/alignment?{urlencode(query)}".rstrip("?"), repeats))
            if status != 200:
                self.report.add(Row(key, "6. queries", measure, None, "ms", notes=f"answered {status}: {size!r}"))
                continue
            p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
            details = {"p50": p50, "p95": percentile(latencies, 0.95), "p99": p99, "samples": len(latencies), "bytes": size}
            self.report.add(Row(f"{key}.p50", "6. queries", f"{measure} p50", p50, "ms", notes=f"{notes}; {size:,} bytes", details=details))
            self.report.add(Row(f"{key}.p99", "6. queries", f"{measure} p99", p99, "ms", target=target,
                                met=(p99 < limit) if limit is not None else None, conditions_met=conditions,
                                notes=f"{len(latencies)} sequential requests after 5 warm-ups"))

    async def _timed_gets(self, port: int, path: str, repeats: int, budget_seconds: float = 60) -> tuple[list[float], int, Any]:
        """Sequential GETs on one keep-alive connection; stops early after ``budget_seconds``."""
        request = build_request("GET", path, port, {"x-tenant-id": self.tenant})
        connection = await Connection.open(port)
        try:
            for _ in range(5):
                status, body = await connection.request(request)
                if status != 200:
                    return [], status, body[:300]
            latencies = []
            started = time.perf_counter()
            for _ in range(repeats):
                began = time.perf_counter()
                status, body = await connection.request(request)
                latencies.append((time.perf_counter() - began) * 1000)
                if time.perf_counter() - started > budget_seconds:
                    break
            return latencies, status, len(body)
        finally:
            connection.close()

    # --- 4. the write path --------------------------------------------------------------------------------

    def _write_path(self) -> None:
        noop = ServiceProcess("no-op FastAPI app", [sys.executable, "-m", "tandem_bench.noop_app"], "TANDEM_NOOP_",
                              self.work / "logs" / "noop.log")
        noop.start(self.bootstrap)
        self.services["noop"] = noop
        noop.wait_ready(timeout=60)
        self.rss.watch("no-op FastAPI app", noop.pid)
        seconds, connections = self.size.write_seconds, self.size.write_connections
        people = self._employees("write")
        goals, checkins = self.services["goals"], self.services["checkins"]

        def load(port: int, request: Callable[[int], bytes], on_answer: Callable[[int, int, bytes], None] | None = None) -> LoadResult:
            return run_client(closed_loop(port, request, connections=connections, seconds=seconds, on_answer=on_answer))

        baseline = load(noop.port, self._goal_requests(noop.port, "noop", people))
        self._load_row("write.noop.goals", "no-op FastAPI endpoint, goal bodies", baseline, None)
        before = asyncio.run(events_on(self.bootstrap, (GOALS,)))
        created: list[tuple[str, str]] = []

        def remember(i: int, status: int, body: bytes) -> None:
            if status == 201:
                answer = orjson.loads(body)
                created.append((answer["goal_id"], answer["employee_id"]))

        result = load(goals.port, self._goal_requests(goals.port, f"goals-{uuid.uuid4().hex[:6]}", people), remember)
        self._load_row("write.goals", "POST /v1/goals (set a goal) → event on Kafka", result, baseline)
        self._kafka_row("write.goals.kafka", "goals: load stopped → every accepted goal on Kafka", GOALS, before + result.ok + result.warm_up_ok)

        if not created:
            raise RuntimeError("the goals service accepted no goal; see its log")
        self._wait_known_to_checkins(created[-1][0])
        checkin_bodies = self._checkin_requests(created)
        baseline = load(noop.port, checkin_bodies(noop.port, "noop"))
        self._load_row("write.noop.checkins", "no-op FastAPI endpoint, check-in bodies", baseline, None)
        before = asyncio.run(events_on(self.bootstrap, (CHECKINS,)))
        result = load(checkins.port, checkin_bodies(checkins.port, f"checkins-{uuid.uuid4().hex[:6]}"))
        self._load_row("write.checkins", "POST /v1/check-ins (record a check-in) → event on Kafka", result, baseline)
        self._kafka_row("write.checkins.kafka", "check-ins: load stopped → every accepted check-in on Kafka", CHECKINS,
                        before + result.ok + result.warm_up_ok)
        self._cascade()

    def _load_row(self, key: str, measure: str, result: LoadResult, baseline: LoadResult | None) -> None:
        failed = {status: count for status, count in result.statuses.items() if not 200 <= status < 300}
        notes = (f"{self.size.write_connections} connections for {result.seconds:.0f} s, one asyncio client process; "
                 f"latency p50 {percentile(result.latencies_ms, 0.5):.1f} ms, p99 {percentile(result.latencies_ms, 0.99):.1f} ms")
        if failed or result.errors:
            notes += f"; refused or failed: {failed} {result.errors[:3]}"
        ratio = f"{result.rate / baseline.rate:.2f}× the no-op endpoint" if baseline and baseline.rate else ""
        self.report.add(Row(key, "4. write path", measure, result.rate, "commands/s", ratio=ratio, notes=notes,
                            details={"ok": result.ok, "statuses": dict(result.statuses), "seconds": result.seconds}))

    def _kafka_row(self, key: str, measure: str, topic: str, expected: int) -> None:
        waited = asyncio.run(wait_for_events(self.bootstrap, expected, timeout=180, topics=(topic,)))
        self.report.add(Row(key, "4. write path", measure, waited, "s",
                            notes="all there" if waited is not None else f"fewer than {expected:,} on {topic} after 180 s"))

    def _wait_known_to_checkins(self, goal_id: str, timeout: float = 180) -> None:
        url = f"{self.services['checkins'].url}/v1/goals/{goal_id}/check-in-schedule"
        deadline = time.perf_counter() + timeout
        while httpx.get(url, headers={"X-Tenant-ID": self.tenant}, timeout=30).status_code != 200:
            if time.perf_counter() > deadline:
                raise RuntimeError("the check-ins service never learnt the new goals from Kafka")
            time.sleep(0.2)

    def _checkin_requests(self, created: list[tuple[str, str]]) -> Callable[[int, str], Callable[[int], bytes]]:
        today = date.today().isoformat()

        def for_port(port: int, run: str) -> Callable[[int], bytes]:
            def request(i: int) -> bytes:
                goal_id, employee_id = created[i % len(created)]
                body = orjson.dumps({
                    "employee_id": employee_id, "held_on": today, "held_by": [employee_id],
                    "entries": [{"kind": "performance", "goal_id": goal_id, "kpi_value": f"{60 + i % 10}.5", "unit": "percent",
                                 "status": "on_track", "roadblocks": "", "resources_needed": ""}],
                })
                headers = {"x-tenant-id": self.tenant, "x-actor-id": employee_id, "idempotency-key": f"bench-{run}-{i}"}
                return build_request("POST", "/v1/check-ins", port, headers, body)

            return request

        return for_port

    def _cascade(self) -> None:
        assert self.org is not None
        goals = self.services["goals"]
        ceo = self.org.employees[0].employee_id
        people = [e.employee_id for e in self._employees("cascade")][: self.size.cascade_employees]
        runs = []
        for run in range(self.size.cascade_runs):
            # Each cascade starts on a quiet machine: the other services have digested the previous one's goals
            # (thousands of dashboard cards to recompute), as they would have between two real cascades.
            for service in self.services.values():
                service.wait_idle(timeout=self.size.settle_timeout)
            parent = httpx.post(f"{goals.url}/v1/goals", json=self._goal_body(ceo, f"Organisation goal {run}", "organisation"),
                                headers={"X-Tenant-ID": self.tenant, "X-Actor-ID": ceo}, timeout=60)
            parent.raise_for_status()
            body = {"parent_goal_id": parent.json()["goal_id"], "employee_ids": people,
                    "goal": {k: v for k, v in self._goal_body(ceo, f"Our part of organisation goal {run}").items() if k != "employee_id"}}
            before = asyncio.run(events_on(self.bootstrap, (GOALS,)))
            began = time.perf_counter()
            answer = httpx.post(f"{goals.url}/v1/goals:cascade", json=body,
                                headers={"X-Tenant-ID": self.tenant, "X-Actor-ID": ceo, "Idempotency-Key": f"bench-cascade-{uuid.uuid4().hex}"},
                                timeout=600)
            seconds = time.perf_counter() - began
            if answer.status_code != 201:
                self.report.add(Row("write.cascade", "4. write path", "bulk cascade", None, "goals/s",
                                    notes=f"answered {answer.status_code}: {answer.text[:300]}"))
                return
            count = answer.json()["count"]
            on_kafka = asyncio.run(wait_for_events(self.bootstrap, before + count, timeout=300))
            runs.append((count, seconds, on_kafka))
            self.report.say(f"cascade {run + 1}: {count:,} goals accepted in {seconds:.2f} s, all on Kafka "
                            + (f"{on_kafka:.1f} s later" if on_kafka is not None else "not within 300 s"))
        total, seconds = sum(r[0] for r in runs), sum(r[1] for r in runs)
        self.report.add(Row(
            "write.cascade", "4. write path", f"bulk cascade (POST /v1/goals:cascade to {len(people):,} employees)",
            total / seconds, "goals/s", target="≥ 10,000 goals/s", met=total / seconds >= 10_000,
            notes=f"{len(runs)} cascades, request → 201 with every goal stored; each run's goals/s: "
            + ", ".join(f"{c / s:,.0f}" for c, s, _ in runs),
            details={"runs": runs},
        ))
        waits = [r[2] for r in runs if r[2] is not None]
        self.report.add(Row("write.cascade.kafka", "4. write path", "cascade accepted → all its goals on Kafka",
                            max(waits) if waits else None, "s", notes="the slowest run"))

    # --- 5. freshness -------------------------------------------------------------------------------------
    # Each sample is one request that the projections service answers once its read model holds the goal
    # (read-your-writes: ``wait_for_goal``), timed to its answer. Polling instead asked the very service it
    # timed for a query every few milliseconds per sample; behind a lagging projection, hundreds of pollers
    # took its process from it and the lag fed on itself. A waiting request costs nothing until its goal's
    # batch is applied.

    def _freshness(self) -> None:
        # A new goal can show while other partitions still hold the write path's backlog (its cascades alone are
        # thousands of cards to refresh): freshness starts from idle services, not from a queue.
        idle = self._services_idle()
        waited = self._wait_visible_marker(timeout=self.size.settle_timeout)
        self.report.say(f"projections caught up with the write path (idle after {idle:.1f} s, a new goal shown {waited:.1f} s later)")
        offered = self.size.freshness_rate
        accepted = self._freshness_run("freshness", offered, self.size.freshness_seconds, "p99 < 100 ms at 500 commands/s")
        late = self.report.get("freshness.p99")
        if accepted < 0.95 * offered or late is None or late.value is None or late.value >= 100:
            # The goals service cannot take 500 commands/s here, or the projection cannot keep up with them on
            # the same two cores: measure freshness where they do too.
            closed = self.report.get("write.goals")
            sustainable = int((closed.value if closed and closed.value else accepted) / 3)
            if sustainable >= 10:
                self.report.say(f"the services are idle again after {self._services_idle():.1f} s")
                self._freshness_run("freshness.sustainable", sustainable, max(15.0, self.size.freshness_seconds / 2), "")

    def _services_idle(self) -> float:
        """Wait until every service has worked off what it was given; return the seconds waited."""
        return sum(service.wait_idle(timeout=self.size.settle_timeout) for service in self.services.values())

    def _freshness_run(self, key: str, rate: int, seconds: float, target: str) -> float:
        """Open-loop goal commands at ``rate``; for some, ask the dashboard to answer once it shows the goal.
        Returns accepted/s."""
        goals, projections = self.services["goals"], self.services["projections"]
        self.report.say(f"{rate} commands/s for {seconds:.0f} s, waiting on the dashboard for every {self.size.freshness_sample_every}th")
        people = self._employees(key)
        every = self.size.freshness_sample_every
        samples: list[float] = []
        unseen: list[str] = []
        idle: list[Connection] = []

        async def watch(i: int, answered: float, status: int, body: bytes) -> None:
            if status != 201 or i % every:
                return
            goal = orjson.loads(body)
            path = "/v1/dashboards/alignment?" + urlencode({
                "employee_id": people[i % len(people)].employee_id, "wait_for_goal": goal["goal_id"],
                "wait_for_version": goal["version"], "wait_seconds": WAIT_SECONDS,
            })
            request = build_request("GET", path, projections.port, {"x-tenant-id": self.tenant})
            try:
                connection = idle.pop() if idle else await Connection.open(projections.port)
                _, shown = await connection.request(request)
                idle.append(connection)
            except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                unseen.append(f"{type(error).__name__}: {error}")
                return
            if goal["goal_id"].encode() in shown:  # the answer itself is the proof, not its header
                samples.append((time.perf_counter() - answered) * 1000)
            else:
                unseen.append(f"not within {WAIT_SECONDS} s")

        run = f"{key}-{uuid.uuid4().hex[:6]}"
        ages_before = self._event_ages()
        result = run_client(open_loop(goals.port, self._goal_requests(goals.port, run, people), rate=rate, seconds=seconds, on_answer=watch))
        projection_share = self._event_age_percentiles(ages_before, self._event_ages())
        accepted = result.ok / seconds
        dropped = result.statuses.get(0, 0)
        steady = accepted >= 0.95 * rate and not dropped
        notes = (f"{len(samples)} of {result.ok:,} accepted commands sampled, {WAITING}; "
                 f"{accepted:,.0f} commands/s accepted of {rate} offered"
                 + (f", {dropped:,} not sent (every connection busy: the goals service is saturated)" if dropped else "")
                 + f"; command p99 {percentile(result.latencies_ms, 0.99):,.0f} ms from its scheduled time"
                 + (f"; {len(unseen)} samples not seen: {unseen[:2]}" if unseen else "")
                 + (f"; the projection's part (event published → applied, from its /metrics): {projection_share}"
                    if projection_share else ""))
        for share, label in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
            value = percentile(samples, share) if samples else None
            judged = label == "p99" and bool(target) and value is not None
            self.report.add(Row(
                f"{key}.{label}", "5. freshness", f"command accepted → visible in the dashboard at {rate}/s, {label}",
                value, "ms", target=target if label == "p99" else "", met=(value < 100) if judged else None,
                conditions_met=steady, notes=notes if label == "p99" else "",
                details={"accepted_per_second": accepted, "samples": len(samples), "statuses": dict(result.statuses)} if label == "p99" else {},
            ))
        return accepted

    def _event_ages(self) -> list[tuple[float, float]]:
        """The projections service's histogram of event ages at apply: (upper bound in s, cumulative count)."""
        text = httpx.get(f"{self.services['projections'].url}/metrics", timeout=30).text
        return [(float(bound), float(count)) for bound, count in
                re.findall(r'^tandem_projection_event_age_seconds_bucket\{le="([^"]+)"\} (\S+)$', text, re.MULTILINE)]

    @staticmethod
    def _event_age_percentiles(before: list[tuple[float, float]], after: list[tuple[float, float]]) -> str:
        """p50 and p99 of the events applied between two readings of the histogram, as bucket bounds."""
        counts = [(bound, count - earlier) for (bound, count), (_, earlier) in zip(after, before, strict=True)]
        if not counts or counts[-1][1] <= 0:
            return ""

        def bound_of(share: float) -> str:
            bound = next(bound for bound, count in counts if count >= share * counts[-1][1])
            return "over 60 s" if bound == float("inf") else f"≤ {bound * 1000:,.0f} ms"

        return f"p50 {bound_of(0.5)}, p99 {bound_of(0.99)} of {counts[-1][1]:,.0f} events"

    # --- 7. memory ----------------------------------------------------------------------------------------

    def _memory(self, peaks: dict[str, int]) -> None:
        for name, peak in peaks.items():
            self.report.add(Row(f"memory.{name.split(' (')[0].replace(' ', '_')}", "7. memory", f"peak RSS: {name}",
                                peak / 2**20, "MB", notes="sampled every 100 ms"))
