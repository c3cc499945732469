"""Every service's OpenAPI, fuzzed against the services as processes: no answer is a server error, and every
answer (its status, content type, headers and body) is one the document declares.

Valid and invalid requests are generated from each service's own OpenAPI, derandomised so a run is the same
every time; most ids are unknown, so most reads answer 404, which is checked like any other answer. Every
distinct failure is collected, each with a request that reproduces it, rather than stopping at the first.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import SERVICES, ServiceProcesses, service_processes

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
EXAMPLES = 60  # per operation and mode: the whole layer stays within about three minutes on two cores
SEEDED_EXAMPLES = 10  # per operation whose path names only seeded objects
LONGEST_WAIT = 0.05  # seconds a fuzzed read-your-writes dashboard may wait for a goal that never comes
# A rebuild replays every topic of the shared broker in worker processes; its own tests cover it.
NOT_FUZZED = {("projections", "POST /v1/admin/rebuilds")}


@pytest.fixture(scope="module")
def fuzzed(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcesses]:
    """The four services as processes, shared by every service's fuzzing."""
    with service_processes(kafka_bootstrap, tmp_path_factory.mktemp("fuzzed")) as running:
        yield running


@pytest.fixture(scope="module")
def seeded(fuzzed: ServiceProcesses) -> dict[str, str]:
    """Path parameters that name real objects: an employee with a goal, projected onto the dashboards."""
    employee = f"fuzz-{uuid.uuid4().hex[:8]}"
    goals = fuzzed.urls["goals"]
    hired = httpx.put(f"{goals}/v1/directory/employees/{employee}", json={"display_name": "Fuzz Person"})
    assert hired.status_code == 202, hired.text
    goal = httpx.post(f"{goals}/v1/goals", json={
        "employee_id": employee, "kind": "performance", "cycle": "2026", "title": "Answer every ticket within an hour",
        "start_date": "2026-01-01", "due_date": "2026-12-31",
        "kpi": {"name": "first replies within an hour", "unit": "percent", "baseline": "50", "target": "90",
                "direction": "increase"},
    })
    assert goal.status_code == 201, goal.text
    dashboard = f"{fuzzed.urls['projections']}/v1/dashboards/alignment"
    deadline = time.monotonic() + 120  # a fresh projection first reads the topics' history
    while httpx.get(dashboard, params={"employee_id": employee}).status_code != 200:
        assert time.monotonic() < deadline, "the seeded employee never reached the dashboards"
        time.sleep(0.1)
    return {"employee_id": employee, "goal_id": goal.json()["goal_id"]}


def bounded_waits(case: schemathesis.Case) -> None:
    """A dashboard that waits for a goal waits until its deadline for an unknown one: keep each such case short."""
    query = case.query or {}
    if "wait_for_goal" not in query:
        return
    try:
        wait = float(query.get("wait_seconds", math.inf))
    except (TypeError, ValueError):
        return  # an invalid wait is refused at once
    if LONGEST_WAIT < wait:
        query["wait_seconds"] = LONGEST_WAIT


@dataclass
class Findings:
    """What fuzzing an operation found: each distinct failure with a request that reproduces it, and the statuses."""

    failures: dict[str, str] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)


def fuzz(operation: schemathesis.APIOperation, mode: GenerationMode, examples: int = EXAMPLES,
         **fixed: Any) -> Findings:
    """Send ``operation`` generated requests (with ``fixed`` parts, such as ``path_parameters``) and check each answer."""
    findings = Findings()

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(mode, **fixed))
    def requests(case: schemathesis.Case) -> None:
        bounded_waits(case)
        response = case.call(timeout=30)
        findings.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (Failure, FailureGroup) as error:
            for failure in error.exceptions if isinstance(error, FailureGroup) else [error]:
                findings.failures.setdefault(f"{failure.title}: {failure.message.strip()[:300]}",
                                             case.as_curl_command())

    try:
        requests()
    except Unsatisfiable:
        # Only where every request is valid (no parameters, or unconstrained strings): none invalid to send.
        assert mode is GenerationMode.NEGATIVE, f"no valid request to {operation.label} could be generated"
    return findings


@pytest.mark.parametrize("service", SERVICES)
def test_no_answer_is_a_server_error_or_undocumented(fuzzed: ServiceProcesses, seeded: dict[str, str],
                                                     service: str) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzzed.urls[service]}/openapi.json", config=SchemathesisConfig())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, f"{service} documents no operation"
    report, seeded_statuses = [], Counter[int]()
    for operation in operations:
        if (service, operation.label) in NOT_FUZZED:
            continue
        runs = {mode.value: fuzz(operation, mode) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)}
        names = {parameter.name for parameter in operation.path_parameters}
        if names and names <= seeded.keys():
            runs["seeded"] = fuzz(operation, GenerationMode.POSITIVE, SEEDED_EXAMPLES,
                                  path_parameters={name: seeded[name] for name in names})
            seeded_statuses += runs["seeded"].statuses
        report += [f"{operation.label} ({run}) {failure}\n    {reproduction}"
                   for run, findings in runs.items() for failure, reproduction in findings.failures.items()]
    assert not report, f"{len(report)} failures:\n" + "\n".join(report) + server_errors(fuzzed.folder / f"{service}.log")
    assert not seeded_statuses or any(200 <= status < 300 for status in seeded_statuses), (
        f"no request naming the seeded objects succeeded, so no document of theirs was checked: {seeded_statuses}")


def server_errors(log: Path) -> str:
    """Where each distinct traceback the service logged ends: the line that raised, and the error."""
    found = re.findall(r"Traceback \(most recent call last\):\n(?:[ \t].*\n)*?((?:  File .*\n)(?:    .*\n)*)(\S.*)",
                       log.read_text(errors="replace"))
    ends = dict.fromkeys(f"{frame.strip()}\n    {error}" for frame, error in found)
    return "".join(f"\n{log.name}: {end}" for end in ends)
