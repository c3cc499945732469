"""Read-your-writes waiters: woken by an applied batch that holds an event of their goal, and no other."""

from __future__ import annotations

import asyncio

from tandem_contracts.envelope import Headline
from tandem_projections.read_your_writes import GoalWaiters
from tandem_runtime.projection import Delivery


def goal_event(tenant: str, goal_id: str, offset: int = 0) -> Delivery:
    headline = Headline(f"event-{offset}", "tandem.goal.revised.v1", f"goals/{goal_id}", tenant, 2)
    return Delivery("tandem.goals.v1", 0, offset, headline, {"tenant_id": tenant, "goal_id": goal_id, "version": 2})


def directory_event(tenant: str) -> Delivery:
    headline = Headline("event-d", "tandem.directory.employee_upserted.v1", "employees/e-1", tenant, None)
    return Delivery("tandem.directory.v1", 0, 9, headline, {"tenant_id": tenant, "employee_id": "e-1"})


async def test_a_waiter_wakes_for_a_batch_with_its_goal_and_for_no_other():
    waiters = GoalWaiters()
    with waiters.watching("acme", "g-1") as applied, waiters.watching("acme", "g-2") as other:
        waiters.batch_applied([goal_event("globex", "g-1"), goal_event("acme", "g-9"), directory_event("acme")])
        await asyncio.sleep(0)
        assert not applied.done() and not other.done()
        assert waiters.waiting == 2

        waiters.batch_applied([directory_event("acme"), goal_event("acme", "g-1", 1)])
        await asyncio.wait_for(applied, 1)
        assert not other.done()
    assert waiters.waiting == 0


async def test_a_waiter_that_gave_up_is_forgotten_and_a_later_batch_passes_it_by():
    waiters = GoalWaiters()
    with waiters.watching("acme", "g-1") as applied:
        try:
            await asyncio.wait_for(applied, 0.01)
        except TimeoutError:
            pass
    assert waiters.waiting == 0
    waiters.batch_applied([goal_event("acme", "g-1")])  # nobody waits: nothing to wake, nothing raised
    assert applied.cancelled()
