"""The fault matrix, small: every service and the broker crashed once under load, then the guarantees checked."""

from __future__ import annotations

import pytest

from tandem_bench.chaos import FAULTS, ChaosSettings, run, summary


@pytest.mark.timeout(420)
def test_a_crash_of_any_service_or_the_broker_loses_no_command_and_the_read_model_still_equals_a_rebuild(tmp_path):
    findings = run(ChaosSettings(employees=30, weeks=3, work=tmp_path))
    print(summary(findings))

    assert findings.failures == [], summary(findings)
    assert [w.target for w in findings.windows] == [f.target for f in FAULTS], "every fault struck once"
    assert sum(findings.transport_errors.values()) > 0, "the load reached the services while they were down"
    assert findings.events["tandem.goal.set.v1"] > 0 and findings.events["tandem.review.completed.v1"] > 0
    assert findings.reactions > 0, "reviews planned draft goals and the goals service set them"
    assert findings.resent > 0
